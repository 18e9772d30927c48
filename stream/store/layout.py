"""What the store holds and the errors it raises: shared by ``stream.store.write`` and ``stream.store.read``.

Layout (Zarr v3, one store per video; T rows of a track, N frames, K keypoints)::

    out.zarr/   attrs: format, crowdmesh_version, source, fingerprints, config, camera, joint_set,
                       num_keypoints, smoothing, progress {frames_done, complete}, errors [{frame, message}],
                       resumes, and offline_smoothing once ``stream smooth`` ran (its parameters and frames_done)
      frames/   time (N,) f64 seconds, n_people (N,) i16
      tracks/<id>/  attrs: track_id, first_frame, last_frame
        frame (T,) i32, smpl_pose (T,24,3) f32, smpl_betas (T,10) f32, cam_trans (T,3) f32,
        joints3d (T,30,3) f32, keypoints2d (T,K,3) f32, bbox (T,4) f32 xywh, score (T,) f32,
        and when ``attrs["smoothing"]`` is set (the filter's parameters; absent or None: no smoothing):
        smooth_smpl_pose (T,24,3) f32, smooth_cam_trans (T,3) f32, the raw values filtered per track
        offline/  when ``attrs["offline_smoothing"]`` is set (``stream.smooth.offline``; T' rows: every frame of
                  the track's segments, gaps filled): frame (T',) i32, observed (T',) bool (False: a filled
                  frame), smpl_pose (T',24,3) f32, smpl_betas (T',10) f32 (one shape per track, repeated),
                  cam_trans (T',3) f32, all made from the raw arrays, which stay as they are

Every array is chunked along its first (time) axis only and Blosc/Zstd compressed. Unwritten rows
read as the fill value: NaN for floats, -1 for ``frame`` and ``n_people``.

Commit rule: ``progress.frames_done`` is written after all rows of the frames it counts, so the first
``frames_done`` rows of ``frames/*`` and each track's rows whose ``frame < frames_done`` are complete.
Rows past that (left by a writer that was killed) are not part of the store: the reader skips them
and ``StoreWriter.resume`` removes them.

Offline values follow the same rule: ``stream.store.offline`` writes the ``offline/`` groups first and
``attrs["offline_smoothing"]`` (holding the ``frames_done`` they were made from) last; the reader shows them
only while that attr is present and its ``frames_done`` is the store's. ``StoreWriter.resume`` of a store
that is not complete removes the attr, then the groups (the raw arrays grow again; ``stream smooth`` makes
them anew).
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import metadata

import numpy as np
from zarr.codecs import BloscCodec

FORMAT = "crowdmesh.store/1"  # attrs["format"]: marks a crowdmesh store and its layout version
CAMERA_CONVENTION = (
    "pinhole camera of the full image: x right, y down, z forward, metres; pixel (u, v, 1) ~ K @ X with "
    "K = [[fx, 0, cx], [0, fy, cy], [0, 0, 1]] from focal (fx, fy) and principal_point (cx, cy), pixel centres "
    "at integer coordinates. cam_trans is the SMPL (smplx) translation: camera-frame vertices = "
    "body(smpl_pose, smpl_betas).vertices + cam_trans, and joints3d = body(smpl_pose, smpl_betas).joints + "
    "cam_trans (nets.body.BodyModel; cam_trans is not the pelvis position)")

NUM_SMPL_JOINTS, NUM_BETAS, NUM_JOINTS3D = 24, 10, 30


@dataclass(frozen=True)
class ArraySpec:
    """One per-row array: trailing shape (``None`` = K keypoints), dtype and fill value."""
    shape: tuple
    dtype: str
    fill: float | int
    dims: tuple[str, ...]


# per-track arrays, in the order a flush writes them (``frame`` first: see store_write)
TRACK_ARRAYS: dict[str, ArraySpec] = {
    "frame": ArraySpec((), "int32", -1, ("time",)),
    "smpl_pose": ArraySpec((NUM_SMPL_JOINTS, 3), "float32", np.nan, ("time", "smpl_joint", "axis_angle")),
    "smpl_betas": ArraySpec((NUM_BETAS,), "float32", np.nan, ("time", "beta")),
    "cam_trans": ArraySpec((3,), "float32", np.nan, ("time", "xyz")),
    "joints3d": ArraySpec((NUM_JOINTS3D, 3), "float32", np.nan, ("time", "joint", "xyz")),
    "keypoints2d": ArraySpec((None, 3), "float32", np.nan, ("time", "keypoint", "x_y_score")),
    "bbox": ArraySpec((4,), "float32", np.nan, ("time", "xywh")),
    "score": ArraySpec((), "float32", np.nan, ("time",)),
}
# What ``StoreWriter.add_frame`` takes for a frame's people: a dict of these keys, each stacked over the P people
# (P = 0 for a frame without people): track_id (P,) ints >= 0; smpl_pose (P, 24, 3) or (P, 72) axis-angle, root
# first; smpl_betas (P, 10); cam_trans (P, 3) metres (see CAMERA_CONVENTION); joints3d (P, 30, 3) camera frame,
# metres; keypoints2d (P, K, 3) image pixels x, y and score; bbox (P, 4) xywh image pixels; score (P,) the person's
# confidence. Plus SMOOTH_ARRAYS exactly when the store was created with smoothing.
PERSON_FIELDS = ("track_id",) + tuple(name for name in TRACK_ARRAYS if name != "frame")
# per-track arrays of a store written with smoothing (``attrs["smoothing"]`` not None): the filtered values
# (``stream.smooth.online``), next to the raw ones
SMOOTH_ARRAYS: dict[str, ArraySpec] = {
    "smooth_smpl_pose": ArraySpec((NUM_SMPL_JOINTS, 3), "float32", np.nan, ("time", "smpl_joint", "axis_angle")),
    "smooth_cam_trans": ArraySpec((3,), "float32", np.nan, ("time", "xyz")),
}
# per-track arrays of the offline-smoothed values, in tracks/<id>/offline (stream.store.offline)
OFFLINE_ARRAYS: dict[str, ArraySpec] = {
    "frame": ArraySpec((), "int32", -1, ("time",)),
    "observed": ArraySpec((), "bool", False, ("time",)),
    "smpl_pose": ArraySpec((NUM_SMPL_JOINTS, 3), "float32", np.nan, ("time", "smpl_joint", "axis_angle")),
    "smpl_betas": ArraySpec((NUM_BETAS,), "float32", np.nan, ("time", "beta")),
    "cam_trans": ArraySpec((3,), "float32", np.nan, ("time", "xyz")),
}
OFFLINE_GROUP, OFFLINE_ATTR = "offline", "offline_smoothing"
FRAME_ARRAYS: dict[str, ArraySpec] = {
    "time": ArraySpec((), "float64", np.nan, ("time",)),
    "n_people": ArraySpec((), "int16", -1, ("time",)),
}
COMPRESSOR = BloscCodec(cname="zstd", clevel=5, shuffle="shuffle")


class StoreNotFoundError(FileNotFoundError):
    """The store path does not exist."""


class StoreExistsError(FileExistsError):
    """``StoreWriter.create`` on a path that already exists (and ``overwrite`` was not given)."""


class StoreFormatError(ValueError):
    """The path is not a crowdmesh store, or its layout is damaged."""


class StoreMismatchError(ValueError):
    """Resuming with a config or fingerprints other than the store's; ``force=True`` overrides."""


