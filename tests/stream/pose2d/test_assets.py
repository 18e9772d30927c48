"""Known weights and the downloader, against a real HTTP server on 127.0.0.1."""
import hashlib
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest
from typer.testing import CliRunner

from nets.assets import AssetError
from nets.joints import JOINT_SETS
from stream.pose2d.assets import (ASSETS, BASE_URL_ENV, Asset, DownloadError, HashMismatchError, UnknownAssetError,
                           asset_path, fetch_asset, get_asset_file, resolve_asset)
from stream.cli.app import app

PAYLOAD = np.random.default_rng(0).integers(0, 256, 300_000, dtype=np.uint8).tobytes()
SHA = hashlib.sha256(PAYLOAD).hexdigest()
FILENAME = f"test-weights-{SHA[:8]}_20240101.pth"


class _Handler(BaseHTTPRequestHandler):
    """Serves ``server.files``; honours ``Range: bytes=N-``; ``server.cut`` stops a body after that many bytes."""

    def do_GET(self):
        self.server.requests.append((self.path, self.headers.get("Range")))
        data = self.server.files.get(self.path.lstrip("/"))
        if data is None:
            self.send_error(404, "Not Found")
            return
        start = int(re.match(r"bytes=(\d+)-", self.headers["Range"]).group(1)) if self.headers.get("Range") else 0
        body = data[start:]
        self.send_response(206 if start else 200)
        if start:
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body[:self.server.cut] if self.server.cut else body)

    def log_message(self, *args):
        pass


@pytest.fixture()
def server():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    httpd.files, httpd.requests, httpd.cut = {FILENAME: PAYLOAD}, [], None
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    httpd.base = f"http://127.0.0.1:{httpd.server_address[1]}/"
    yield httpd
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture()
def test_asset(monkeypatch, server):
    monkeypatch.setitem(ASSETS, "test-asset", Asset(FILENAME, SHA, "coco17", (640, 640), "none.py"))
    monkeypatch.setenv(BASE_URL_ENV, server.base)
    return "test-asset"


def test_known_checkpoints_are_consistent():
    sizes = {n.split("_")[0] for n in ASSETS}
    assert {"rtmo-s", "rtmo-m", "rtmo-l"} <= sizes
    assert {a.joint_set for a in ASSETS.values()} == {"coco17", "crowdpose14"}
    for name, asset in ASSETS.items():
        prefix = re.search(r"-([0-9a-f]{8})_(\d{8})\.pth$", asset.filename).group(1)
        assert asset.sha256.startswith(prefix) and len(asset.sha256) in (8, 64), name
        assert asset.joint_set in JOINT_SETS and asset.input_size == (640, 640)
        assert asset.url().startswith("https://download.openmmlab.com/mmpose/v1/projects/rtmo/")
        assert ("crowdpose" in name) == (asset.joint_set == "crowdpose14")


def test_download_verifies_and_is_not_repeated(test_asset, server, tmp_path):
    path = fetch_asset(test_asset, tmp_path, progress=False)
    assert path == tmp_path / "weights" / FILENAME and path.read_bytes() == PAYLOAD
    assert not list(path.parent.glob("*.part"))
    again = fetch_asset(test_asset, tmp_path, progress=False)
    assert again == path and len(server.requests) == 1


def test_prefix_only_hash_is_enough(monkeypatch, server, tmp_path):
    monkeypatch.setitem(ASSETS, "prefix", Asset(FILENAME, SHA[:8], "coco17", (640, 640), "none.py"))
    path = get_asset_file("prefix", tmp_path, base_url=server.base, progress=False)
    assert path.read_bytes() == PAYLOAD


def test_hash_mismatch_keeps_nothing(monkeypatch, server, tmp_path):
    wrong = "0" * 64
    monkeypatch.setitem(ASSETS, "wrong", Asset(FILENAME, wrong, "coco17", (640, 640), "none.py"))
    with pytest.raises(HashMismatchError, match=f"sha256 is {SHA}, expected one starting with {wrong}"):
        get_asset_file("wrong", tmp_path, base_url=server.base, progress=False)
    assert list((tmp_path / "weights").iterdir()) == []


