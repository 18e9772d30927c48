"""``CentroidTracker``: the comparison baseline — norfair with a plain box-centre distance.

Each person is one point, the centre of their box; the distance is the Euclidean distance in pixels
between a detection's centre and a track's predicted centre; norfair's default Kalman filter and hit
counter, no re-identification. The threshold (20 px) and the initialization delay (1) were tuned on
the same synthetic sequences as ``PoseTracker`` (``benchmarks/bench_tracking.py --tune``: 10-80 px,
delays 1, 3 and norfair's default 7), so the comparison is with the best plain setup, not a strawman.
Same interface and per-instance IDs as ``PoseTracker``::

    tracker = CentroidTracker()
    people = tracker.update(keypoints, boxes, scores)
"""
from __future__ import annotations

import numpy as np
from norfair import Detection, Tracker

from trackers.core import PeopleTracker


class CentroidTracker(PeopleTracker):
    """norfair's plain setup: box centres, Euclidean distance below ``distance_threshold`` pixels.

    ``hit_counter_max`` is norfair's default; ``initialization_delay=None`` is norfair's default too
    (hit_counter_max // 2).
    """

    def __init__(self, distance_threshold: float = 20.0, hit_counter_max: int = 15,
                 initialization_delay: int | None = 1, first_id: int = 1):
        super().__init__(first_id=first_id)
        self.distance_threshold = distance_threshold
        self.hit_counter_max = hit_counter_max
        self.initialization_delay = initialization_delay

    def _make_tracker(self, num_joints: int) -> Tracker:
        return Tracker(distance_function="euclidean", distance_threshold=self.distance_threshold,
                       hit_counter_max=self.hit_counter_max, initialization_delay=self.initialization_delay,
                       past_detections_length=0)

    def _detection(self, keypoints: np.ndarray, box: np.ndarray, index: int) -> Detection:
        x, y, w, h = box
        return Detection(np.array([[x + w / 2, y + h / 2]], np.float64), data=index)

    def _estimate_box(self, estimate: np.ndarray):
        x, y = estimate[0]
        return float(x), float(y), float(x), float(y)
