"""Plain pipeline stages of ``stream process`` (no Ray here; the actors wrap these).

    jobs = person_jobs(frame_index, bgr, tracker.update(...), "coco17")   # crops batch of one frame
    trans = crop_camera_to_image(out["cam_trans"], jobs["bbox"], focal, principal_point)

``person_jobs`` crops exactly as ``stream image`` does (``stream.crops.crop_people``, the official demo's
preprocessing). ``crop_camera_to_image`` moves each person's crop-camera translation into the full
image's camera so that everyone in a frame shares one 3D scene.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from stream.crops import CropConfig, crop_people

__all__ = ["CROP_FOCAL", "crop_camera_to_image", "person_jobs"]

CROP_FOCAL = 5000.0  # 3DCrowdNet's virtual focal length (nets.ModelConfig.focal; stream.image.RENDER_FOCAL)


def person_jobs(frame_index: int, bgr: np.ndarray, tracked_people: Sequence, joint_set: str,
                config: CropConfig = CropConfig()) -> dict[str, np.ndarray]:
    """Model inputs for the tracked people of one frame: the ``crop_people`` batch plus who and when.

    bgr (H,W,3) uint8 as decoded; tracked_people: ``trackers.TrackedPerson``-like objects (``track_id``,
    ``keypoints`` (K,3) image pixels + score in ``joint_set``). Returns every ``crop_people`` key
    (``img`` (N,3,S,S), ``joints`` (N,30,3), ``joints_mask`` (N,30,1), ``bbox`` (N,4), ...) for the
    N people kept (weak or duplicate poses, e.g. predicted-only people with zero scores, are dropped as
    the official demo drops them), with ``index`` their position in ``tracked_people``, plus
    ``track_id`` (N,) int64 and ``frame_index`` (N,) int64.
    """
    bgr = np.asarray(bgr)
    if bgr.ndim != 3 or bgr.shape[2] != 3 or bgr.dtype != np.uint8:
        raise ValueError(f"frame {frame_index}: expected an (H, W, 3) uint8 BGR image, got shape {bgr.shape} "
                         f"dtype {bgr.dtype}")
    rgb = np.ascontiguousarray(bgr[:, :, ::-1])
    batch = crop_people(rgb, [np.asarray(p.keypoints) for p in tracked_people], joint_set, config)
    ids = np.array([p.track_id for p in tracked_people], dtype=np.int64)
    batch["track_id"] = ids[batch["index"]] if len(ids) else np.zeros(0, np.int64)
    batch["frame_index"] = np.full(len(batch["index"]), frame_index, dtype=np.int64)
    return batch


def crop_camera_to_image(cam_trans_crop: np.ndarray, bbox: np.ndarray, focal: float, principal_point,
                         crop_focal: float = CROP_FOCAL) -> np.ndarray:
    """(N,3) crop-camera translations, (N,4) xywh boxes -> (N,3) translations in the full image's camera.

    The crop camera (3DCrowdNet run with ``bbox``, as ``stream.image.estimate`` does; its render
    camera) maps a camera-frame point X to image pixels ``u = crop_focal * X_xy / X_z + c_box`` with
    ``crop_focal`` = 5000 image pixels and ``c_box`` the box centre ``(x + w/2, y + h/2)``. (A model run
    without ``bbox`` has focal 5000 in 256-crop pixels: pass ``crop_focal = 5000 * w / 256``.)
    The full-image camera is ``u = focal * X_xy / X_z + principal_point`` (stream.store_layout).

    The new translation keeps the person's image size and puts the translation origin (the SMPL
    ``transl`` origin, near the pelvis) on the same pixel::

        t_z' = t_z * focal / crop_focal
        t_xy' = (crop_focal * t_xy / t_z + c_box - principal_point) * t_z' / focal

    The origin then projects exactly as before and every point's image offset from it agrees to first
    order in (body depth extent / t_z'); what changes is only perspective within the body, which the
    full-image camera now models with the true focal length.
    """
    t = np.asarray(cam_trans_crop, dtype=np.float64).reshape(-1, 3)
    box = np.asarray(bbox, dtype=np.float64).reshape(-1, 4)
    if len(t) != len(box):
        raise ValueError(f"cam_trans_crop has {len(t)} rows but bbox has {len(box)}; expected one box per person")
    if not (np.isfinite(focal) and focal > 0 and np.isfinite(crop_focal) and crop_focal > 0):
        raise ValueError(f"focal = {focal!r}, crop_focal = {crop_focal!r}: expected pixels > 0")
    if np.any(t[:, 2] <= 0):
        raise ValueError(f"cam_trans_crop z = {t[t[:, 2] <= 0, 2].tolist()}: expected depths > 0 (in front "
                         "of the camera)")
    centre = box[:, :2] + box[:, 2:] / 2
    pp = np.asarray(principal_point, dtype=np.float64).reshape(2)
    z = t[:, 2:] * (focal / crop_focal)
    xy = (crop_focal * t[:, :2] / t[:, 2:] + centre - pp) * z / focal
    return np.concatenate((xy, z), axis=1)
