"""Distances the pose tracker hands to norfair: detection-to-track and lost-track re-identification.

Every norfair point set here is a person's K keypoints followed by two box corners, (x0, y0) and
(x1, y1) — ``to_points`` / ``points_box``. Keypoints carry their scores; the corners always count
as seen.

- ``PoseDistance``: 1 - OKS x size over the keypoints seen in both the detection and the track
  (OKS with the track's box area as the scale and per-joint sigmas by joint name; size = box-height
  consistency); a box distance (IoU and height) when fewer than ``min_common`` keypoints are shared.
  Vectorised over all detections x tracks.
- ``ReidDistance``: a new track against a lost one: position against the lost track's predicted
  box centre (tolerance growing with the gap) and box-height consistency.
"""
from __future__ import annotations

import math
from typing import Sequence

import numpy as np
from norfair import Distance

# The COCO keypoints in COCO's order (the layout of a 17-keypoint pose when the caller names no joints).
COCO17 = ("Nose", "L_Eye", "R_Eye", "L_Ear", "R_Ear", "L_Shoulder", "R_Shoulder", "L_Elbow", "R_Elbow",
          "L_Wrist", "R_Wrist", "L_Hip", "R_Hip", "L_Knee", "R_Knee", "L_Ankle", "R_Ankle")
# Per-joint OKS sigmas of the COCO keypoint evaluation (cocoapi), by joint name. Joints COCO does
# not annotate (neck, head top, pelvis, spine, toes, hands) get DEFAULT_SIGMA.
COCO_SIGMAS = {
    "Nose": 0.026, "L_Eye": 0.025, "R_Eye": 0.025, "L_Ear": 0.035, "R_Ear": 0.035,
    "L_Shoulder": 0.079, "R_Shoulder": 0.079, "L_Elbow": 0.072, "R_Elbow": 0.072,
    "L_Wrist": 0.062, "R_Wrist": 0.062, "L_Hip": 0.107, "R_Hip": 0.107,
    "L_Knee": 0.087, "R_Knee": 0.087, "L_Ankle": 0.089, "R_Ankle": 0.089,
}
DEFAULT_SIGMA = 0.079


def joint_sigmas(names: Sequence[str] | None, num_joints: int) -> np.ndarray:
    """(K,) OKS sigmas for the joints ``names`` (DEFAULT_SIGMA for all when ``names`` is None)."""
    if names is None:
        return np.full(num_joints, DEFAULT_SIGMA)
    return np.array([COCO_SIGMAS.get(n, DEFAULT_SIGMA) for n in names])


def to_points(keypoints: np.ndarray, box: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(K,3) keypoints + (4,) xywh box -> norfair points (K+2, 2) and scores (K+2,)."""
    x, y, w, h = box
    points = np.concatenate([keypoints[:, :2], [[x, y], [x + w, y + h]]], axis=0)
    scores = np.concatenate([keypoints[:, 2], [1.0, 1.0]])
    return points.astype(np.float64), scores.astype(np.float64)


def points_box(points: np.ndarray) -> np.ndarray:
    """(..., K+2, 2) norfair points -> (..., 4) xyxy box from the two corner points."""
    return np.concatenate([points[..., -2, :], points[..., -1, :]], axis=-1)


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(N,4) and (M,4) xyxy boxes -> (N,M) IoU (0 where a union is empty)."""
    a = np.asarray(a, np.float64).reshape(-1, 4)
    b = np.asarray(b, np.float64).reshape(-1, 4)
    lo = np.maximum(a[:, None, :2], b[None, :, :2])
    hi = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.clip(hi - lo, 0, None).prod(axis=-1)
    area_a = np.clip(a[:, 2:] - a[:, :2], 0, None).prod(axis=-1)
    area_b = np.clip(b[:, 2:] - b[:, :2], 0, None).prod(axis=-1)
    union = area_a[:, None] + area_b[None, :] - inter
    return np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)


def pose_distances(det_points: np.ndarray, det_scores: np.ndarray, trk_points: np.ndarray, trk_seen: np.ndarray,
                   kappa2: np.ndarray, keypoint_threshold: float, min_common: int, size_tolerance: float,
                   box_scale: float) -> np.ndarray:
    """Detections x tracks -> (N, M) distances; see ``PoseDistance`` for the definition.

    det_points (N, K+2, 2), det_scores (N, K), trk_points (M, K+2, 2) predicted, trk_seen (M, K) bool.
    """
    k = len(kappa2)
    trk_box, det_box = points_box(trk_points), points_box(det_points)
    area = np.maximum(np.prod(np.clip(trk_box[:, 2:] - trk_box[:, :2], 0, None), axis=1), 1.0)
    d2 = ((det_points[:, None, :k] - trk_points[None, :, :k]) ** 2).sum(axis=-1)     # (N, M, K)
    sim = np.exp(-d2 / (2.0 * area[None, :, None] * kappa2))
    shared = (det_scores > keypoint_threshold)[:, None, :] & trk_seen[None, :, :]
    weight = np.where(shared, np.maximum(det_scores, 1e-6)[:, None, :], 0.0)
    oks = (sim * weight).sum(axis=-1) / np.maximum(weight.sum(axis=-1), 1e-12)
    size = np.ones_like(oks)
    if size_tolerance > 0:
        h_det = np.maximum(det_box[:, 3] - det_box[:, 1], 1.0)
        h_trk = np.maximum(trk_box[:, 3] - trk_box[:, 1], 1.0)
        size = np.exp(-0.5 * (np.log(h_det[:, None] / h_trk[None, :]) / size_tolerance) ** 2)
    pose = 1.0 - oks * size
    box = np.maximum(box_scale * (1.0 - box_iou(det_box, trk_box)), 1.0 - size)
    n_shared = shared.sum(axis=-1)
    return np.where(n_shared >= min_common, pose, np.where(n_shared > 0, np.maximum(pose, box), box))


