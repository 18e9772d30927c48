"""Skeletons over a frame, to check 2D poses by eye::

    canvas = draw_poses(bgr, frame_poses)          # a new (H, W, 3) uint8 BGR image

Each person gets one colour for its limbs and box (with the person score); joints are dots coloured
by their score (red 0 -> yellow -> green 1). Joints scored below ``threshold`` and limbs touching
them are not drawn.
"""
from __future__ import annotations

import colorsys

import cv2
import numpy as np

from nets.joints import skeleton
from stream.pose2d.base import FramePoses, as_bgr8

_LIMIT = 1 << 15  # OpenCV draws with int coordinates; keep far-off points finite and in range


def person_color(i: int) -> tuple[int, int, int]:
    """A distinct BGR colour for person ``i``."""
    r, g, b = colorsys.hsv_to_rgb((0.13 + i * 0.618) % 1, 0.75, 1.0)
    return int(255 * b), int(255 * g), int(255 * r)


def score_color(score: float) -> tuple[int, int, int]:
    """BGR from red (score 0) through yellow to green (score 1)."""
    s = float(np.clip(score, 0.0, 1.0))
    return 0, int(round(255 * min(1.0, 2 * s))), int(round(255 * min(1.0, 2 * (1 - s))))


def draw_poses(bgr: np.ndarray, poses: FramePoses, threshold: float = 0.3, boxes: bool = True) -> np.ndarray:
    """A copy of ``bgr`` with every person's limbs, joints and (optionally) box and score drawn on it."""
    canvas = as_bgr8(bgr, "image to draw on").copy()
    h, w = canvas.shape[:2]
    unit = max(1, int(round(max(h, w) / 400)))
    edges = skeleton(poses.joint_set)
    for p in range(len(poses)):
        color = person_color(p)
        kpts = np.asarray(poses.keypoints[p], np.float64)
        shown = (kpts[:, 2] >= threshold) & np.isfinite(kpts).all(axis=1)
        xy = np.clip(np.nan_to_num(kpts[:, :2]), -_LIMIT, _LIMIT).round().astype(np.int32)
        if boxes and np.isfinite(poses.boxes[p]).all():
            x, y, bw, bh = np.clip(poses.boxes[p], -_LIMIT, _LIMIT)
            cv2.rectangle(canvas, (int(x), int(y)), (int(x + bw), int(y + bh)), color, unit)
            cv2.putText(canvas, f"{float(poses.scores[p]):.2f}", (int(x), int(y) - 3 * unit), cv2.FONT_HERSHEY_SIMPLEX,
                        0.4 * unit, color, unit, cv2.LINE_AA)
        for a, b in edges:
            if shown[a] and shown[b]:
                cv2.line(canvas, tuple(xy[a]), tuple(xy[b]), color, 2 * unit, cv2.LINE_AA)
        for j in np.flatnonzero(shown):
            cv2.circle(canvas, tuple(xy[j]), 2 * unit + 1, score_color(kpts[j, 2]), -1, cv2.LINE_AA)
    return canvas
