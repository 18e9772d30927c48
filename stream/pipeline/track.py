"""``TrackStage``: one input's ``trackers.PoseTracker``, fed its frames' 2D poses in order.

    tracker = TrackStage(cfg.tracker.for_fps(fps), "coco17")
    people = tracker(frame_index, poses)     # TrackedPerson list: track_id, keypoints, box, score
"""
from __future__ import annotations

from nets.joints import joint_names
from stream.pose2d.base import FramePoses


class TrackStage:
    """``trackers.PoseTracker`` fed frame by frame, in order; returns each frame's confirmed people."""

    def __init__(self, config, joint_set: str):
        from trackers import PoseTracker
        self.tracker = PoseTracker(config, joint_names=joint_names(joint_set))

    def __call__(self, frame_index: int, poses: FramePoses) -> list:
        people = self.tracker.update(poses.keypoints, poses.boxes, poses.scores, frame_index)
        self.tracker.pop_closed()     # ended tracks are not used; dropped so memory stays flat in video length
        return people
