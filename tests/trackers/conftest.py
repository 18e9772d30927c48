"""Hand-made detections for the tracker tests: stick figures in COCO-17 at chosen places and sizes."""
from __future__ import annotations

import numpy as np
import pytest

# COCO-17 joints of a person facing the camera: (x, y) as fractions of the height, x from the body's
# centre line (the person's left on the image right), y down from the top of the head.
_COCO17_SHAPE = np.array([
    (0.0, 0.06), (0.015, 0.045), (-0.015, 0.045), (0.035, 0.055), (-0.035, 0.055),
    (0.11, 0.18), (-0.11, 0.18), (0.14, 0.33), (-0.14, 0.33), (0.15, 0.46), (-0.15, 0.46),
    (0.07, 0.52), (-0.07, 0.52), (0.075, 0.75), (-0.075, 0.75), (0.08, 0.98), (-0.08, 0.98),
])


def person(cx: float, top: float, height: float, score: float = 0.9) -> tuple[np.ndarray, np.ndarray]:
    """One COCO-17 person: keypoints (17, 3) and the box (4,) x, y, w, h around them."""
    kpts = np.empty((17, 3))
    kpts[:, 0] = cx + _COCO17_SHAPE[:, 0] * height
    kpts[:, 1] = top + _COCO17_SHAPE[:, 1] * height
    kpts[:, 2] = score
    lo, hi = kpts[:, :2].min(axis=0), kpts[:, :2].max(axis=0)
    return kpts, np.concatenate([lo, hi - lo])


def frame(people: list[tuple[float, float, float]]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """[(cx, top, height), ...] -> (keypoints (N,17,3), boxes (N,4), scores (N,)) of one frame."""
    made = [person(*p) for p in people]
    kpts = np.array([k for k, _ in made]).reshape(-1, 17, 3)
    boxes = np.array([b for _, b in made]).reshape(-1, 4)
    return kpts, boxes, np.full(len(made), 0.9)


@pytest.fixture
def make_frame():
    """``make_frame([(cx, top, height), ...])`` -> keypoints (N,17,3), boxes (N,4), scores (N,)."""
    return frame
