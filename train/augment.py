"""Crop and augmentation with consistent 2D/3D targets (TRAINING.md §3), as pure functions.

Usage inside a dataset's ``__getitem__`` (``rng`` a ``numpy.random.Generator``)::

    bbox = process_bbox(ann_bbox, img_w, img_h)            # None: skip the sample
    aug = sample_augmentation(rng) if train else Augmentation()
    patch, trans, inv_trans = crop_image(img, bbox, aug)     # (256,256,3) float32 in [0,255]
    joint_img = transform_joints_2d(joints_px, trans, aug, img_w, SMPL30_FLIP_PAIRS)  # crop px
    joint_cam = augment_joint_cam(root_relative_cam, aug, SMPL30_FLIP_PAIRS)
    pose = augment_smpl_pose(pose, aug)
    trunc = truncation_mask(to_heatmap_space(joint_img, joint_cam[:, 2]), valid)

Conventions: image x right, y down; camera x right, y down, z forward (so the in-plane image
rotation and Rz act on the same axes). ``aug.rot`` is in degrees: the crop's source square is
turned by +rot, so the crop content turns by −rot and 3D targets are left-multiplied by Rz(−rot).
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import torch

from nets.geometry import axis_angle_to_matrix, matrix_to_axis_angle

INPUT_SIZE = 256
HEATMAP_SIZE = 64
BBOX_3D_SIZE = 2.0  # metres of depth the 64 bins span, centred on the root
SMPL24_FLIP_PAIRS = ((1, 2), (4, 5), (7, 8), (10, 11), (13, 14), (16, 17), (18, 19), (20, 21), (22, 23))


@dataclass(frozen=True)
class Augmentation:
    """One draw of the train augmentation; the default is the identity (test time)."""
    scale: float = 1.0
    rot: float = 0.0                      # degrees
    color: tuple = (1.0, 1.0, 1.0)        # per-channel gain
    flip: bool = False


def sample_augmentation(rng: np.random.Generator) -> Augmentation:
    """The official draw: scale 1+0.25·clip(N,±1); rot 30°·clip(N,±2) with p=0.6; gain U[.8,1.2]³; flip p=.5."""
    scale = 1.0 + 0.25 * float(np.clip(rng.standard_normal(), -1.0, 1.0))
    rot = 30.0 * float(np.clip(rng.standard_normal(), -2.0, 2.0)) if rng.random() <= 0.6 else 0.0
    color = tuple(float(c) for c in rng.uniform(0.8, 1.2, size=3))
    flip = bool(rng.random() <= 0.5)
    return Augmentation(scale=scale, rot=rot, color=color, flip=flip)


def process_bbox(bbox, img_width: float, img_height: float, aspect: float = 1.0,
                 enlarge: float = 1.25, check: bool = True) -> np.ndarray | None:
    """xywh box -> (4,) float xywh: clipped to the image, padded to ``aspect`` (w/h), ×``enlarge``.

    Returns None for a degenerate box unless ``check`` is False (the 3DPW/MuPoTS joint-box path).
    """
    x, y, w, h = (float(v) for v in bbox)
    x1, y1 = max(0.0, x), max(0.0, y)
    x2 = min(img_width - 1.0, x1 + max(0.0, w - 1.0))
    y2 = min(img_height - 1.0, y1 + max(0.0, h - 1.0))
    if w * h > 0 and x2 > x1 and y2 > y1:
        x, y, w, h = x1, y1, x2 - x1, y2 - y1
    elif check:
        return None
    cx, cy = x + w / 2.0, y + h / 2.0
    if w > aspect * h:
        h = w / aspect
    elif w < aspect * h:
        w = h * aspect
    w, h = w * enlarge, h * enlarge
    return np.array([cx - w / 2.0, cy - h / 2.0, w, h], dtype=np.float64)


def _rotate(v: np.ndarray, deg: float) -> np.ndarray:
    r = np.deg2rad(deg)
    c, s = np.cos(r), np.sin(r)
    return np.array([v[0] * c - v[1] * s, v[0] * s + v[1] * c])


def patch_transform(cx: float, cy: float, src_w: float, src_h: float, out_w: int, out_h: int,
                    scale: float = 1.0, rot: float = 0.0, inverse: bool = False) -> np.ndarray:
    """(2,3) affine mapping the source box (centre, size ×scale, turned by ``rot`` degrees) onto
    the ``out_w``×``out_h`` patch (or back, with ``inverse``), from three point pairs."""
    src_c = np.array([cx, cy])
    src = np.stack([src_c, src_c + _rotate(np.array([0.0, src_h * scale * 0.5]), rot),
                    src_c + _rotate(np.array([src_w * scale * 0.5, 0.0]), rot)])
    dst_c = np.array([out_w * 0.5, out_h * 0.5])
    dst = np.stack([dst_c, dst_c + np.array([0.0, out_h * 0.5]), dst_c + np.array([out_w * 0.5, 0.0])])
    if inverse:
        src, dst = dst, src
    # solve [x y 1] · M^T = [x' y'] for the three pairs
    a = np.concatenate([src, np.ones((3, 1))], axis=1)
    return np.linalg.solve(a, dst).T


def apply_affine(points: np.ndarray, trans: np.ndarray) -> np.ndarray:
    """(N,2) points, (2,3) affine -> (N,2)."""
    points = np.asarray(points, dtype=np.float64)
    return points @ trans[:, :2].T + trans[:, 2]


def crop_image(img: np.ndarray, bbox: np.ndarray, aug: Augmentation = Augmentation(),
               out_size: int = INPUT_SIZE) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(H,W,3) image -> (patch (S,S,3) float32 in [0,255], trans (2,3), inv_trans (2,3)).

    Flip mirrors the image first (the box centre becomes W−1−cx); the warp is bilinear; the
    colour gain is applied per channel and clipped to [0,255]. ``trans`` maps original-image
    pixels (after the flip, when flipped) to patch pixels.
    """
    img = np.asarray(img)
    cx, cy = bbox[0] + bbox[2] * 0.5, bbox[1] + bbox[3] * 0.5
    if aug.flip:
        img = img[:, ::-1]
        cx = img.shape[1] - cx - 1.0
    trans = patch_transform(cx, cy, bbox[2], bbox[3], out_size, out_size, aug.scale, aug.rot)
    inv = patch_transform(cx, cy, bbox[2], bbox[3], out_size, out_size, aug.scale, aug.rot, inverse=True)
    patch = cv2.warpAffine(np.ascontiguousarray(img), trans, (out_size, out_size), flags=cv2.INTER_LINEAR)
    patch = np.clip(patch.astype(np.float32) * np.asarray(aug.color, dtype=np.float32), 0.0, 255.0)
    return patch, trans, inv


