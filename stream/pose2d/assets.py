"""Known downloadable weights (mmpose's RTMO checkpoints) and a verified, resumable downloader.

``stream assets`` lists them, ``stream assets get NAME`` fetches one into ``crowdmesh_home()/weights``::

    path = fetch_asset("rtmo-l_body7")          # downloads once, verifies, returns the local file
    path = resolve_asset("rtmo-l_body7")        # never downloads: the file, or an error naming the command
    path = fetch_asset("/data/rtmo-l.pth")      # a local file is accepted (verified if its name is known)

Hashes: mmpose publishes checkpoints with ``tools/misc/publish_model.py``, which names the file
``<stem>-<first 8 hex of its sha256>_<date>.pth``. For most checkpoints that 8-hex prefix is all
that is published, so a download is verified by checking that its sha256 *starts with* the stored
value; where the full 64-hex digest is documented somewhere (sources above ``ASSETS``), it is stored
and checked in full. All four full digests found begin with their file name's 8 hex digits.
"""
from __future__ import annotations

import hashlib
import http.client
import logging
import os
import shutil
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

from nets.assets import AssetError, AssetFormatError, crowdmesh_home
from stream.progress import progress_bar

log = logging.getLogger(__name__)

RTMO_BASE_URL = "https://download.openmmlab.com/mmpose/v1/projects/rtmo/"
BASE_URL_ENV = "CROWDMESH_ASSET_BASE_URL"  # replaces every asset's base URL (a mirror, or a test server)
CHUNK = 1 << 20


def weights_dir(home=None) -> Path:
    """The folder downloaded weights go to: ``<home>/weights``."""
    return Path(home if home is not None else crowdmesh_home()) / "weights"


@dataclass(frozen=True)
class Asset:
    """One downloadable file. ``sha256`` is the full hex digest or a published prefix of it."""
    filename: str
    sha256: str
    joint_set: str                 # nets.joints name of the model's keypoints
    input_size: tuple[int, int]    # network input, width x height
    mmpose_config: str             # config path inside mmpose's configs/ folder
    base_url: str = RTMO_BASE_URL
    note: str = ""

    def url(self, base_url: str | None = None) -> str:
        base = base_url or os.environ.get(BASE_URL_ENV) or self.base_url
        return base.rstrip("/") + "/" + self.filename


_CFG = "body_2d_keypoint/rtmo/"
# Sources: mmpose configs/body_2d_keypoint/rtmo/{body7,coco,crowdpose}/rtmo_*.md and projects/rtmo/README.md
# (commit 0a903ce). Full digests: rtmo-l_coco from InterDigitalInc/CompressAI-Vision scripts/install.sh; rtmo-s_body7,
# rtmo-l_body7 and rtmo-l_body7-crowdpose from third-party download logs / loaders that check them (each starts
# with the published prefix).
ASSETS: dict[str, Asset] = {
    "rtmo-s_body7": Asset("rtmo-s_8xb32-600e_body7-640x640-dac2bf74_20231211.pth",
                          "dac2bf749bbfb51e69ca577ca0327dff4433e3be9a56b782f0b7ef94fb45247e", "coco17", (640, 640),
                          _CFG + "body7/rtmo-s_8xb32-600e_body7-640x640.py", note="COCO AP 68.6"),
    "rtmo-m_body7": Asset("rtmo-m_16xb16-600e_body7-640x640-39e78cc4_20231211.pth", "39e78cc4", "coco17", (640, 640),
                          _CFG + "body7/rtmo-m_16xb16-600e_body7-640x640.py", note="COCO AP 72.6"),
    # mmpose's rtmo_body7.yml lists 516a421f (the COCO-only model's file); the .md tables, projects/rtmo and the
    # ONNX bundle all use b37118ce.
    "rtmo-l_body7": Asset("rtmo-l_16xb16-600e_body7-640x640-b37118ce_20231211.pth",
                          "b37118cee39b43531c23d9e443fbb4f0b8987f590d9c6ed61978d12ecfce84df", "coco17", (640, 640),
                          _CFG + "body7/rtmo-l_16xb16-600e_body7-640x640.py", note="COCO AP 74.8"),
    "rtmo-s_coco": Asset("rtmo-s_8xb32-600e_coco-640x640-8db55a59_20231211.pth", "8db55a59", "coco17", (640, 640),
                         _CFG + "coco/rtmo-s_8xb32-600e_coco-640x640.py", note="COCO AP 67.7, COCO only"),
    "rtmo-m_coco": Asset("rtmo-m_16xb16-600e_coco-640x640-6f4e0306_20231211.pth", "6f4e0306", "coco17", (640, 640),
                         _CFG + "coco/rtmo-m_16xb16-600e_coco-640x640.py", note="COCO AP 70.9, COCO only"),
    "rtmo-l_coco": Asset("rtmo-l_16xb16-600e_coco-640x640-516a421f_20231211.pth",
                         "516a421f8717548300c3ee6356a3444ac539083d4a9912f8ca1619ee63d0986d", "coco17", (640, 640),
                         _CFG + "coco/rtmo-l_16xb16-600e_coco-640x640.py", note="COCO AP 72.4, COCO only"),
    "rtmo-s_crowdpose": Asset("rtmo-s_8xb32-700e_crowdpose-640x640-79f81c0d_20231211.pth", "79f81c0d", "crowdpose14",
                              (640, 640), _CFG + "crowdpose/rtmo-s_8xb32-700e_crowdpose-640x640.py",
                              note="CrowdPose AP 67.3"),
    # The published link is spelt "rrtmo-m_..." in every mmpose table; kept as published.
    "rtmo-m_crowdpose": Asset("rrtmo-m_16xb16-700e_crowdpose-640x640-0eaf670d_20231211.pth", "0eaf670d",
                              "crowdpose14", (640, 640), _CFG + "crowdpose/rtmo-m_16xb16-700e_crowdpose-640x640.py",
                              note="CrowdPose AP 71.1"),
    "rtmo-l_crowdpose": Asset("rtmo-l_16xb16-700e_crowdpose-640x640-1008211f_20231211.pth", "1008211f", "crowdpose14",
                              (640, 640), _CFG + "crowdpose/rtmo-l_16xb16-700e_crowdpose-640x640.py",
                              note="CrowdPose AP 73.2"),
    "rtmo-l_body7-crowdpose": Asset("rtmo-l_16xb16-700e_body7-crowdpose-640x640-5bafdc11_20231219.pth",
                                    "5bafdc11e43fba1a834e1323013108831b3e1e0761681dbe7a37896a179f2183", "crowdpose14",
                                    (640, 640), _CFG + "crowdpose/rtmo-l_16xb16-700e_body7-crowdpose-640x640.py",
                                    note="CrowdPose AP 83.8, body7 then CrowdPose"),
}


