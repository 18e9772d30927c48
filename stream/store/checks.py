"""Checking what the store writer is given: people of a frame, source, camera, joint set, JSON dicts."""
from __future__ import annotations

import numpy as np

from nets.joints import JOINT_SETS
from stream.store.layout import CAMERA_CONVENTION, PERSON_FIELDS, SMOOTH_ARRAYS, StoreInputError, json_value

_SHAPES = {"smpl_pose": (24, 3), "smpl_betas": (10,), "cam_trans": (3,), "joints3d": (30, 3), "bbox": (4,),
           "score": (), "smooth_smpl_pose": (24, 3), "smooth_cam_trans": (3,)}
_POSES = ("smpl_pose", "smooth_smpl_pose")  # also taken as (P, 72)


def stack_people(people: dict, frame_index: int, k: int, smoothed: bool = False) -> dict[str, np.ndarray]:
    """A frame's people as a dict of stacked (P, ...) arrays -> the checked dict of float32 / int64 arrays.

    ``smoothed``: the store keeps smoothed values, so ``smooth_smpl_pose`` and ``smooth_cam_trans`` are
    required; otherwise they are refused (they would be lost).
    """
    fields = PERSON_FIELDS + (tuple(SMOOTH_ARRAYS) if smoothed else ())
    if not isinstance(people, dict):
        raise StoreInputError(f"frame {frame_index}: people of type {type(people).__name__}: expected a dict of "
                              f"stacked (P, ...) arrays with keys {fields} (P = 0 for a frame without people)")
    given = set(people)
    missing = [name for name in fields if name not in given]
    if missing and smoothed and set(missing) <= set(SMOOTH_ARRAYS):
        raise StoreInputError(f"frame {frame_index}: people lack {missing}; the store was created with smoothing, "
                              "so every person needs its smoothed values (stream.smooth.online.TrackSmoother.smooth_frame)")
    if missing:
        raise StoreInputError(f"frame {frame_index}: people lack {missing}; expected keys {fields}")
    extra = [name for name in SMOOTH_ARRAYS if name in given and not smoothed]
    if extra:
        raise StoreInputError(f"frame {frame_index}: people have {extra} but the store was created without "
                              "smoothing; create it with StoreWriter.create(..., smoothing=...) to keep them")
    raw = {name: np.asarray(people[name]) for name in fields}
    ids = raw["track_id"].reshape(-1) if raw["track_id"].size else np.zeros(0, np.int64)
    n = len(ids)
    if n and (not np.issubdtype(ids.dtype, np.integer) or ids.min() < 0):
        raise StoreInputError(f"frame {frame_index}: track_id {ids.tolist()}: expected whole numbers >= 0")
    if len(set(ids.tolist())) != n:
        raise StoreInputError(f"frame {frame_index}: track_id {ids.tolist()} repeats an id; one row per track")
    out = {"track_id": ids.astype(np.int64)}
    for name in fields[1:]:
        shape = (k, 3) if name == "keypoints2d" else _SHAPES[name]
        try:
            value = raw[name].astype(np.float32) if raw[name].size or n else np.zeros((0, *shape), np.float32)
        except (TypeError, ValueError):
            raise StoreInputError(f"frame {frame_index}: {name} of dtype {raw[name].dtype}: expected numbers") from None
        if name in _POSES and value.shape == (n, 72):
            value = value.reshape(n, 24, 3)
        if value.shape != (n, *shape):
            also = " or (P, 72)" if name in _POSES else ""
            raise StoreInputError(f"frame {frame_index}: {name} has shape {value.shape} for {n} people; expected "
                                  f"{_shape_text(shape)}{also}")
        out[name] = value
    return out


def _shape_text(shape: tuple) -> str:
    return "(P,)" if not shape else f"(P, {', '.join(map(str, shape))})"


def json_dict(value, name: str) -> dict:
    if not isinstance(value, dict):
        raise StoreInputError(f"{name}: expected a dict, got {type(value).__name__}")
    return json_value(value, name)


def check_source(source: dict) -> dict:
    source = {"path": None, "fps": None, "size": None, "frame_count": None, **json_dict(source, "source")}
    fps, size, count = source["fps"], source["size"], source["frame_count"]
    if fps is not None and (not isinstance(fps, (int, float)) or fps <= 0):
        raise StoreInputError(f"source fps = {fps!r}: expected frames per second > 0, or None when unknown")
    if size is not None and (len(size) != 2 or not all(isinstance(v, int) and v > 0 for v in size)):
        raise StoreInputError(f"source size = {size!r}: expected (width, height) in pixels, or None")
    if count is not None and (not isinstance(count, int) or count < 0):
        raise StoreInputError(f"source frame_count = {count!r}: expected a whole number >= 0, or None")
    return source


def check_camera(camera: dict) -> dict:
    camera = {"convention": CAMERA_CONVENTION, **json_dict(camera, "camera")}
    focal, centre = camera.get("focal"), camera.get("principal_point")
    if isinstance(focal, (int, float)):
        camera["focal"] = focal = [focal, focal]
    if not (isinstance(focal, list) and len(focal) == 2 and all(isinstance(f, (int, float)) and f > 0 for f in focal)):
        raise StoreInputError(f"camera focal = {focal!r}: expected f or (fx, fy) in pixels > 0")
    if not (isinstance(centre, list) and len(centre) == 2 and all(isinstance(c, (int, float)) for c in centre)):
        raise StoreInputError(f"camera principal_point = {centre!r}: expected (cx, cy) in pixels")
    return camera


def check_joint_set(joint_set: str, given: int | None) -> int:
    if joint_set not in JOINT_SETS:
        raise StoreInputError(f"joint_set {joint_set!r}: expected one of {sorted(JOINT_SETS)}")
    k = len(JOINT_SETS[joint_set])
    if given is not None and given != k:
        raise StoreInputError(f"num_keypoints = {given!r}: {joint_set} has {k} keypoints")
    return k
