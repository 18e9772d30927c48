"""``TrackStage``: one input's ``trackers.PoseTracker``, fed its frames' 2D poses in order.

    tracker = TrackStage(cfg.tracker.for_fps(fps), "coco17")
    for index, people in tracker(frame_index, poses):   # frames leaving the hold, in order
        ...                                             # people: TrackedPerson list (track_id, keypoints, box, score)
    for index, people in tracker.flush():               # at the end of the input: the frames still held
        ...

A new track is confirmed on its ``birth_delay + 1``-th matched frame. The stage holds the last ``birth_delay``
frames back, so a person confirmed within them also gets rows in the frames they were seen in before (their
tentative detections): a person in view from the first frame has a mesh from the first frame. Frame t's
people are handed back when frame t + ``birth_delay`` is tracked (or at ``flush``), and depend only on frames
up to it, so a resumed run (which tracks the stored frames again) hands back the same people as an
uninterrupted one. A runner that stops early drops the held frames unstored (``flush`` is for the end only).
"""
from __future__ import annotations

from collections import deque

from nets.joints import joint_names
from stream.pose2d.base import FramePoses


class TrackStage:
    """``trackers.PoseTracker`` fed frame by frame, in order; hands back frames ``config.birth_delay`` frames
    later with their confirmed people, including those confirmed since."""

    def __init__(self, config, joint_set: str):
        from trackers import PoseTracker
        self.hold = config.birth_delay
        self.tracker = PoseTracker(config, joint_names=joint_names(joint_set), backfill=self.hold)
        self.held: deque = deque()    # (frame index, people), oldest first

    def __call__(self, frame_index: int, poses: FramePoses) -> list[tuple[int, list]]:
        """Track frame ``frame_index`` -> the frames that leave the hold now: ``[(index, people)]``."""
        people = self.tracker.update(poses.keypoints, poses.boxes, poses.scores, frame_index)
        self.tracker.pop_closed()     # ended tracks are not used; dropped so memory stays flat in video length
        self.held.append((frame_index, people))
        for person in self.tracker.pop_births():
            self._add(person)
        ready = []
        while len(self.held) > self.hold:
            ready.append(self.held.popleft())
        return ready

    def flush(self) -> list[tuple[int, list]]:
        """The end of the input: every frame still held, in order."""
        ready, self.held = list(self.held), deque()
        return ready

    def _add(self, person) -> None:
        """Put a newly confirmed track's earlier detection in its held frame (unless the track has a row there)."""
        for index, people in self.held:
            if index == person.frame_index:
                if all(p.track_id != person.track_id for p in people):
                    people.append(person)
                    people.sort(key=lambda p: p.track_id)
                return