def flip_joints(values: np.ndarray, pairs) -> np.ndarray:
    """(J,C) -> (J,C) with the rows of each left/right pair swapped."""
    out = np.array(values, copy=True)
    for a, b in pairs:
        out[[a, b]] = out[[b, a]]
    return out


def transform_joints_2d(joints: np.ndarray, trans: np.ndarray, aug: Augmentation, img_width: float,
                        flip_pairs) -> np.ndarray:
    """(J,2+) original-image pixels -> (J,2+) patch pixels (extra columns kept, flipped with rows).

    Flip: x -> W−1−x and left/right swap, then the crop affine."""
    out = np.array(joints, dtype=np.float64, copy=True)
    if aug.flip:
        out[:, 0] = img_width - 1.0 - out[:, 0]
        out = flip_joints(out, flip_pairs)
    out[:, :2] = apply_affine(out[:, :2], trans)
    return out


def rot_z(deg: float) -> np.ndarray:
    """(3,3) rotation by ``deg`` degrees about the camera z axis."""
    r = np.deg2rad(deg)
    c, s = np.cos(r), np.sin(r)
    return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])


def augment_joint_cam(joint_cam: np.ndarray, aug: Augmentation, flip_pairs) -> np.ndarray:
    """(J,3) root-relative camera joints -> (J,3): flip (swap L/R, negate x), then Rz(−rot).

    Applied to every dataset, MPII included (the official MPII path skips the rotation and
    leaves its fit joints absolute: fixed here, the caller passes root-relative joints)."""
    out = np.array(joint_cam, dtype=np.float64, copy=True)
    if aug.flip:
        out = flip_joints(out, flip_pairs)
        out[:, 0] = -out[:, 0]
    return out @ rot_z(-aug.rot).T


