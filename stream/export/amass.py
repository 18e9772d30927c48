"""AMASS-style npz: one file per track plus one file with every track, for Python users.

    paths = write_amass("out/npz", motions, body, fps=30.0)     # track_<id>.npz ..., all_tracks.npz
    data = np.load("out/npz/track_3.npz")
    body(poses, betas, trans) with data["poses"], data["betas"], data["trans"]   # the track, +Y up

Per-track file ``track_<id>.npz`` (the AMASS keys first):
- ``poses`` (T, 72) float64 SMPL axis-angle, root first, the root turned into the export frame;
- ``trans`` (T, 3) float64 SMPL translation in the export frame, metres;
- ``betas`` (10,) float64 (the track's mean shape); ``gender`` ``'neutral'``; ``mocap_framerate`` the video fps;
- crowdmesh extras: ``track_id``, ``frame`` (T,) video frame of each row, ``time`` (T,) seconds from the
  video start, ``observed`` (T,) bool (False where a frame missing inside the track was interpolated).

Rows are every video frame from the track's first to its last (AMASS files have a fixed frame rate).
The export frame is the one of BVH and glTF: +Y up, ``(x, -y, -z)`` of the camera frame, so with the SMPL
body ``body(poses, betas, trans)`` is exactly ``CAMERA_TO_EXPORT @`` the camera-frame mesh
(``trans = CAMERA_TO_EXPORT @ (J_0 + cam_trans) - J_0``, J_0 the rest pelvis). Note AMASS's own
datasets are +Z up: rotate by +90 degrees about x to compare with them.

``all_tracks.npz``: ``track_ids`` (N,), ``mocap_framerate``, ``gender``, ``to_camera`` (3, 3) (the matrix
taking export-frame points back to the camera frame), ``camera_K`` (3, 3) and ``image_size`` (2,) when the
camera is known, and per track the per-track keys as ``track_<id>/<key>`` (e.g. ``track_3/poses``).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from nets.rotations import matrix_to_axis_angle
from stream.export.motion import (CAMERA_TO_EXPORT, ExportError, TrackMotion, VideoCamera, fill_gaps, pose_skeleton,
                                  rest_joints)

PER_TRACK_KEYS = ("poses", "trans", "betas", "gender", "mocap_framerate", "track_id", "frame", "time", "observed")


def amass_arrays(motion: TrackMotion, body, fps: float) -> dict[str, np.ndarray]:
    """The per-track arrays (see the module docstring)."""
    if not np.isfinite(fps) or fps <= 0:
        raise ExportError(f"fps = {fps!r}: expected the video's frames per second, > 0")
    filled, observed = fill_gaps(motion)
    skel = pose_skeleton(filled, body)
    rest = rest_joints(body, filled.betas)
    poses = np.array(filled.poses, dtype=np.float64)
    poses[:, 0] = matrix_to_axis_angle(skel.rotations[:, 0])
    return {
        "poses": poses.reshape(len(poses), 72),
        "trans": skel.root_position - rest[0],
        "betas": np.asarray(filled.betas, dtype=np.float64),
        "gender": np.array("neutral"),
        "mocap_framerate": np.array(float(fps)),
        "track_id": np.array(int(motion.track_id)),
        "frame": filled.frame.astype(np.int64),
        "time": np.asarray(filled.time, dtype=np.float64),
        "observed": observed,
    }


def write_amass(folder, motions: list[TrackMotion], body, fps: float, camera: VideoCamera | None = None) -> list[Path]:
    """``track_<id>.npz`` per track and ``all_tracks.npz`` in ``folder``; returns the paths (all-tracks last)."""
    if not motions:
        raise ExportError("no tracks to export; expected at least one TrackMotion")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths, combined = [], {}
    for motion in motions:
        arrays = amass_arrays(motion, body, fps)
        path = folder / f"track_{motion.track_id}.npz"
        np.savez(path, **arrays)
        paths.append(path)
        combined.update({f"track_{motion.track_id}/{key}": value for key, value in arrays.items()})
    header = {"track_ids": np.array([m.track_id for m in motions], dtype=np.int64),
              "mocap_framerate": np.array(float(fps)), "gender": np.array("neutral"),
              "to_camera": CAMERA_TO_EXPORT.T.copy()}
    if camera is not None:
        header.update(camera_K=camera.K, image_size=np.array(camera.size, dtype=np.int64))
    path = folder / "all_tracks.npz"
    np.savez(path, **header, **combined)
    return paths + [path]
