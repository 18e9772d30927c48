"""AMASS-style npz export: the files give back the store's bodies, turned into the +Y-up export frame.

Tolerance: vertices 2e-5 m (float32 body model).
"""
from __future__ import annotations

import numpy as np
import pytest
import torch
from export_data import CAMERA_TO_YUP, FPS

from stream.export import export_store as run_export


@pytest.fixture(scope="module")
def npz_folder(export_store, export_body, tmp_path_factory):
    folder = tmp_path_factory.mktemp("npz")
    summary = run_export(export_store, export_body, "npz", folder)
    names = sorted(p.name for p in summary.paths)
    assert names == sorted([f"track_{i}.npz" for i in export_store.track_ids()] + ["all_tracks.npz"])
    return folder


def _vertices(body, pose, betas, trans) -> np.ndarray:
    with torch.no_grad():
        return body(torch.from_numpy(np.asarray(pose, np.float32).reshape(-1, 72)),
                    torch.from_numpy(np.asarray(betas, np.float32).reshape(-1, 10)),
                    torch.from_numpy(np.asarray(trans, np.float32).reshape(-1, 3))).vertices.numpy()


@pytest.mark.parametrize("track_id", [0, 1])
def test_amass_file_gives_the_stored_body_in_the_y_up_frame(npz_folder, export_store, export_body, track_id):
    track = export_store.track(track_id)
    data = np.load(npz_folder / f"track_{track_id}.npz")
    span = track.last_frame - track.first_frame + 1
    assert data["poses"].shape == (span, 72) and data["trans"].shape == (span, 3) and data["betas"].shape == (10,)
    assert str(data["gender"]) == "neutral" and float(data["mocap_framerate"]) == FPS
    assert int(data["track_id"]) == track_id
    np.testing.assert_array_equal(data["frame"], np.arange(track.first_frame, track.last_frame + 1))
    np.testing.assert_array_equal(data["observed"], np.isin(data["frame"], track.frame))
    rows = track.frame - track.first_frame
    np.testing.assert_allclose(data["time"][rows], track.time - export_store.frames()[0][0], atol=1e-9)
    # body(poses, betas, trans) of the file == the stored camera-frame body, mapped (x, -y, -z)
    n = np.repeat(np.asarray(data["betas"])[None], len(rows), 0)
    exported = _vertices(export_body, data["poses"][rows], n, data["trans"][rows])
    stored = _vertices(export_body, track.smpl_pose, track.smpl_betas, track.cam_trans)
    np.testing.assert_allclose(exported, stored @ CAMERA_TO_YUP.T, atol=2e-5)
    # the body joints (everything but the root) are the stored ones, unchanged
    np.testing.assert_allclose(data["poses"][rows, 3:], track.smpl_pose[:, 1:].reshape(len(rows), 69), atol=1e-6)


def test_all_tracks_file_holds_every_track_and_the_camera(npz_folder, export_store):
    data = np.load(npz_folder / "all_tracks.npz")
    assert data["track_ids"].tolist() == export_store.track_ids()
    np.testing.assert_allclose(data["to_camera"] @ CAMERA_TO_YUP, np.eye(3))
    camera = export_store.camera
    np.testing.assert_allclose(data["camera_K"][[0, 1], [0, 1]], camera["focal"])
    np.testing.assert_allclose(data["camera_K"][:2, 2], camera["principal_point"])
    assert data["image_size"].tolist() == export_store.source["size"]
    for track_id in export_store.track_ids():
        single = np.load(npz_folder / f"track_{track_id}.npz")
        for key in single.files:
            np.testing.assert_array_equal(data[f"track_{track_id}/{key}"], single[key])
