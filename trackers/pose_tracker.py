"""``PoseTracker``: online multi-person 2D pose tracking on norfair, built for crowds.

Per frame it takes the people a bottom-up pose estimator found and returns the confirmed ones with
their track IDs::

    tracker = PoseTracker(TrackerConfig(), joint_names=names)   # names of the K keypoints, e.g. COCO17
    for frame_index, poses in enumerate(frames_of_poses):
        for person in tracker.update(poses.keypoints, poses.boxes, poses.scores, frame_index):
            person.track_id, person.keypoints, person.box, person.score, person.detection_index
        for track in tracker.pop_closed():
            track.track_id, track.first_frame, track.last_frame
        tracker.pop_births()             # with backfill=N: earlier frames' detections of tracks confirmed now
    tracker.finish()                     # closes the tracks still open at the end of the stream

How it tracks (settings in ``TrackerConfig``):

- Each person is norfair points = K keypoints + 2 box corners, each with a constant-velocity Kalman
  filter; keypoints with a score at or below ``keypoint_threshold`` do not update their filter.
- Matching (``trackers.distances.PoseDistance``): 1 - OKS x size, the score-weighted OKS over the
  keypoints seen in both the detection and the track (scale: the track's box area) times a
  box-height consistency factor; a box distance (IoU and height) where they share too few keypoints.
  Greedy in order of distance (norfair), below ``distance_threshold``. The height factor is what keeps
  apart people who overlap in the image at different depths.
- Birth: a track is confirmed on its ``birth_delay + 1``-th consecutive matched frame; with ``backfill``,
  ``pop_births`` then hands back its detections of the frames before (so a caller that holds frames can
  give the person rows from the first frame they were seen).
- Occlusion: a confirmed track that stops matching keeps being predicted (its velocity decaying by
  ``lost_velocity_decay`` a frame) and can be matched for ``hit_counter_max`` frames; after that it
  stays re-identifiable for ``reid_window`` more frames: a new track whose box centre lies within
  (``reid_position_tolerance`` + ``reid_position_growth`` x gap) box heights of the lost track's
  predicted centre and whose box height is within ``reid_size_ratio`` (``ReidDistance``) is merged
  back on its second detection, and the person keeps their ID. So an ID survives
  ``config.max_gap_frames`` undetected frames (102 = 3.4 s at 30 fps by default).
- Output: only people matched to a detection this frame, unless ``emit_predicted``; their keypoints,
  box and score are the detection's own.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
from norfair import Detection, FilterPyKalmanFilterFactory, NoFilterFactory, OptimizedKalmanFilterFactory, Tracker

from trackers.config import TrackerConfig
from trackers.core import PeopleTracker, TrackerInputError
from trackers.distances import COCO17, PoseDistance, ReidDistance, joint_sigmas, points_box, to_points


def filter_factory(config: TrackerConfig):
    """The norfair Kalman filter factory ``config.kalman`` names."""
    if config.kalman == "optimized":
        return OptimizedKalmanFilterFactory(R=config.kalman_r, Q=config.kalman_q)
    if config.kalman == "filterpy":
        return FilterPyKalmanFilterFactory(R=config.kalman_r, Q=config.kalman_q)
    return NoFilterFactory()


class PoseTracker(PeopleTracker):
    """Online pose tracker; one instance per video. Track IDs are numbered per instance.

    ``joint_names``: the name of each of the K keypoints, in order (the caller's joint set, e.g.
    ``nets.joints.joint_names("crowdpose14")`` in ``stream``), for the per-joint OKS sigmas
    (``trackers.distances.COCO_SIGMAS``; other names get ``DEFAULT_SIGMA``). ``None``: COCO's order
    (``COCO17``) when K is 17, else every joint gets the same sigma. ``backfill``: frames back for which
    ``pop_births`` hands over a newly confirmed track's tentative detections (0: none are kept).
    """

    def __init__(self, config: TrackerConfig | None = None, *, joint_names: Sequence[str] | None = None,
                 backfill: int = 0):
        config = TrackerConfig() if config is None else config
        if not isinstance(config, TrackerConfig):
            raise TypeError(f"config: expected a TrackerConfig, got {type(config).__name__}")
        if joint_names is not None:
            names = () if isinstance(joint_names, str) else tuple(joint_names)  # a set's name is not its names
            if not names or not all(isinstance(n, str) for n in names):
                raise TypeError(f"joint_names: expected the names (str) of the K keypoints in order, got "
                                f"{joint_names!r}")
            joint_names = names
        super().__init__(min_detection_score=config.min_detection_score, emit_predicted=config.emit_predicted,
                         first_id=config.first_id, backfill=backfill)
        self.config = config
        self.joint_names = joint_names

    def _check_joints(self, num_joints: int) -> None:
        if num_joints < 1:
            raise TrackerInputError("keypoints: expected at least one joint per person (K >= 1), got K=0")
        if self.joint_names is None:
            self.joint_names = COCO17 if num_joints == len(COCO17) else None
        elif len(self.joint_names) != num_joints:
            raise TrackerInputError(f"keypoints: K={num_joints} joints per person, but {len(self.joint_names)} "
                                    f"joint names were given ({', '.join(self.joint_names)})")

    def _make_tracker(self, num_joints: int) -> Tracker:
        c = self.config
        reid = c.reid_window > 0
        tracker = Tracker(
            distance_function="euclidean",  # replaced below
            distance_threshold=c.distance_threshold,
            hit_counter_max=c.hit_counter_max,
            initialization_delay=c.birth_delay,
            pointwise_hit_counter_max=c.pointwise_hit_counter_max,
            detection_threshold=c.keypoint_threshold,
            filter_factory=filter_factory(c),
            past_detections_length=0,
            reid_distance_function=ReidDistance(c.reid_position_tolerance, c.reid_position_growth,
                                                c.reid_size_ratio) if reid else None,
            reid_distance_threshold=c.reid_threshold,
            reid_hit_counter_max=c.reid_window if reid else None,
        )
        # norfair's constructor takes a distance by name or a per-pair callable; its update only calls
        # ``distance_function.get_distances``, the ``norfair.Distance`` interface that PoseDistance
        # implements vectorised over all pairs (a per-pair callable is too slow for 100+ people).
        tracker.distance_function = PoseDistance(joint_sigmas(self.joint_names, num_joints), c.keypoint_threshold,
                                                 c.min_common_keypoints, c.oks_sigma_scale,
                                                 c.size_tolerance, c.min_box_iou, c.distance_threshold)
        return tracker

    def _after_update(self) -> None:
        """Slow down the tracks that went unmatched this frame (``lost_velocity_decay``)."""
        decay = self.config.lost_velocity_decay
        if decay == 1.0:
            return
        for obj in self._tracker.tracked_objects:
            if obj.last_detection.age != obj.age:
                obj.filter.x[obj.dim_z:] *= decay

    def _detection(self, keypoints: np.ndarray, box: np.ndarray, index: int) -> Detection:
        points, scores = to_points(keypoints, box)
        return Detection(points, scores=scores, data=index)

    def _estimate_box(self, estimate: np.ndarray):
        return tuple(float(v) for v in points_box(estimate))