class FrameOrderError(ValueError):
    """``add_frame`` got a frame other than the next one."""


class StoreInputError(ValueError):
    """Bad arguments or person data given to the writer; the message names the field and what is expected."""


def track_arrays(attrs: dict) -> dict[str, ArraySpec]:
    """The per-track arrays of a store with root ``attrs``: TRACK_ARRAYS, and SMOOTH_ARRAYS when smoothed."""
    return {**TRACK_ARRAYS, **SMOOTH_ARRAYS} if attrs.get("smoothing") is not None else dict(TRACK_ARRAYS)


def crowdmesh_version() -> str:
    try:
        return metadata.version("crowdmesh")
    except metadata.PackageNotFoundError:
        return "unknown"


def json_value(value, name: str):
    """``value`` as Zarr attrs store it (tuples become lists); StoreInputError when it is not JSON."""
    try:
        return json.loads(json.dumps(value, allow_nan=False))
    except (TypeError, ValueError) as err:
        raise StoreInputError(f"{name}: expected JSON data (dicts, lists, str, finite numbers, bools, None); "
                              f"{err}") from None


def differences(stored, given, prefix: str) -> list[str]:
    """Dotted keys where two JSON values differ, each as 'key: stored X, given Y'."""
    if isinstance(stored, dict) and isinstance(given, dict):
        out = []
        for key in sorted(set(stored) | set(given), key=str):
            name = f"{prefix}.{key}"
            if key not in given:
                out.append(f"{name}: stored {stored[key]!r}, not given")
            elif key not in stored:
                out.append(f"{name}: not stored, given {given[key]!r}")
            else:
                out.extend(differences(stored[key], given[key], name))
        return out
    return [] if stored == given else [f"{prefix}: stored {stored!r}, given {given!r}"]


def committed_rows(frame: np.ndarray, frames_done: int) -> int:
    """Rows of a track that belong to the store: the leading rows with 0 <= frame < frames_done.

    Rows a killed writer left past them hold frames >= frames_done or the fill value -1.
    """
    ok = (frame >= 0) & (frame < frames_done)
    return len(ok) if ok.all() else int(np.argmin(ok))
