"""Native RTMO as a 2D pose backend: mmpose's test-time letterbox, batched forward, back to image pixels.

    backend = RtmoBackend("rtmo-l_body7.pth", batch_size=8)   # precision="auto": bf16 on CUDA, fp32 on CPU
    poses = backend([bgr0, bgr1], frame_ids=[0, 1])      # list of FramePoses, joint set from the file

The network runs under autocast to ``precision`` (``nets.devices``); its raw maps return to float32 before
decoding (candidates, NMS, DCC), which always runs in fp32.
"""
from __future__ import annotations

import logging
from typing import Sequence

import cv2
import numpy as np
import torch

from nets.devices import autocast, resolve_device, resolve_precision
from nets.rtmo.model import RTMO
from stream.pose2d.assets import resolve_asset
from stream.pose2d.base import FramePoses, as_bgr8

log = logging.getLogger(__name__)

PAD_VALUE = 114


def letterbox_matrix(w: int, h: int, size: int) -> tuple[np.ndarray, np.ndarray, np.float32]:
    """Centred fit of a w x h image into size x size: (2x3 affine, centre (2,) float32, scale s = max(w, h))."""
    centre = np.array([w / 2, h / 2], np.float32)
    s = np.float32(max(w, h))
    # three point pairs: the centre, a point half a box to the left, and one half a box below that
    src = np.array([centre, centre + [-s / 2, 0], centre + [-s / 2, s / 2]], np.float32)
    half = size / 2
    dst = np.array([[half, half], [0, half], [0, size]], np.float32)
    return cv2.getAffineTransform(src, dst), centre, s


def letterbox(bgr: np.ndarray, size: int = 640) -> tuple[np.ndarray, np.ndarray, np.float32]:
    """(H,W,3) uint8 -> (size,size,3) uint8 with grey 114 borders, plus the centre and scale to map back.

    Bilinear sampling in float32 as OpenCV 5's ``warpAffine(INTER_LINEAR)`` computes it (source
    coordinates by a float32 multiply-add of the inverse map, then two lerps, round half to even).
    OpenCV 4 samples at 1/32-pixel steps instead and differs by up to 2 grey levels, which moves RTMO's
    keypoints by pixels; doing it here gives mmpose's input exactly whatever OpenCV is installed.
    """
    h, w = bgr.shape[:2]
    mat, centre, s = letterbox_matrix(w, h, size)
    inv = cv2.invertAffineTransform(mat)  # axis-aligned: inv[0, 1] and inv[1, 0] are 0
    cols, rows = _source_coords(inv[0, 0], inv[0, 2], size), _source_coords(inv[1, 1], inv[1, 2], size)
    if (cols == np.round(cols)).all() and (rows == np.round(rows)).all():  # pure integer shift: a copy
        out = np.full((size, size, 3), PAD_VALUE, np.uint8)
        c, r = cols.astype(int), rows.astype(int)
        cv, rv = (c >= 0) & (c < w), (r >= 0) & (r < h)
        out[np.ix_(rv, cv)] = bgr[np.ix_(r[rv], c[cv])]
        return out, centre, s
    padded = np.pad(bgr, ((1, 2), (1, 2), (0, 0)), constant_values=PAD_VALUE).astype(np.float32)
    (y0, fy), (x0, fx) = _taps(rows, h), _taps(cols, w)
    fx, fy = fx[None, :, None], fy[:, None, None]
    top, bottom = padded[y0], padded[y0 + 1]
    upper = top[:, x0] + fx * (top[:, x0 + 1] - top[:, x0])
    lower = bottom[:, x0] + fx * (bottom[:, x0 + 1] - bottom[:, x0])
    out = upper + fy * (lower - upper)
    return np.clip(np.rint(out), 0, 255).astype(np.uint8), centre, s


def _source_coords(scale: float, offset: float, n: int) -> np.ndarray:
    """float32 ``fma(float32(scale), i, float32(offset))`` for i = 0..n-1."""
    return (np.float64(np.float32(scale)) * np.arange(n) + np.float64(np.float32(offset))).astype(np.float32)


