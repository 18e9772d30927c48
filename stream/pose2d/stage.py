"""``PoseStage``: 2D poses of a batch of frames through any pose backend, one joint set for the whole input.

    stage = PoseStage(make_backend("precomputed", poses="poses.json"))
    poses = stage([bgr0, bgr1], [0, 1])          # FramePoses per frame
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from stream.pose2d.base import FramePoses


class PoseStage:
    """2D poses of a batch of frames through any ``stream.pose2d.base`` backend; the joint set is checked."""

    def __init__(self, backend, joint_set: str | None = None):
        self.backend = backend
        self.joint_set = joint_set or getattr(backend, "joint_set", None) or "coco17"

    def __call__(self, frames: Sequence[np.ndarray], frame_ids: Sequence[int | str]) -> list[FramePoses]:
        poses = self.backend(list(frames), list(frame_ids))
        for frame_id, p in zip(frame_ids, poses):
            if p.joint_set != self.joint_set:
                raise ValueError(f"frame {frame_id}: the pose backend gave joint set {p.joint_set!r}, expected "
                                 f"{self.joint_set!r} for the whole input")
        return poses