def flip_smpl_pose(pose: np.ndarray) -> np.ndarray:
    """(72,) axis-angle -> (72,) of the mirrored body: L/R joints swapped, y and z negated."""
    p = flip_joints(np.asarray(pose, dtype=np.float64).reshape(24, 3), SMPL24_FLIP_PAIRS)
    p[:, 1:] *= -1.0
    return p.reshape(72)


def rotate_root_pose(pose: np.ndarray, deg: float) -> np.ndarray:
    """(72,) -> (72,) with the root orientation left-multiplied by Rz(deg)."""
    p = np.asarray(pose, dtype=np.float64).reshape(24, 3).copy()
    root = axis_angle_to_matrix(torch.from_numpy(p[:1]))[0].numpy()
    new = torch.from_numpy((rot_z(deg) @ root)[None])
    p[0] = matrix_to_axis_angle(new)[0].numpy()
    return p.reshape(72)


def augment_smpl_pose(pose: np.ndarray, aug: Augmentation) -> np.ndarray:
    """(72,) -> (72,): flip, then the root turned by Rz(−rot) (the same map as ``augment_joint_cam``)."""
    out = flip_smpl_pose(pose) if aug.flip else np.asarray(pose, dtype=np.float64).copy()
    return rotate_root_pose(out, -aug.rot) if aug.rot else out


def flip_smpl_translation(trans: np.ndarray, root_rest: np.ndarray) -> np.ndarray:
    """(3,) SMPL trans -> (3,) so that the flipped body's root lands at the mirrored root.

    ``root_rest`` (3,) is the unposed root joint J_0(β) (the root does not move with pose), so
    the posed root is J_0 + trans and its mirror needs x' = −trans_x − 2·J_0x."""
    out = np.array(trans, dtype=np.float64, copy=True)
    out[0] = -out[0] - 2.0 * float(root_rest[0])
    return out


def to_heatmap_space(joint_img: np.ndarray, root_rel_depth: np.ndarray | None = None,
                     input_size: int = INPUT_SIZE, heatmap_size: int = HEATMAP_SIZE) -> np.ndarray:
    """(J,2) patch pixels and optional (J,) root-relative depth in metres -> (J,3) 64-px/64-bin.

    Depth bin = (d / (BBOX_3D_SIZE/2) + 1) / 2 · 64; without depth the third column is 0. Other
    geometries (the reduced model's 128-px crop, 32 bins) through ``input_size``/``heatmap_size``."""
    xy = np.asarray(joint_img, dtype=np.float64)[:, :2] * (heatmap_size / input_size)
    z = np.zeros(len(xy)) if root_rel_depth is None else \
        (np.asarray(root_rel_depth, dtype=np.float64) / (BBOX_3D_SIZE / 2) + 1.0) / 2.0 * heatmap_size
    return np.concatenate([xy, z[:, None]], axis=1)


def truncation_mask(joint_hm: np.ndarray, valid: np.ndarray, use_depth: bool = True,
                    heatmap_size: int = HEATMAP_SIZE) -> np.ndarray:
    """(J,3) heatmap-space joints, (J,) or (J,1) validity -> (J,1) float: valid ∧ inside the
    64³ volume (``use_depth``, 3D data) or the 64² grid (2D data)."""
    j = np.asarray(joint_hm, dtype=np.float64)
    dims = 3 if use_depth else 2
    inside = np.all((j[:, :dims] >= 0) & (j[:, :dims] < heatmap_size), axis=1)
    return (inside & (np.asarray(valid).reshape(-1) > 0)).astype(np.float32)[:, None]


def sanitize_betas(betas: np.ndarray, limit: float = 3.0) -> np.ndarray:
    """(10,) -> (10,): all zeros if any |β| > ``limit`` (official), else unchanged."""
    betas = np.asarray(betas, dtype=np.float64)
    return np.zeros_like(betas) if np.any(np.abs(betas) > limit) else betas.copy()
