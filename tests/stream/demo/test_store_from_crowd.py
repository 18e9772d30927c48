"""Stores of a synthetic crowd's ground truth (stream.demo.synth.store_from_crowd) and `stream info` on them."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from stream.cli.app import app
from stream.store import open_store


# -- synthetic crowds and `stream info` -------------------------------------------------------------

@pytest.fixture(scope="module")
def standin_body():
    from nets.body import BodyModel
    from nets.standin import make_standin_body

    return BodyModel(*make_standin_body())


@pytest.fixture(scope="module")
def crowd(standin_body):
    from nets.synth import CrowdConfig, make_crowd

    return make_crowd(standin_body, CrowdConfig(people=4, frames=30, width=160, height=96, seed=1))


@pytest.fixture(scope="module")
def crowd_store(crowd, tmp_path_factory) -> Path:
    from stream.demo.synth import store_from_crowd

    return store_from_crowd(crowd, tmp_path_factory.mktemp("crowd") / "crowd.zarr")


def test_store_from_crowd_has_one_track_per_present_person(crowd, crowd_store):
    store = open_store(crowd_store)
    present = [n for n in range(crowd.people) if crowd.present[:, n].any()]
    assert store.track_ids() == [int(crowd.ids[n]) for n in present]
    assert store.complete and len(store) == crowd.frames and store.fps == crowd.fps
    for n in present:
        track = store.track(int(crowd.ids[n]))
        np.testing.assert_array_equal(track.frame, np.flatnonzero(crowd.present[:, n]))
        np.testing.assert_array_equal(track.keypoints2d, crowd.keypoints2d["coco17"][track.frame, n])
    np.testing.assert_array_equal(store.frames()[1], crowd.present.sum(1))


def test_cam_trans_places_the_body_in_the_camera_frame(crowd, crowd_store, standin_body):
    """body(smpl_pose, smpl_betas).vertices + cam_trans is the camera-frame mesh (CAMERA_CONVENTION)."""
    track = open_store(crowd_store).track(int(crowd.ids[1]))
    rows = [0, len(track) // 2, len(track) - 1]
    with torch.no_grad():
        out = standin_body(torch.from_numpy(track.smpl_pose[rows].reshape(-1, 72)),
                           torch.from_numpy(track.smpl_betas[rows]))
    vertices = out.vertices.numpy() + track.cam_trans[rows, None]
    joints = out.joints.numpy() + track.cam_trans[rows, None]
    for i, row in enumerate(rows):
        np.testing.assert_allclose(vertices[i], crowd.vertices(int(track.frame[row]))[1], atol=1e-5)
        np.testing.assert_allclose(joints[i], track.joints3d[row], atol=1e-5)


def test_store_from_crowd_min_visible_drops_hidden_frames(crowd, tmp_path):
    from stream.demo.synth import store_from_crowd

    store = open_store(store_from_crowd(crowd, tmp_path / "c.zarr", joint_set="crowdpose14", min_visible=8))
    visible = (crowd.keypoints2d["crowdpose14"][..., 2] > 0).sum(-1) >= 8
    for track in store:
        n = int(np.flatnonzero(crowd.ids == track.track_id)[0])
        np.testing.assert_array_equal(track.frame, np.flatnonzero(crowd.present[:, n] & visible[:, n]))


def test_stream_info_summarises_tracks_and_frames(crowd, crowd_store):
    res = CliRunner().invoke(app, ["info", str(crowd_store), "--top", "2"])
    assert res.exit_code == 0, res.output
    tracks = open_store(crowd_store).summaries()
    assert f"{len(tracks)} tracks" in res.output and f"{crowd.frames} of {crowd.frames} done, complete" in res.output
    longest = max(tracks, key=lambda s: (s.length, -s.track_id))
    assert f"{longest.track_id:>7} {longest.first_frame:>7} {longest.last_frame:>7} {longest.length:>7}" in res.output
    assert "(2 longest)" in res.output and "errors:  none" in res.output


def test_stream_info_bad_path_exits_2(tmp_path):
    res = CliRunner().invoke(app, ["info", str(tmp_path / "nope.zarr")])
    assert res.exit_code == 2 and "does not exist" in res.output