def _taps(coords: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Source coordinates -> (index of the first tap in the image padded by 1 before / 2 after, weight of the second)."""
    i = np.floor(coords)
    frac = (coords - i).astype(np.float32)
    i = i.astype(np.int64)
    frac[i < -1] = 0  # both taps in the border
    return np.clip(i, -1, n) + 1, frac


def to_image(points: np.ndarray, centre: np.ndarray, scale: float, size: int) -> np.ndarray:
    """Input pixels (..., 2) -> image pixels, float64 (``p / size * s + centre - s / 2``)."""
    return points.astype(np.float64) / size * scale + centre - 0.5 * scale


class RtmoBackend:
    """Bottom-up 2D pose with native RTMO; frames go through the network ``batch_size`` at a time."""

    def __init__(self, checkpoint, *, device: str | torch.device = "auto", precision: str = "auto",
                 batch_size: int = 8, score_thr: float = 0.1, nms_thr: float = 0.65, fuse: bool = True):
        if checkpoint is None:
            raise FileNotFoundError("the rtmo backend needs --checkpoint: an mmpose RTMO .pth file or a known "
                                    "name (list them with `stream assets`)")
        self.device = resolve_device(device)
        self.precision = resolve_precision(precision, self.device)
        model = RTMO.from_checkpoint(resolve_asset(checkpoint))  # a path or a known name
        self.model = (model.fuse() if fuse else model).to(self.device)
        self.size = model.config.input_size
        self.joint_set = model.config.joint_set
        self.batch_size, self.score_thr, self.nms_thr = batch_size, score_thr, nms_thr

    def __call__(self, frames: Sequence[np.ndarray], frame_ids: Sequence[int | str] | None = None) -> list[FramePoses]:
        return [self.to_frame_poses(*found) for found in self.detect(frames, frame_ids)]

    def detect(self, frames: Sequence[np.ndarray], frame_ids: Sequence[int | str] | None = None) -> list[tuple]:
        """Per frame ``(Instances in network-input pixels, letterboxed input, centre, scale)``."""
        ids = list(range(len(frames))) if frame_ids is None else list(frame_ids)
        if len(ids) != len(frames):
            raise ValueError(f"{len(frames)} frames but {len(ids)} frame ids")
        out = []
        for start in range(0, len(frames), self.batch_size):
            chunk = zip(frames[start:start + self.batch_size], ids[start:start + self.batch_size])
            out += self._batch([letterbox(as_bgr8(f, f"frame {i}"), self.size) for f, i in chunk])
        return out

    @torch.inference_mode()
    def _batch(self, boxed: list[tuple]) -> list[tuple]:
        x = torch.from_numpy(np.stack([b[0] for b in boxed])).to(self.device).permute(0, 3, 1, 2).float()
        with autocast(self.device, self.precision):
            raw = self.model(x)
        raw = {name: [m.float() for m in maps] for name, maps in raw.items()}
        people = self.model.head.decode(raw, x.shape[2:], self.score_thr, self.nms_thr)
        return [(inst, *b) for inst, b in zip(people, boxed)]

    def to_frame_poses(self, inst, _input, centre, scale) -> FramePoses:
        """Instances in input pixels -> FramePoses in image pixels."""
        kpts = to_image(inst.keypoints.float().cpu().numpy(), centre, scale, self.size)
        corners = to_image(inst.bboxes.float().cpu().numpy().reshape(-1, 2, 2), centre, scale, self.size)
        boxes = np.concatenate([corners[:, 0], corners[:, 1] - corners[:, 0]], axis=1)
        scores = inst.keypoint_scores.float().cpu().numpy()
        return FramePoses(np.concatenate([kpts, scores[..., None]], axis=2).astype(np.float32),
                          boxes.astype(np.float32), inst.scores.float().cpu().numpy(), self.joint_set)
