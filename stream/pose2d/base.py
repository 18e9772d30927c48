"""The 2D pose stage: one small interface in front of every bottom-up pose backend.

A backend is called with a batch of frames and gives, per frame, the people it found::

    backend = make_backend("rtmo", checkpoint="rtmo-l.pth")       # or "mmpose", "precomputed"
    for poses in backend([frame0, frame1], frame_ids=[0, 1]):
        poses.keypoints   # (N, K, 3) x, y, score in image pixels
        poses.boxes       # (N, 4) x, y, w, h in image pixels
        poses.scores      # (N,) person scores
        poses.joint_set   # e.g. "crowdpose14" or "coco17" (names in nets.joints)

Frames are (H, W, 3) uint8 **BGR** arrays (OpenCV's and PyAV's ``bgr24`` order); ``as_bgr8``
turns grayscale, RGBA and 16-bit images into that or says what is wrong with the input.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, Sequence

import numpy as np

from nets.joints import joint_names


class FrameError(ValueError):
    """A frame that no pose backend can read; the message names the frame and the fix."""


@dataclass(frozen=True)
class FramePoses:
    """The people of one frame, first axis = person.

    Detectors give float32 in descending score order; precomputed poses keep the file's order and its
    float64 values (so the official demo JSON reaches ``stream image`` bit for bit).
    """
    keypoints: np.ndarray  # (N, K, 3) x, y, score, image pixels
    boxes: np.ndarray      # (N, 4) x, y, w, h, image pixels
    scores: np.ndarray     # (N,)
    joint_set: str

    def __post_init__(self):
        k = len(joint_names(self.joint_set))
        n = len(self.scores)
        if self.keypoints.shape != (n, k, 3) or self.boxes.shape != (n, 4):
            raise ValueError(f"FramePoses of {n} people in {self.joint_set} ({k} joints): expected keypoints "
                             f"({n}, {k}, 3) and boxes ({n}, 4), got {self.keypoints.shape} and {self.boxes.shape}")

    def __len__(self) -> int:
        return len(self.scores)

    @classmethod
    def empty(cls, joint_set: str) -> "FramePoses":
        k = len(joint_names(joint_set))
        return cls(np.zeros((0, k, 3), np.float32), np.zeros((0, 4), np.float32), np.zeros(0, np.float32), joint_set)

    @classmethod
    def from_keypoints(cls, keypoints, joint_set: str, scores=None, boxes=None) -> "FramePoses":
        """People from keypoints alone: boxes around the scored joints, score = mean joint score."""
        k = len(joint_names(joint_set))
        kpts = np.asarray(keypoints, np.float32).reshape(-1, k, 3)
        if boxes is None:
            boxes = np.array([keypoint_box(p) for p in kpts], np.float32).reshape(-1, 4)
        if scores is None:
            scores = kpts[:, :, 2].mean(axis=1) if len(kpts) else np.zeros(0, np.float32)
        return cls(kpts, np.asarray(boxes, np.float32).reshape(-1, 4), np.asarray(scores, np.float32).reshape(-1),
                   joint_set)


def keypoint_box(kpts: np.ndarray) -> np.ndarray:
    """(K,3) -> (4,) x, y, w, h around the joints with score > 0 (all joints when none is scored)."""
    xy = kpts[kpts[:, 2] > 0, :2] if (kpts[:, 2] > 0).any() else kpts[:, :2]
    lo, hi = xy.min(axis=0), xy.max(axis=0)
    return np.concatenate([lo, hi - lo])


class PoseBackend(Protocol):
    """Frames in, one ``FramePoses`` per frame out (same order)."""
    joint_set: str

    def __call__(self, frames: Sequence[np.ndarray], frame_ids: Sequence[int | str]) -> list[FramePoses]: ...


def as_bgr8(frame, name: str = "frame") -> np.ndarray:
    """Any image array -> contiguous (H, W, 3) uint8 BGR, or FrameError naming ``name``.

    Accepts (H, W) or (H, W, 1) grayscale, (H, W, 3) BGR, (H, W, 4) BGRA (alpha dropped), uint8 or
    uint16 (scaled by 1/257) or float in [0, 1]. Rejects empty images and other shapes/dtypes.
    """
    a = np.asarray(frame)
    if a.ndim == 3 and a.shape[2] == 1:
        a = a[:, :, 0]
    if a.ndim not in (2, 3) or (a.ndim == 3 and a.shape[2] not in (3, 4)):
        raise FrameError(f"{name}: expected an image of shape (H, W), (H, W, 3) or (H, W, 4), got {a.shape}")
    if a.shape[0] == 0 or a.shape[1] == 0:
        raise FrameError(f"{name}: the image is empty ({a.shape[0]}x{a.shape[1]} pixels)")
    if a.dtype == np.uint16:
        a = ((a.astype(np.uint32) + 128) // 257).astype(np.uint8)
    elif a.dtype.kind == "f":
        if not np.isfinite(a).all():
            raise FrameError(f"{name}: float image contains NaN or inf")
        a = np.clip(np.rint(a * 255.0), 0, 255).astype(np.uint8)
    elif a.dtype != np.uint8:
        raise FrameError(f"{name}: expected uint8, uint16 or float pixels, got {a.dtype}")
    if a.ndim == 2:
        a = np.repeat(a[:, :, None], 3, axis=2)
    return np.ascontiguousarray(a[:, :, :3])


def make_backend(name: str, *, checkpoint=None, config=None, poses=None, device: str = "auto",
                 precision: str = "auto", batch_size: int = 8, score_threshold: float = 0.1) -> PoseBackend:
    """Build a backend by name; ``precision`` ("auto" | "fp32" | "bf16" | "fp16", ``nets.devices``) is the
    network's autocast in the rtmo and mmpose backends.

    - ``rtmo``: native RTMO; ``checkpoint`` = an mmpose RTMO ``.pth`` (path or known asset name).
    - ``mmpose``: any mmpose bottom-up model; ``config`` = mmpose config file, ``checkpoint`` = its weights
      (a known RTMO name brings its own config).
    - ``precomputed``: ``poses`` = a COCO keypoint-results JSON or an official-demo poses JSON.
    """
    if name == "rtmo":
        from stream.pose2d.rtmo import RtmoBackend
        return RtmoBackend(checkpoint, device=device, precision=precision, batch_size=batch_size,
                           score_thr=score_threshold)
    if name == "mmpose":
        from stream.pose2d.assets import ASSETS, resolve_asset
        from stream.pose2d.mmpose import MmposeBackend
        if checkpoint is not None and str(checkpoint) in ASSETS:  # a known name: its weights and its config
            config = config or ASSETS[str(checkpoint)].mmpose_config
            checkpoint = resolve_asset(checkpoint)
        return MmposeBackend(config, checkpoint, device=device, precision=precision, batch_size=batch_size)
    if name == "precomputed":
        from stream.pose2d.precomputed import PrecomputedPoses
        return PrecomputedPoses.from_file(poses)
    raise ValueError(f"unknown pose backend {name!r}; expected one of ['mmpose', 'precomputed', 'rtmo']")
