"""``TrackerConfig``: every setting of the pose tracker, with defaults tuned on synthetic crowds.

The defaults were chosen with ``benchmarks/bench_tracking.py --tune`` on generated crowds (8 and 20
people, seeds 100-111, none of them the benchmark's reported seeds) at 30 fps with the detection
simulator's ``moderate`` noise, checked against its ``heavy`` noise. Frame counts are frames of the
tracked stream: for another frame rate, ``TrackerConfig().for_fps(fps)`` keeps the same times.
"""
from __future__ import annotations

import math
import typing
from dataclasses import dataclass, replace
from typing import Literal

KalmanFilter = Literal["optimized", "filterpy", "none"]
KALMAN_FILTERS = typing.get_args(KalmanFilter)


@dataclass(frozen=True)
class TrackerConfig:
    """Settings of ``PoseTracker``. Distances are unitless: 0 = identical, 1 = nothing in common."""

    # --- matching a detection to a track ---------------------------------------------------------
    distance_threshold: float = 0.8
    """Largest detection-to-track distance that may continue a track (strictly below matches).
    The distance (``trackers.distances.PoseDistance``) is 1 - OKS x size similarity over the
    keypoints seen in both, in [0, 1]; a box distance where they share too few keypoints."""
    keypoint_threshold: float = 0.3
    """A keypoint counts as seen (in a detection, and for updating the track's filter) when its score
    is strictly above this."""
    min_common_keypoints: int = 3
    """Fewest keypoints seen in both the detection and the track for the pose distance alone; with
    fewer the box distance takes part (alone when none is shared)."""
    oks_sigma_scale: float = 2.0
    """Multiplier on the per-joint OKS sigmas of COCO (a frame-to-frame match tolerates more than
    an annotation does: motion prediction error adds to detector jitter)."""
    size_tolerance: float = 0.1
    """Box-height consistency: the similarity is multiplied by exp(-(log(h_det / h_track))^2 /
    (2 tol^2)), so a box 10% taller or shorter than predicted keeps 0.6 of it. This is what tells apart
    people who overlap in the image at different depths. Raise it for detectors whose box heights jump
    more than a few percent from frame to frame; 0 turns it off."""
    min_box_iou: float = 0.2
    """Box distance: (1 - IoU) scaled so that it reaches ``distance_threshold`` at this IoU."""
    min_detection_score: float = 0.0
    """Detections whose person score is below this are ignored (never matched, never emitted)."""

    # --- track life ----------------------------------------------------------------------------
    birth_delay: int = 1
    """A new track is confirmed (gets an ID and is emitted) on its ``birth_delay + 1``-th matched
    frame in a row; 0 confirms on the first detection. Must be below ``hit_counter_max``."""
    hit_counter_max: int = 12
    """A confirmed track that stops matching is still matched by its predicted position for this many
    frames (norfair's hit counter: +2 per match up to this cap, -1 per frame)."""
    pointwise_hit_counter_max: int = 6
    """A track keypoint takes part in the distance for this many frames after it was last seen."""
    lost_velocity_decay: float = 0.8
    """Each frame a track goes unmatched its filter velocity is multiplied by this, so a hidden
    person's predicted position drifts at most 1 / (1 - decay) frames of motion from where they were
    last seen (5 at 0.8) instead of walking on forever. 1 = constant velocity."""

    # --- re-identification of lost people ------------------------------------------------------
    reid_window: int = 90
    """Frames a lost track stays re-identifiable after its hit counter runs out. A person is kept
    through a disappearance of up to ``hit_counter_max + reid_window`` frames (``max_gap_frames``:
    102 = 3.4 s at 30 fps with the defaults): when they reappear, their new tentative track is merged
    back into the lost one on its second detection and keeps the ID. 0 turns re-identification off."""
    reid_threshold: float = 1.0
    """Largest re-identification distance that merges a new track into a lost one. The distance is
    the larger of the position term and the size term below (each 1 at its tolerance)."""
    reid_position_tolerance: float = 0.5
    """Position term: the new track's box centre against the lost track's predicted centre, in lost
    box heights, allowed at a gap of zero frames ..."""
    reid_position_growth: float = 0.02
    """... plus this many box heights per frame of gap (the longer someone is hidden, the further
    they may have walked from the prediction): 0.5 + 0.02 x 60 = 1.7 heights after 2 s at 30 fps."""
    reid_size_ratio: float = 1.5
    """Size term: box heights of the new and the lost track may differ by this ratio (either way)."""

    # --- motion filter -------------------------------------------------------------------------
    kalman: KalmanFilter = "optimized"
    """Per-point constant-velocity Kalman filter: 'optimized' (norfair's OptimizedKalmanFilter),
    'filterpy' (full covariance, slower) or 'none' (positions only, no motion prediction)."""
    kalman_r: float = 16.0
    """Measurement noise of the Kalman filter, pixels squared (higher = smoother, slower to follow)."""
    kalman_q: float = 0.1
    """Process noise of the velocity in the Kalman filter."""

    # --- output --------------------------------------------------------------------------------
    emit_predicted: bool = False
    """Also emit confirmed tracks that have no detection this frame (``detection_index == -1``,
    keypoints = the filter's prediction with zero scores). Off: only people seen this frame."""
    first_id: int = 1
    """The first track ID of every tracker instance; IDs then count up by one per confirmed track."""

    def __post_init__(self):
        # the same checks and messages as nets.config.check (trackers imports nothing of ours)
        def need(ok: bool, name: str, expected: str):
            if not ok:
                raise ValueError(f"TrackerConfig.{name} = {getattr(self, name)!r}: expected {expected}")

        def number(name: str) -> bool:
            value = getattr(self, name)
            return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)

        for name in ("distance_threshold", "oks_sigma_scale", "reid_threshold", "reid_position_tolerance",
                     "kalman_r"):
            need(number(name) and getattr(self, name) > 0, name, "a finite number > 0")
        for name in ("keypoint_threshold", "min_detection_score", "size_tolerance", "reid_position_growth",
                     "kalman_q"):
            need(number(name) and getattr(self, name) >= 0, name, "a finite number >= 0")
        need(number("min_box_iou") and 0 <= self.min_box_iou < 1, "min_box_iou", "an IoU in [0, 1)")
        need(number("lost_velocity_decay") and 0 <= self.lost_velocity_decay <= 1, "lost_velocity_decay",
             "a factor in [0, 1]")
        need(number("reid_size_ratio") and self.reid_size_ratio > 1, "reid_size_ratio", "a ratio > 1")
        for name in ("min_common_keypoints", "birth_delay", "pointwise_hit_counter_max", "reid_window", "first_id"):
            value = getattr(self, name)
            need(isinstance(value, int) and not isinstance(value, bool) and value >= 0, name, "an int >= 0")
        need(isinstance(self.hit_counter_max, int) and self.hit_counter_max > self.birth_delay,
             "hit_counter_max", f"an int > birth_delay ({self.birth_delay})")
        need(self.kalman in KALMAN_FILTERS, "kalman", f"one of {KALMAN_FILTERS}")
        need(isinstance(self.emit_predicted, bool), "emit_predicted", "True or False")

    @property
    def max_gap_frames(self) -> int:
        """Longest run of frames a person may go undetected and still keep their ID."""
        return self.hit_counter_max + self.reid_window

    def for_fps(self, fps: float, reference_fps: float = 30.0) -> "TrackerConfig":
        """The same times at another frame rate: frame counts, per-frame growth and decay rescaled."""
        if not (isinstance(fps, (int, float)) and math.isfinite(fps) and fps > 0):
            raise ValueError(f"fps = {fps!r}: expected a frame rate > 0")
        k = fps / reference_fps
        scaled = {name: max(1, round(getattr(self, name) * k))
                  for name in ("hit_counter_max", "pointwise_hit_counter_max")}
        scaled["reid_window"] = round(self.reid_window * k)
        scaled["birth_delay"] = min(round(self.birth_delay * k), scaled["hit_counter_max"] - 1)
        scaled["reid_position_growth"] = self.reid_position_growth / k
        scaled["lost_velocity_decay"] = self.lost_velocity_decay ** (1 / k)
        return replace(self, **scaled)