def test_http_404_names_the_url(monkeypatch, server, tmp_path):
    monkeypatch.setitem(ASSETS, "gone", Asset("gone-12345678_20240101.pth", "12345678", "coco17", (640, 640), "x"))
    with pytest.raises(DownloadError, match=r"gone-12345678_20240101\.pth failed: HTTP 404"):
        get_asset_file("gone", tmp_path, base_url=server.base, progress=False)
    assert list((tmp_path / "weights").iterdir()) == []


def test_interrupted_download_resumes(test_asset, server, tmp_path):
    server.cut = 100_000
    with pytest.raises(DownloadError, match="stopped after 100000 of 300000 bytes"):
        fetch_asset(test_asset, tmp_path, progress=False)
    part = tmp_path / "weights" / (FILENAME + ".part")
    assert part.stat().st_size == 100_000
    server.cut = None
    path = fetch_asset(test_asset, tmp_path, progress=False)
    assert path.read_bytes() == PAYLOAD and not part.exists()
    assert server.requests[-1] == ("/" + FILENAME, "bytes=100000-")


def test_damaged_present_file_is_replaced(test_asset, server, tmp_path):
    dest = tmp_path / "weights" / FILENAME
    dest.parent.mkdir()
    dest.write_bytes(b"damaged")
    assert fetch_asset(test_asset, tmp_path, progress=False).read_bytes() == PAYLOAD
    assert len(server.requests) == 1


def test_url_of_a_known_file_is_verified(test_asset, server, tmp_path):
    path = fetch_asset(server.base + FILENAME, tmp_path, progress=False)
    assert path == tmp_path / "weights" / FILENAME and path.read_bytes() == PAYLOAD


def test_local_paths(test_asset, tmp_path):
    good = tmp_path / "elsewhere" / FILENAME
    good.parent.mkdir()
    good.write_bytes(PAYLOAD)
    assert fetch_asset(good, tmp_path / "home") == good
    bad = tmp_path / FILENAME
    bad.write_bytes(PAYLOAD[:-1])
    with pytest.raises(HashMismatchError, match=str(bad)):
        fetch_asset(bad, tmp_path / "home")
    other = tmp_path / "my_rtmo.pth"
    other.write_bytes(b"anything")
    assert fetch_asset(other, tmp_path / "home") == other
    with pytest.raises(UnknownAssetError, match="neither a known asset"):
        fetch_asset(tmp_path / "nope.pth", tmp_path / "home")


def test_get_from_a_local_file_copies_it(test_asset, tmp_path):
    src = tmp_path / "downloaded.pth"
    src.write_bytes(PAYLOAD)
    path = get_asset_file(test_asset, tmp_path / "home", source=src)
    assert path == asset_path(test_asset, tmp_path / "home") and path.read_bytes() == PAYLOAD


def test_missing_weights_name_the_command(tmp_path):
    with pytest.raises(AssetError) as err:
        resolve_asset("rtmo-l_crowdpose", tmp_path)
    msg = str(err.value)
    assert ASSETS["rtmo-l_crowdpose"].filename in msg and "stream assets get rtmo-l_crowdpose" in msg
    with pytest.raises(AssetError, match="stream assets get rtmo-s_body7"):
        resolve_asset(tmp_path / ASSETS["rtmo-s_body7"].filename, tmp_path)


def test_cli_get_and_list(test_asset, server, tmp_path, monkeypatch):
    monkeypatch.setenv("CROWDMESH_HOME", str(tmp_path))
    runner = CliRunner()
    res = runner.invoke(app, ["assets"])
    assert res.exit_code == 0 and re.search(r"test-asset .* missing", res.output)
    res = runner.invoke(app, ["assets", "get", test_asset])
    assert res.exit_code == 0, res.output
    assert (tmp_path / "weights" / FILENAME).read_bytes() == PAYLOAD
    res = runner.invoke(app, ["assets", "--verify"])
    assert res.exit_code == 0 and re.search(r"test-asset .* verified", res.output)


def test_cli_errors_exit_2(test_asset, server, tmp_path, monkeypatch):
    monkeypatch.setenv("CROWDMESH_HOME", str(tmp_path))
    runner = CliRunner()
    res = runner.invoke(app, ["assets", "get", "rtmo-xl"])
    assert res.exit_code == 2 and "unknown asset 'rtmo-xl'" in res.output and "rtmo-l_body7" in res.output
    res = runner.invoke(app, ["assets", "get", test_asset, "--from", server.base + "missing.pth"])
    assert res.exit_code == 2 and "HTTP 404" in res.output
