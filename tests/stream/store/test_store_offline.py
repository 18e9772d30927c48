"""Offline-smoothed values in a store (stream.smooth.offline.smooth_store, stream.store.offline, `stream smooth`):
beside the raw arrays, which stay byte for byte; the same arrays every run; dropped by resume, made again."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from stream.cli.app import app
from stream.config import SmoothingConfig
from stream.smooth.offline import IncompleteStoreError, smooth_store, smooth_track
from stream.store import StoreWriter, info_lines, open_store
from stream.store.location import listing
from store_data import (CAMERA, CONFIG, FINGERPRINTS, FRAMES, SOURCE, assert_same_store, frame_people, no_people,
                        write, zarr_arrays)

runner = CliRunner()
SHORT_GAPS = SmoothingConfig(offline_max_gap_s=0.5)   # the test crowd's gaps: 7 to 22 frames at 25 fps


def files(path: Path) -> dict[str, bytes]:
    """Every file of a local store, by its key, with its bytes."""
    return {p.relative_to(path).as_posix(): p.read_bytes() for p in path.rglob("*") if p.is_file()}


def offline_keys(location) -> list[str]:
    return [key for key in listing(location) if "/offline" in key]


def test_offline_values_go_beside_the_raw_ones_which_stay_byte_for_byte(tmp_path):
    path = write(tmp_path / "out.zarr")
    before = files(path)
    summary = smooth_store(path, SHORT_GAPS)
    after = files(path)
    assert {k: v for k, v in after.items() if k in before and k != "zarr.json"} == \
        {k: v for k, v in before.items() if k != "zarr.json"}                       # raw arrays, byte for byte
    assert all(key.split("/")[2] == "offline" for key in set(after) - set(before))
    root_before, root_after = (json.loads(f["zarr.json"])["attributes"] for f in (before, after))
    assert root_after.pop("offline_smoothing") == summary.parameters and root_after == root_before
    store = open_store(path)
    assert summary.parameters["sigma_s"] == SHORT_GAPS.offline_sigma_s and summary.parameters["frames_done"] == FRAMES
    assert summary.tracks == len(store.track_ids()) and summary.filled > 0 and summary.segments > summary.tracks
    for track in store:
        offline = store.offline(track.track_id)
        want = smooth_track(track.frame, track.smpl_pose, track.cam_trans, track.smpl_betas, fps=25.0,
                            config=SHORT_GAPS, last_frame=FRAMES - 1)
        for name in ("frame", "observed", "smpl_pose", "cam_trans", "smpl_betas"):
            np.testing.assert_array_equal(getattr(offline, name), want[name], err_msg=name)
        np.testing.assert_array_equal(offline.frame[offline.observed], track.frame)
        np.testing.assert_array_equal(offline.time, store.frames()[0][offline.frame])
    assert "values:  raw, offline-smoothed" in info_lines(store)
    assert any(line.startswith("offline: gaussian_local_quadratic") for line in info_lines(store))


def test_smoothing_twice_gives_the_same_arrays(tmp_path):
    """Each run rewrites the offline values from the raw ones: other parameters in between leave no trace."""
    path = write(tmp_path / "out.zarr")
    smooth_store(path, SmoothingConfig())
    first = zarr_arrays(path)
    smooth_store(path, SmoothingConfig(offline_sigma_s=0.2, offline_max_gap_s=0.1))
    assert any(not np.array_equal(first[k], v) or first[k].shape != v.shape for k, v in zarr_arrays(path).items())
    smooth_store(path, SmoothingConfig())
    again = zarr_arrays(path)
    assert sorted(again) == sorted(first)
    for name, value in first.items():
        np.testing.assert_array_equal(again[name], value, err_msg=name)


def test_a_store_without_offline_values_says_so(tmp_path):
    store = open_store(write(tmp_path / "out.zarr"))
    assert store.offline_smoothing is None and store.offline(0) is None
    assert "values:  raw" in info_lines(store) and any("`stream smooth STORE`" in line for line in info_lines(store))


def test_an_unfinished_store_is_refused_unless_partial(tmp_path):
    path = write(tmp_path / "out.zarr", range(40), finish=False)
    with pytest.raises(IncompleteStoreError, match="--resume"):
        smooth_store(path, SmoothingConfig())
    assert offline_keys(path) == []
    summary = smooth_store(path, SmoothingConfig(), partial=True)
    assert summary.parameters["frames_done"] == 40 and open_store(path).offline(0).frame.max() < 40


@pytest.mark.parametrize("where", ["local", "memory"])
def test_resume_drops_the_offline_values_and_stream_smooth_makes_them_again(tmp_path, where):
    """Smoothed at frame 40, resumed (offline values gone), finished, `stream smooth`: the store equals one
    written in one go and smoothed."""
    location = str(tmp_path / "out.zarr") if where == "local" else f"memory://{tmp_path.name}/out.zarr"
    reference = write(tmp_path / "reference.zarr")
    smooth_store(reference, SmoothingConfig())
    write(location, range(40), finish=False)
    smooth_store(location, SmoothingConfig(), partial=True)
    assert offline_keys(location)
    writer = StoreWriter.resume(location, config=CONFIG, fingerprints=FINGERPRINTS, flush_frames=8)
    assert offline_keys(location) == [] and open_store(location).offline_smoothing is None
    write(location, range(writer.frames_done, FRAMES), writer=writer)
    result = runner.invoke(app, ["smooth", location])
    assert result.exit_code == 0, result.output
    assert f"tracks of {location} smoothed offline" in result.output
    assert_same_store(location, reference)
    assert open_store(location).offline_smoothing == open_store(reference).offline_smoothing


def test_resuming_a_complete_store_keeps_its_offline_values(tmp_path):
    """A complete store takes no more frames, so its offline values stay valid."""
    path = write(tmp_path / "out.zarr")
    smooth_store(path, SmoothingConfig())
    before = zarr_arrays(path)
    StoreWriter.resume(path, config=CONFIG, fingerprints=FINGERPRINTS)
    assert open_store(path).offline_smoothing is not None and sorted(zarr_arrays(path)) == sorted(before)


def test_stream_smooth_takes_smoothing_overrides(tmp_path):
    path = write(tmp_path / "out.zarr")
    result = runner.invoke(app, ["smooth", str(path), "smoothing.offline_sigma_s=0.1",
                                 "smoothing.offline_max_gap_s=0.2"])
    assert result.exit_code == 0, result.output
    assert "sigma 0.1 s, gaps up to 0.2 s filled" in result.output
    params = open_store(path).offline_smoothing
    assert (params["sigma_s"], params["max_gap_s"]) == (0.1, 0.2)


@pytest.mark.parametrize("args, message", [
    (["nope.zarr"], "does not exist"),
    (["unfinished.zarr"], "--resume"),
    (["done.zarr", "model.max_batch=4"], "smoothing.* overrides only"),
    (["done.zarr", "smoothing.offline_sigma_s=-1"], "offline_sigma_s = -1"),
])
def test_stream_smooth_errors_exit_2(tmp_path, args, message):
    write(tmp_path / "unfinished.zarr", range(10), finish=False)
    write(tmp_path / "done.zarr", range(10))
    result = runner.invoke(app, ["smooth", str(tmp_path / args[0]), *args[1:]])
    assert result.exit_code == 2 and message in result.output, result.output


def test_process_with_offline_smoothing_adds_it_to_the_finished_store(reference_store, pipeline_config, tmp_path):
    """smoothing.offline=true: the raw arrays are the plain run's, the offline ones `stream smooth`'s; the
    offline keys do not count as a different setup on --resume."""
    from stream.pipeline.local import run_local

    summary = run_local(pipeline_config("smoothing.offline=true", f"output={tmp_path / 'smoothed.zarr'}"))
    copy = tmp_path / "copy.zarr"
    shutil.copytree(reference_store, copy)
    smooth_store(copy, SmoothingConfig())
    assert_same_store(summary.store, copy)
    assert open_store(summary.store).offline_smoothing == open_store(copy).offline_smoothing
    run_local(pipeline_config("smoothing.offline_sigma_s=0.1", f"output={copy}"), resume=True)   # no mismatch
    assert open_store(copy).offline_smoothing is not None            # complete: nothing resumed, nothing dropped


def test_a_non_finite_estimate_is_not_stored_so_the_store_smooths(tmp_path, caplog):
    """A NaN or inf row (a degenerate crop) is dropped by the writer stage with a warning; the rest is stored."""
    from stream.pipeline.sink import StoreSink

    sink = StoreSink(tmp_path / "s.zarr", config=CONFIG, fingerprints=FINGERPRINTS, source=SOURCE, joint_set="coco17")
    for t in range(30):
        rows = frame_people(t) if t != 7 else no_people()
        if t == 5:
            rows["cam_trans"][0] = np.inf
            rows["joints3d"][-1, 3] = np.nan
            dropped = {int(rows["track_id"][0]), int(rows["track_id"][-1])}
        sink.open(*SOURCE["size"], (CAMERA["focal"], CAMERA["principal_point"]))
        sink.add(t, t / 25.0, rows)
    sink.close(finished=True)
    assert "frame 5: dropped 2 of" in caplog.text
    store = open_store(tmp_path / "s.zarr")
    for track in store:
        assert np.isfinite(track.cam_trans).all() and np.isfinite(track.joints3d).all()
        assert (5 in track.frame) == (track.track_id in set(frame_people(5)["track_id"].tolist()) - dropped)
    assert smooth_store(tmp_path / "s.zarr", SmoothingConfig()).tracks == len(store.track_ids())
