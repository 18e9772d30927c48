"""Exports of a store with offline-smoothed values (`stream smooth`): used by default, filled frames included
(npz marks them in ``observed``), ``--raw`` for the raw values."""
from __future__ import annotations

import json
import shutil
import struct

import numpy as np
import pytest
from typer.testing import CliRunner

from stream.cli.app import app
from stream.config import SmoothingConfig
from stream.export import NotSmoothedError, export_store, glb_bytes, pose_skeleton, track_motion
from stream.export.overlay import PLAIN_BACKGROUND
from stream.smooth.offline import smooth_store
from stream.source.frames import FrameSource
from stream.store import open_store

runner = CliRunner()
GAP = [20, 21]          # the frames track 1 of the export store misses


@pytest.fixture(scope="module")
def offline_store(export_store, tmp_path_factory):
    path = tmp_path_factory.mktemp("offline") / "crowd.zarr"
    shutil.copytree(export_store.path, path)
    smooth_store(path, SmoothingConfig())
    store = open_store(path)
    assert GAP == sorted(set(range(20, 22)) - set(store.track(1).frame.tolist()))
    return store


def glb_key_counts(data: bytes) -> list[int]:
    """Keyframes of each track's animation in a GLB (the count of each sampler's time accessor, per track)."""
    length = struct.unpack("<I", data[12:16])[0]
    doc = json.loads(data[20:20 + length])
    inputs = dict.fromkeys(s["input"] for a in doc["animations"] for s in a["samplers"])
    return [doc["accessors"][i]["count"] for i in inputs]


def test_npz_has_the_offline_values_and_marks_filled_frames(offline_store, export_body, tmp_path):
    summary = export_store(offline_store, export_body, "npz", tmp_path / "npz", tracks=[1])
    assert summary.values == "offline"
    data = np.load(tmp_path / "npz" / "track_1.npz")
    offline = offline_store.offline(1)
    np.testing.assert_array_equal(data["frame"], offline.frame)
    np.testing.assert_array_equal(data["observed"], ~np.isin(offline.frame, GAP))
    np.testing.assert_allclose(data["poses"].reshape(-1, 24, 3)[:, 1:], offline.smpl_pose[:, 1:], atol=1e-6)


def test_raw_npz_has_the_raw_values(offline_store, export_body, tmp_path):
    export_store(offline_store, export_body, "npz", tmp_path / "npz", tracks=[2], values="raw")
    data = np.load(tmp_path / "npz" / "track_2.npz")
    track = offline_store.track(2)
    assert data["observed"].all() and len(data["frame"]) == len(track)
    np.testing.assert_allclose(data["poses"].reshape(-1, 24, 3)[:, 1:], track.smpl_pose[:, 1:], atol=1e-6)
    assert not np.allclose(offline_store.offline(2).smpl_pose, track.smpl_pose, atol=1e-4)


def test_glb_and_bvh_include_the_filled_frames(offline_store, export_body, tmp_path):
    offline, raw = (track_motion(offline_store, 1, export_body, values=v) for v in ("auto", "raw"))
    assert glb_key_counts(glb_bytes([offline], export_body)) == [30]
    assert glb_key_counts(glb_bytes([raw], export_body)) == [28]
    export_store(offline_store, export_body, "bvh", tmp_path / "bvh", tracks=[1])
    text = (tmp_path / "bvh" / "track_1.bvh").read_text()
    assert "Frames: 30" in text
    table = np.loadtxt(text.split("Frame Time:")[1].splitlines()[1:])
    assert table.shape == (30, 3 + 24 * 3)
    np.testing.assert_allclose(table[:, :3], pose_skeleton(offline, export_body).root_position, atol=2e-6)


def test_overlay_draws_the_filled_frames(offline_store, export_body, tmp_path):
    """Track 1 alone: at its missing frames the raw overlay is the plain background, the offline one has it."""
    drawn = {}
    for values in ("raw", "auto"):
        path = tmp_path / f"{values}.mp4"
        export_store(offline_store, export_body, "video", path, tracks=[1], values=values)
        frames = [frame.bgr.astype(int) for frame in FrameSource(path)]
        drawn[values] = [(np.abs(f - PLAIN_BACKGROUND).max(-1) > 40).mean() for f in frames]
    assert all(drawn["raw"][n] < 0.0005 for n in GAP) and all(drawn["auto"][n] > 0.002 for n in GAP)
    assert drawn["auto"][19] > 0.002 and drawn["raw"][19] > 0.002                  # about 0.006 of the image


def test_cli_exports_offline_by_default_raw_with_raw(offline_store, tmp_path, monkeypatch):
    monkeypatch.setenv("CROWDMESH_HOME", str(tmp_path / "home"))

    def run(*args):
        return runner.invoke(app, ["export", str(offline_store.path), "--format", "npz", "--tracks", "1",
                                   "--standin", *args])
    default, raw = run("--out", str(tmp_path / "a")), run("--raw", "--out", str(tmp_path / "b"))
    assert default.exit_code == 0 and "offline values" in default.output, default.output
    assert raw.exit_code == 0 and "raw values" in raw.output, raw.output
    a, b = np.load(tmp_path / "a" / "track_1.npz"), np.load(tmp_path / "b" / "track_1.npz")
    raw_pose = offline_store.track(1).smpl_pose[:, 1:]
    np.testing.assert_allclose(b["poses"].reshape(-1, 24, 3)[b["observed"], 1:], raw_pose, atol=1e-6)
    assert not b["observed"][np.isin(b["frame"], GAP)].any() and not np.allclose(a["poses"], b["poses"])
    both = run("--raw", "--smoothed", "--out", str(tmp_path / "c"))
    assert both.exit_code == 2 and "--raw and --smoothed" in both.output


def test_values_the_store_lacks_are_an_error(export_store, offline_store, export_body, tmp_path):
    with pytest.raises(NotSmoothedError, match="stream smooth"):
        track_motion(export_store, 1, export_body, values="offline")
    with pytest.raises(NotSmoothedError, match="smoothing.enabled=true"):
        track_motion(offline_store, 1, export_body, values="online")
    assert track_motion(offline_store, 1, export_body, values="smoothed").length == 30
