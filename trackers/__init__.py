"""Multi-person 2D pose tracking on norfair: who is who across the frames of a crowd video.

Usage::

    from trackers import COCO17, PoseTracker, TrackerConfig

    tracker = PoseTracker(TrackerConfig(), joint_names=COCO17)      # one per video; IDs start at 1
    for frame_index, poses in enumerate(frames_of_poses):           # poses: stream.pose2d.base.FramePoses
        people = tracker.update(poses.keypoints, poses.boxes, poses.scores, frame_index)
        for person in people:                                       # confirmed people seen this frame
            person.track_id, person.keypoints, person.box, person.score, person.detection_index
        for track in tracker.pop_closed():                          # tracks that ended
            track.track_id, track.first_frame, track.last_frame
    for track in tracker.finish():                                  # end of video: close the rest
        ...

``joint_names`` names the K keypoints in order (``COCO17`` is COCO's order; ``stream`` passes the names of
its joint set): the per-joint OKS sigmas follow them. A person keeps their ID through
``TrackerConfig().max_gap_frames`` frames without a detection (hidden behind others); ``CentroidTracker``
is the plain norfair baseline the benchmark compares with. Bad input (wrong shapes, NaN, a different K
than the first frame) raises ``TrackerInputError``, a ``ValueError``.
"""
from trackers.baseline import CentroidTracker
from trackers.config import TrackerConfig
from trackers.core import ClosedTrack, PeopleTracker, TrackedPerson, TrackerInputError
from trackers.distances import COCO17
from trackers.pose_tracker import PoseTracker

__all__ = ["COCO17", "CentroidTracker", "ClosedTrack", "PeopleTracker", "PoseTracker", "TrackedPerson",
           "TrackerConfig", "TrackerInputError"]