class UnknownAssetError(ValueError):
    """A name that is neither a known asset nor an existing file."""


class DownloadError(ConnectionError):
    """A download failed (HTTP error, no connection, truncated transfer)."""


class HashMismatchError(AssetFormatError):
    """A file whose sha256 is not the one published for it."""


def sha256_file(path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def hash_matches(digest: str, expected: str) -> bool:
    """True if ``digest`` equals ``expected`` or starts with it (a published 8-hex prefix)."""
    return len(expected) >= 8 and digest.lower().startswith(expected.lower())


def known_by_filename(filename: str) -> tuple[str, Asset] | None:
    for name, asset in ASSETS.items():
        if asset.filename == filename:
            return name, asset
    return None


def get_asset(name: str) -> Asset:
    try:
        return ASSETS[name]
    except KeyError:
        raise UnknownAssetError(f"unknown asset {name!r}; expected one of {sorted(ASSETS)} (list them with "
                                "`stream assets`) or the path of a file") from None


def asset_path(name: str, home=None) -> Path:
    """Where the known asset ``name`` lives once fetched."""
    return weights_dir(home) / get_asset(name).filename


def verify(path, name: str) -> Path:
    """Check ``path`` against the published hash of asset ``name``; HashMismatchError names both."""
    asset, digest = get_asset(name), sha256_file(path)
    if not hash_matches(digest, asset.sha256):
        raise HashMismatchError(f"{path} is not {name}: its sha256 is {digest}, expected one starting with "
                                f"{asset.sha256} ({asset.url()}); the file is damaged or another checkpoint. "
                                f"Get it again with `stream assets get {name}`")
    return Path(path)


def resolve_asset(value, home=None) -> Path:
    """A local file, or a known asset name already in the weights folder. Never downloads.

    A missing file raises AssetError naming the file and the command that gets it.
    """
    text = os.fspath(value)
    if text in ASSETS:
        path = asset_path(text, home)
        if not path.is_file():
            raise AssetError(f"{text} weights not found: {path}\n  get them with: stream assets get {text}\n"
                             f"  (or download {ASSETS[text].url()} and pass its path)")
        return path
    path = Path(text).expanduser()
    if path.is_file():
        return path
    known = known_by_filename(path.name)
    hint = (f"get it with: stream assets get {known[0]}" if known else
            f"pass an existing file or a known name: {', '.join(sorted(ASSETS))}")
    raise AssetError(f"weights file not found: {path}\n  {hint}")


def fetch_asset(source, home=None, *, base_url: str | None = None, progress: bool = True) -> Path:
    """A known name (downloaded once into the weights folder), a URL (downloaded there) or a local path.

    Known files are verified against their published hash, local ones included; a file already in the
    weights folder that verifies is not downloaded again.
    """
    text = os.fspath(source)
    if text in ASSETS:
        return get_asset_file(text, home, base_url=base_url, progress=progress)
    if _is_url(text):
        filename = Path(urlparse(text).path).name
        if not filename:
            raise UnknownAssetError(f"cannot name the file of URL {text!r}; expected a URL ending in a file name")
        known = known_by_filename(filename)
        if known:
            return get_asset_file(known[0], home, source=text, progress=progress)
        dest = weights_dir(home) / filename
        if dest.is_file():
            log.info("%s already present, not downloaded again", dest)
            return dest
        return download(text, dest, expected=None, progress=progress)
    path = Path(text).expanduser()
    if not path.is_file():
        raise UnknownAssetError(f"{text!r} is neither a known asset ({', '.join(sorted(ASSETS))}), a URL nor an "
                                "existing file")
    known = known_by_filename(path.name)
    return verify(path, known[0]) if known else path


def get_asset_file(name: str, home=None, *, source=None, base_url: str | None = None, progress: bool = True) -> Path:
    """Put asset ``name`` into the weights folder, verified: from its URL, from ``source`` (a URL or a local file)."""
    asset = get_asset(name)
    dest = weights_dir(home) / asset.filename
    if dest.is_file():
        try:
            verify(dest, name)
            log.info("%s already present and verified, not downloaded again", dest)
            return dest
        except HashMismatchError as err:
            log.warning("%s; replacing it", err)
    src = os.fspath(source) if source is not None else asset.url(base_url)
    if not _is_url(src):
        path = Path(src).expanduser()
        if not path.is_file():
            raise FileNotFoundError(f"--from {src}: no such file; pass the downloaded {asset.filename} or a URL")
        verify(path, name)
        dest.parent.mkdir(parents=True, exist_ok=True)
        part = dest.with_name(dest.name + ".part")
        shutil.copyfile(path, part)
        os.replace(part, dest)
        return dest
    return download(src, dest, expected=asset.sha256, progress=progress, name=name)


def download(url: str, dest: Path, *, expected: str | None, progress: bool = True, name: str | None = None,
             timeout: float = 60.0) -> Path:
    """Stream ``url`` to ``dest.part`` (resuming a previous partial download), verify, rename to ``dest``.

    A hash mismatch deletes the partial file; a network failure keeps it so the next call resumes.
    """
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    start = part.stat().st_size if part.is_file() else 0
    headers = {"User-Agent": "crowdmesh"} | ({"Range": f"bytes={start}-"} if start else {})
    try:
        resp = urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=timeout)
    except urllib.error.HTTPError as err:
        if err.code == 416 and start:  # the partial file is already complete (or stale): start over
            part.unlink()
            return download(url, dest, expected=expected, progress=progress, name=name, timeout=timeout)
        raise DownloadError(f"downloading {url} failed: HTTP {err.code} {err.reason}; check the address (or "
                            f"{BASE_URL_ENV}), or download the file yourself and pass it with --from PATH") from None
    except (urllib.error.URLError, OSError) as err:
        reason = getattr(err, "reason", err)
        raise DownloadError(f"downloading {url} failed: {reason}; check the network connection, or download the "
                            "file yourself and pass it with --from PATH") from None
    digest = hashlib.sha256()
    with resp:
        if start and resp.status != 206:
            log.info("server ignored the resume request for %s; downloading from the start", url)
            start = 0
        if start:
            with open(part, "rb") as f:
                for chunk in iter(lambda: f.read(CHUNK), b""):
                    digest.update(chunk)
        length = resp.headers.get("Content-Length")
        total = start + int(length) if length is not None else None
        done = start
        bar = progress_bar(dest.name, total, enabled=progress, unit="bytes", completed=start)
        with open(part, "ab" if start else "wb") as f, bar as advance:
            try:
                for chunk in iter(lambda: resp.read(CHUNK), b""):
                    f.write(chunk)
                    digest.update(chunk)
                    done += len(chunk)
                    advance(len(chunk))
            except (OSError, http.client.HTTPException) as err:
                raise DownloadError(f"downloading {url} was interrupted after {done} bytes ({err}); run the same "
                                    f"command again to resume ({part} is kept)") from None
    if total is not None and done != total:
        raise DownloadError(f"downloading {url} stopped after {done} of {total} bytes; run the same command "
                            f"again to resume ({part} is kept)")
    hexdigest = digest.hexdigest()
    if expected is not None and not hash_matches(hexdigest, expected):
        part.unlink()
        raise HashMismatchError(f"downloaded {url} but its sha256 is {hexdigest}, expected one starting with "
                                f"{expected}; the file was deleted. The server may hold a different file: "
                                f"download it yourself, check it, and pass it with "
                                f"`stream assets get {name or dest.name} --from PATH`")
    os.replace(part, dest)
    log.info("downloaded %s (%d bytes, sha256 %s)", dest, done, hexdigest)
    return dest


def _is_url(text: str) -> bool:
    return urlparse(text).scheme in ("http", "https")
