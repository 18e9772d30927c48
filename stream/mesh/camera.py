"""The crop camera 3DCrowdNet predicts in, moved into the full image's camera.

    trans = crop_camera_to_image(cam_trans_crop, crop_bbox, focal, principal_point, crop_focal=2500.0)

``MeshStage`` applies it to every crop so that everyone in a frame shares one 3D scene, the store's
camera (``stream.store.layout.CAMERA_CONVENTION``).
"""
from __future__ import annotations

import numpy as np

CROP_FOCAL = 5000.0  # 3DCrowdNet's virtual focal length (nets.ModelConfig.focal; stream.mesh.image.RENDER_FOCAL)


def crop_camera_to_image(cam_trans_crop: np.ndarray, bbox: np.ndarray, focal, principal_point,
                         crop_focal=CROP_FOCAL) -> np.ndarray:
    """(N,3) crop-camera translations, (N,4) xywh crop boxes -> (N,3) translations in the full image's camera.

    ``focal`` (a scalar or (N,)) and ``principal_point`` ((2,) or (N, 2)) are the full image's camera, in
    pixels: one per row lets a batch hold crops of several videos.

    The crop camera (3DCrowdNet run with ``bbox``, as ``stream.mesh.image.estimate`` does; its render
    camera) maps a camera-frame point X to image pixels ``u = crop_focal * X_xy / X_z + c_box`` with
    ``crop_focal`` the model's ``config.focal`` in image pixels (5000 for the official model, 2500 for the
    reduced one; a scalar or one per row) and ``c_box`` the box centre ``(x + w/2, y + h/2)``. (A model run
    without ``bbox`` has focal 5000 in 256-crop pixels: pass ``crop_focal = 5000 * w / 256``.)
    The full-image camera is ``u = focal * X_xy / X_z + principal_point`` (stream.store.layout).

    The new translation keeps the person's image size and puts the translation origin (the SMPL
    ``transl`` origin, near the pelvis) on the same pixel::

        t_z' = t_z * focal / crop_focal
        t_xy' = (crop_focal * t_xy / t_z + c_box - principal_point) * t_z' / focal

    The origin then projects exactly as before and every point's image offset from it agrees to first
    order in (body depth extent / t_z'); what changes is only perspective within the body, which the
    full-image camera now models with the true focal length.

    The global orientation is kept as the network gives it (training targets are in the full image's camera
    frame, as in the official recipe). Rotating it towards the box's viewing ray, as one would for a model
    that predicts in a crop-centred camera, was measured on the demo clip (people up to 29 degrees off the
    optical axis, mean 15): pelvis-centred MPJPE 92.5 mm as given, 92.8 mm rotated, so it is not done.
    """
    t = np.asarray(cam_trans_crop, dtype=np.float64).reshape(-1, 3)
    box = np.asarray(bbox, dtype=np.float64).reshape(-1, 4)
    if len(t) != len(box):
        raise ValueError(f"cam_trans_crop has {len(t)} rows but bbox has {len(box)}; expected one box per person")
    crop_focal = _per_row(crop_focal, len(t), 1, "crop_focal")
    focal = _per_row(focal, len(t), 1, "focal")
    pp = _per_row(principal_point, len(t), 2, "principal_point")
    if not (np.all(np.isfinite(focal)) and np.all(focal > 0) and np.all(np.isfinite(crop_focal))
            and np.all(crop_focal > 0)):
        raise ValueError(f"focal = {np.unique(focal).tolist()}, crop_focal = {np.unique(crop_focal).tolist()}: "
                         "expected pixels > 0")
    if np.any(t[:, 2] <= 0):
        raise ValueError(f"cam_trans_crop z = {t[t[:, 2] <= 0, 2].tolist()}: expected depths > 0 (in front "
                         "of the camera)")
    centre = box[:, :2] + box[:, 2:] / 2
    z = t[:, 2:] * (focal / crop_focal)
    xy = (crop_focal * t[:, :2] / t[:, 2:] + centre - pp) * z / focal
    return np.concatenate((xy, z), axis=1)


def _per_row(value, rows: int, width: int, name: str) -> np.ndarray:
    """A scalar / (width,) value, or one per row, as (rows, width) float64."""
    a = np.asarray(value, dtype=np.float64).reshape(-1, width)
    if len(a) not in (1, rows):
        raise ValueError(f"{name} has {len(a)} rows for {rows} people; expected one value or one per person")
    return np.broadcast_to(a, (rows, width))
