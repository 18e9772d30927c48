"""Ground-truth annotation of one rendered frame: keypoint visibility from the z-buffer, boxes.

Visibility rule (``keypoint_visibility``): a joint of person n is visible when
1. it is in front of the camera and projects inside the image (-0.5 <= u < W - 0.5, same for v), and
2. within the 3x3 pixels around its projection (rounded to the nearest pixel centre), some pixel's
   front-most surface belongs to person n itself and lies at most ``tolerance`` metres in front of
   the joint (``depth >= z_joint - tolerance``).

Joints sit inside the body, so the joint is compared with its own person's surface, not with the
depth buffer alone. Another person in front makes the pixels someone else's (occluded by another
person); the person's own torso or far limb in front makes the surface much nearer than the joint
(self-occluded, e.g. the far hip or shoulder seen from the side, the far ear). The neighbourhood lets
thin limbs at crowd scale (a forearm narrower than a pixel) count as seen. The default tolerance,
0.15 m, is more than the distance from a limb's joint to its own skin and less than a torso's depth.
"""
from __future__ import annotations

import numpy as np

from nets.joints import COCO17, CROWDPOSE14, SMPL30, joint_names
from nets.synth.raster import rasterize

KEYPOINT_SETS = ("coco17", "crowdpose14", "smpl30")  # the joint sets of Crowd.keypoints2d
# SMPL30 indices of the joints a COCO-17 or CrowdPose-14 annotation has (19 joints): what ``occlusion`` counts
ANNOTATED = tuple(sorted({SMPL30.index(n) for n in COCO17 + CROWDPOSE14}))


def in_image(uv: np.ndarray, z: np.ndarray, width: int, height: int, near: float = 1e-2) -> np.ndarray:
    """(..., 2) pixels and (...) depths -> (...) bool: in front of the camera and on a pixel of the image."""
    u, v = uv[..., 0], uv[..., 1]
    return (z > near) & (u >= -0.5) & (u < width - 0.5) & (v >= -0.5) & (v < height - 0.5)


def keypoint_visibility(uv: np.ndarray, z: np.ndarray, mesh_id: np.ndarray, depth: np.ndarray,
                        tolerance: float = 0.15) -> tuple[np.ndarray, np.ndarray]:
    """(N, J, 2) projections, (N, J) depths, (H, W) buffers -> (visible (N, J) bool, occluder (N, J) int).

    ``occluder`` is the id of the other person whose surface is front-most at the joint's pixel, -1
    where it is the person's own surface, the background, or the joint is outside the image.
    """
    height, width = mesh_id.shape
    n = uv.shape[0]
    inside = in_image(uv, z, width, height)
    px = np.clip(np.rint(uv[..., 0]), 0, width - 1).astype(np.int64)
    py = np.clip(np.rint(uv[..., 1]), 0, height - 1).astype(np.int64)
    own = np.arange(n)[:, None]
    seen = np.zeros(uv.shape[:2], dtype=bool)
    for dy in (-1, 0, 1):
        for dx in (-1, 0, 1):
            qx, qy = np.clip(px + dx, 0, width - 1), np.clip(py + dy, 0, height - 1)
            seen |= (mesh_id[qy, qx] == own) & (depth[qy, qx] >= z - tolerance)
    front = mesh_id[py, px]
    occluder = np.where(inside & (front >= 0) & (front != own), front, -1)
    return inside & seen, occluder


def mesh_boxes(uv: np.ndarray, z: np.ndarray, width: int, height: int,
               near: float = 1e-2) -> tuple[np.ndarray, np.ndarray]:
    """(N, V, 2) projected vertices, (N, V) depths -> (boxes (N, 4) xywh, present (N,) bool).

    The box spans the projected mesh (vertices in front of the camera, occluded parts included),
    clipped to the image, pixel centres at integers: x in [0, W - 1], y in [0, H - 1]. ``present``: the
    unclipped box overlaps the image. Boxes of people who are not present are zero.
    """
    front = z > near
    big = 1e9
    lo_u, hi_u = np.where(front, uv[..., 0], big).min(axis=1), np.where(front, uv[..., 0], -big).max(axis=1)
    lo_v, hi_v = np.where(front, uv[..., 1], big).min(axis=1), np.where(front, uv[..., 1], -big).max(axis=1)
    any_front = front.any(axis=1)
    present = any_front & (hi_u >= -0.5) & (lo_u < width - 0.5) & (hi_v >= -0.5) & (lo_v < height - 0.5)
    x0, x1 = np.clip(lo_u, 0, width - 1), np.clip(hi_u, 0, width - 1)
    y0, y1 = np.clip(lo_v, 0, height - 1), np.clip(hi_v, 0, height - 1)
    boxes = np.stack([x0, y0, x1 - x0, y1 - y0], -1) * present[:, None]
    return boxes, present