class PoseDistance(Distance):
    """Detections x tracks -> (N, M) distances, 0 = same pose and size (norfair's ``Distance`` interface).

    A track keypoint counts as seen while norfair's pointwise hit counter for it is >= 0 at matching
    time, i.e. for ``pointwise_hit_counter_max`` frames after a detection last saw it; a detection
    keypoint when its score is above ``keypoint_threshold``. Over the keypoints seen in both::

        sim_j = exp(-|d_j - t_j|^2 / (2 * area * (2 * sigma_j * sigma_scale)^2))
        OKS   = sum_j w_j sim_j / sum_j w_j          (w_j = the detection's score of joint j)
        size  = exp(-(log(h_det / h_track))^2 / (2 * size_tolerance^2))    (1 when the tolerance is 0)
        pose distance = 1 - OKS * size

    ``area`` is the track's predicted box area (at least 1 px^2), h the box heights. With at least
    ``min_common`` shared keypoints the distance is the pose distance; with none it is the box
    distance max((1 - IoU) * threshold / (1 - min_box_iou), 1 - size), which reaches ``threshold``
    at IoU = ``min_box_iou``; with a few, the larger of the two. Values lie in [0, 1] for poses and
    up to threshold / (1 - min_box_iou) for boxes.
    """

    def __init__(self, sigmas: np.ndarray, keypoint_threshold: float, min_common: int, sigma_scale: float,
                 size_tolerance: float, min_box_iou: float, threshold: float):
        self.kappa2 = (2.0 * np.asarray(sigmas, np.float64) * sigma_scale) ** 2
        self.keypoint_threshold = keypoint_threshold
        self.min_common = max(1, min_common)
        self.size_tolerance = size_tolerance
        self.box_scale = threshold / (1.0 - min_box_iou)

    def __call__(self, det_points: np.ndarray, det_scores: np.ndarray, trk_points: np.ndarray,
                 trk_seen: np.ndarray) -> np.ndarray:
        """Distances of stacked detections against stacked track predictions (arrays as in ``pose_distances``)."""
        return pose_distances(det_points, det_scores, trk_points, trk_seen, self.kappa2, self.keypoint_threshold,
                              self.min_common, self.size_tolerance, self.box_scale)

    def get_distances(self, objects, candidates) -> np.ndarray:
        n_cand = 0 if candidates is None else len(candidates)
        if n_cand == 0 or not objects:
            return np.full((n_cand, len(objects)), np.inf)
        k = len(self.kappa2)
        det = np.stack([c.points for c in candidates])
        det_scores = np.stack([c.scores[:k] for c in candidates])
        est = np.stack([o.estimate for o in objects])
        seen = np.stack([(o.point_hit_counter[:k] >= 0) & o.detected_at_least_once_points[:k] for o in objects])
        return self(det, det_scores, est, seen)


class ReidDistance:
    """A new (tentative) track against a lost confirmed one -> distance; 1 = at a tolerance.

    ``max(position, size)`` where

    - position = |c_new - c_lost| / (h_lost * (tolerance + growth * gap)): ``c_new`` the new track's
      last detected box centre, ``c_lost`` the lost track's predicted box centre now (its filter
      carried on with a velocity that decays while the track is unmatched), ``h_lost`` its last
      detected box height, ``gap`` the frames since it was last matched;
    - size = |log(h_new / h_lost)| / log(size_ratio).

    A new track that was already alive when the lost one was last matched cannot be that person
    (two people at once): infinite distance. So is a "lost" track that was never confirmed (norfair
    keeps dead tentative tracks for the re-identification window too).
    """

    def __init__(self, tolerance: float, growth: float, size_ratio: float):
        self.tolerance = tolerance
        self.growth = growth
        self.log_size_ratio = math.log(size_ratio)

    def __call__(self, new, lost) -> float:
        gap = lost.age - lost.last_detection.age
        if lost.is_initializing or new.age >= gap:
            return math.inf
        new_box = points_box(new.last_detection.points)
        lost_box = points_box(lost.last_detection.points)
        predicted = points_box(lost.estimate)
        h_new = max(new_box[3] - new_box[1], 1.0)
        h_lost = max(lost_box[3] - lost_box[1], 1.0)
        shift = (new_box[:2] + new_box[2:]) / 2 - (predicted[:2] + predicted[2:]) / 2
        position = float(np.linalg.norm(shift)) / (h_lost * (self.tolerance + self.growth * gap))
        size = abs(math.log(h_new / h_lost)) / self.log_size_ratio
        return max(position, size)
