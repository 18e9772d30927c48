"""`stream export`: every format from a store, track selection, and exit status 2 with a message on bad input."""
from __future__ import annotations

import numpy as np
import pytest
from typer.testing import CliRunner

from stream.cli.app import app

runner = CliRunner()


@pytest.fixture()
def run(export_store, tmp_path, monkeypatch):
    monkeypatch.setenv("CROWDMESH_HOME", str(tmp_path / "home"))     # --standin writes its body files here

    def invoke(*args: str):
        return runner.invoke(app, ["export", str(export_store.path), *args, "--standin", "--no-progress"])
    return invoke


def test_glb_of_all_tracks(run, tmp_path):
    res = run("--format", "glb", "--out", str(tmp_path / "crowd.glb"))
    assert res.exit_code == 0, res.output
    assert "4 tracks (0, 1, 2, 3)" in res.output and (tmp_path / "crowd.glb").stat().st_size > 100_000
    assert "another body model" not in res.output                     # the store was made with this body


def test_bvh_of_chosen_tracks_in_centimetres(run, tmp_path):
    res = run("--format", "bvh", "--tracks", "3,1", "--units", "cm", "--out", str(tmp_path / "bvh"))
    assert res.exit_code == 0, res.output
    assert sorted(p.name for p in (tmp_path / "bvh").iterdir()) == ["track_1.bvh", "track_3.bvh"]
    hip = (tmp_path / "bvh" / "track_1.bvh").read_text().split("JOINT L_Hip")[1].split()
    assert 3 < np.linalg.norm(np.array(hip[2:5], dtype=float)) < 30            # a hip offset, in cm


def test_npz_leaves_out_short_tracks(run, export_store, tmp_path):
    res = run("--format", "npz", "--min-length", "25", "--out", str(tmp_path / "npz"))
    assert res.exit_code == 0, res.output
    long = [s.track_id for s in export_store.summaries() if s.length >= 25]
    assert 0 < len(long) < 4
    assert sorted(p.name for p in (tmp_path / "npz").iterdir()) == sorted(
        [f"track_{i}.npz" for i in long] + ["all_tracks.npz"])


def test_video_says_it_draws_on_a_plain_background(run, tmp_path):
    res = run("--format", "video", "--out", str(tmp_path / "o.mp4"))
    assert res.exit_code == 0, res.output
    assert "plain 320x192 background" in res.output and (tmp_path / "o.mp4").is_file()


def test_a_missing_store_exits_2(tmp_path):
    res = runner.invoke(app, ["export", str(tmp_path / "nope.zarr"), "--format", "glb",
                              "--out", str(tmp_path / "x.glb")])
    assert res.exit_code == 2 and "does not exist" in res.output


def test_unknown_track_ids_exit_2(run, tmp_path):
    res = run("--format", "glb", "--tracks", "1,9", "--out", str(tmp_path / "x.glb"))
    assert res.exit_code == 2 and "has no track 9" in res.output and "1 (" in res.output


def test_an_empty_selection_exits_2(run, tmp_path):
    res = run("--format", "npz", "--min-length", "1000", "--out", str(tmp_path / "n"))
    assert res.exit_code == 2 and "nothing to export" in res.output and "--min-length" in res.output


def test_an_unknown_format_exits_2(run, tmp_path):
    res = run("--format", "fbx", "--out", str(tmp_path / "x.fbx"))
    assert res.exit_code == 2 and "expected one of bvh, glb, npz, video" in res.output


def test_store_made_with_another_body_is_reported(export_store):
    from nets.body import BodyModel
    from nets.standin import make_standin_body
    from stream.export.tracks import check_body

    assert "another body model" in check_body(export_store, BodyModel(*make_standin_body(seed=1)))


def test_a_store_made_with_the_standin_body_exports_without_flags(export_store, tmp_path, monkeypatch):
    home = tmp_path / "home"
    monkeypatch.setenv("CROWDMESH_HOME", str(home))                  # no SMPL files there, no stand-in files
    res = runner.invoke(app, ["export", str(export_store.path), "--format", "glb", "--out", str(tmp_path / "c.glb"),
                              "--no-progress"])
    assert res.exit_code == 0, res.output
    assert "4 tracks (0, 1, 2, 3)" in res.output and (tmp_path / "c.glb").stat().st_size > 100_000
    assert "another body model" not in res.output                     # the stand-in, recognised by its fingerprint
    assert not (home / "standin").exists()                             # built in memory, no files needed


def test_a_store_made_with_another_body_still_asks_for_it(export_store, tmp_path, monkeypatch):
    import shutil

    import zarr

    from stream.export import recorded_standin
    from stream.store import open_store

    path = shutil.copytree(export_store.path, tmp_path / "smpl.zarr")
    zarr.open_group(path, mode="r+").attrs["fingerprints"] = {"body_sha256": "0" * 64}   # as if made with SMPL
    assert recorded_standin(open_store(path)) is None
    monkeypatch.setenv("CROWDMESH_HOME", str(tmp_path / "home"))
    res = runner.invoke(app, ["export", str(path), "--format", "glb", "--out", str(tmp_path / "c.glb")])
    assert res.exit_code == 2 and "SMPL model file not found" in res.output and "--smpl" in res.output