def visible_boxes(mesh_id: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """(H, W) id buffer -> (boxes (n, 4) xywh around each person's visible pixels, pixel counts (n,)).

    A person with no visible pixel gets a zero box.
    """
    rows, cols = np.nonzero(mesh_id >= 0)
    ids = mesh_id[rows, cols]
    count = np.bincount(ids, minlength=n)[:n]
    lo_x, lo_y = np.full(n, np.iinfo(np.int64).max), np.full(n, np.iinfo(np.int64).max)
    hi_x, hi_y = np.full(n, -1), np.full(n, -1)
    np.minimum.at(lo_x, ids, cols)
    np.minimum.at(lo_y, ids, rows)
    np.maximum.at(hi_x, ids, cols)
    np.maximum.at(hi_y, ids, rows)
    has = count > 0
    boxes = np.where(has[:, None], np.stack([lo_x, lo_y, hi_x - lo_x, hi_y - lo_y], -1), 0)
    return boxes.astype(np.float64), count


def keypoints_in(joint_set: str, uv30: np.ndarray, visible30: np.ndarray) -> np.ndarray:
    """(..., 30, 2) SMPL30 pixels and (..., 30) visibility -> (..., K, 3) x, y, visibility in ``joint_set``."""
    index = [SMPL30.index(name) for name in joint_names(joint_set)]
    return np.concatenate([uv30[..., index, :], visible30[..., index, None].astype(uv30.dtype)], axis=-1)


def occluded_fraction(visible30: np.ndarray, inside30: np.ndarray) -> np.ndarray:
    """(..., 30) visible and in-image flags -> (...) fraction of the annotated in-image joints not visible.

    Counts the 19 joints of COCO-17 and CrowdPose-14 (``ANNOTATED``); 0 where none is in the image.
    """
    inside = inside30[..., ANNOTATED]
    hidden = inside & ~visible30[..., ANNOTATED]
    return hidden.sum(-1) / np.maximum(inside.sum(-1), 1)


def annotate(poser, camera, faces: np.ndarray, cull_backfaces: bool, tolerance: float = 0.15, on_frame=None,
             colors=None, background=None) -> dict[str, np.ndarray]:
    """Ground truth of every frame of ``poser`` (a ``nets.synth.crowd.Poser``) seen by ``camera``.

    ``faces`` and ``cull_backfaces`` go to ``rasterize`` (see ``orient_faces``).
    Returns the ``Crowd`` fields joints3d, keypoints2d (per joint set), boxes, visible_boxes,
    visible_pixels, present, occlusion and occluder (shapes in ``nets.synth.crowd``). With
    ``on_frame``, frames are also drawn (``colors`` (N, F, 3), ``background``, Lambert shading) and
    ``on_frame(t, image, mesh_id)`` is called with each, in order.
    """
    T, N = poser.frames, poser.people
    w, h = camera.width, camera.height
    joints3d = np.zeros((T, N, 30, 3), np.float32)
    uv30 = np.zeros((T, N, 30, 2), np.float32)
    visible, inside = np.zeros((T, N, 30), bool), np.zeros((T, N, 30), bool)
    occluder = np.full((T, N, 30), -1, np.int16)
    boxes, vboxes = np.zeros((T, N, 4), np.float32), np.zeros((T, N, 4), np.float32)
    pixels, present = np.zeros((T, N), np.int32), np.zeros((T, N), bool)
    with np.errstate(divide="ignore", invalid="ignore"):  # vertices behind the camera project to inf
        for t in range(T):
            verts, joints = poser(t)
            if on_frame is None:
                raster = rasterize(verts, faces, camera.K, camera.size, draw=False, cull_backfaces=cull_backfaces)
            else:
                raster = rasterize(verts, faces, camera.K, camera.size, colors, background,
                                   cull_backfaces=cull_backfaces)
                on_frame(t, raster.image, raster.mesh_id)
            joints3d[t] = joints
            uv30[t] = camera.project(joints.astype(np.float64))
            inside[t] = in_image(uv30[t], joints[..., 2], w, h)
            visible[t], occluder[t] = keypoint_visibility(uv30[t], joints[..., 2], raster.mesh_id, raster.depth,
                                                          tolerance)
            boxes[t], present[t] = mesh_boxes(camera.project(verts.astype(np.float64)), verts[..., 2], w, h)
            vboxes[t], pixels[t] = visible_boxes(raster.mesh_id, N)
    return {"joints3d": joints3d, "keypoints2d": {s: keypoints_in(s, uv30, visible) for s in KEYPOINT_SETS},
            "boxes": boxes, "visible_boxes": vboxes, "visible_pixels": pixels, "present": present,
            "occlusion": occluded_fraction(visible, inside).astype(np.float32), "occluder": occluder}
