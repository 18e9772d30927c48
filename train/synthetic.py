"""Synthetic crowd crops with exact ground truth, in the loss's target format (a torch Dataset).

    body = BodyModel(*make_standin_body())
    train_set = SyntheticCrowdDataset(body, SyntheticConfig(), REDUCED_CONFIG, split="train")
    test_set = SyntheticCrowdDataset(body, SyntheticConfig(), REDUCED_CONFIG, split="test")  # new people
    sample = train_set[0]   # img (3,S,S), joints (30,2), joints_mask (30,1), crowd_index, + loss targets

Each split renders ``sequences`` short crowds made by ``nets.synth.make_crowd`` (people occlude one
another in the z-buffer); the test split uses ``test_seed``, so its people, paths and colours are new.
A sample is one present person in one frame with at least ``min_visible`` joints in the image.

Preprocessing follows the official one (TRAINING.md §3): the person's box is padded to a square and
enlarged ×1.25, the frame is cropped by an affine warp to ``input_size``², 2D joints go to heatmap
pixels (``heatmap_size`` per crop side), depth to ``heatmap_size`` bins over ±1 m around the root.
The input 2D pose is the ground truth, plus optional Gaussian noise (``pose_noise``) and, with
``posefix=True``, PoseFix errors on its COCO joints (``train.posefix``; the near people are those whose
boxes overlap the target's at all, where the official readers ask for IoU >= ``NEAR_IOU``). With ``input_noise`` (a
``nets.synth.NoiseConfig``; evaluation) it is instead the target's own simulated detection
(``nets.synth.simulate_detections`` without misses or false positives, SMPL-30 joints): jittered, occluded
joints guessed, joints dropped (masked), left/right swaps; only people with a visible joint are kept.
Every sample is 3D with an exact "fit" (the generator's own SMPL parameters), so the fit targets equal
the dataset targets. ``occlusion`` (N,) is the target's occluded joint fraction (``Crowd.occlusion``).
Determinism: crowds depend only on the seeds; per-sample noise/augmentation on (seed, epoch, index).
"""
from __future__ import annotations

import math

import cv2
import numpy as np
import torch
from torch.utils.data import Dataset

from nets.joints import COCO17, SMPL30
from nets.model import ModelConfig
from dataclasses import replace

from nets.metrics import crowd_index
from nets.synth import CrowdConfig, NoiseConfig, make_crowd, render, simulate_detections
from train.config import SyntheticConfig
from train.datasets.base import bbox_iou
from train.losses import fit_param_valid_mask
from train.posefix import synthesize_superset

BBOX_3D_SIZE = 2.0   # metres of depth spanned by the heatmap volume (official bbox_3d_size)
_COCO_IN_30 = [SMPL30.index(n) for n in COCO17]


def square_box(box: np.ndarray, scale: float = 1.25) -> tuple[np.ndarray, float]:
    """(4,) xywh -> (centre (2,), side): padded to a square and enlarged ×``scale`` (official process_bbox)."""
    x, y, w, h = (float(v) for v in box)
    return np.array([x + w / 2, y + h / 2]), max(w, h) * scale


def crop_transform(center: np.ndarray, side: float, out_size: int, rot_deg: float = 0.0) -> np.ndarray:
    """(2,3) affine from image pixels to crop pixels: the square (center, side) rotated by ``rot_deg``
    (counter-clockwise in the image) maps onto ``out_size``²."""
    s = out_size / side
    a = math.radians(rot_deg)
    c, si = math.cos(a) * s, math.sin(a) * s
    M = np.array([[c, si, 0.0], [-si, c, 0.0]])
    M[:, 2] = out_size / 2 - M[:, :2] @ center
    return M


def rot_z(deg: float) -> np.ndarray:
    """(3,3) rotation about the camera axis matching an in-image counter-clockwise rotation by ``deg``."""
    a = math.radians(deg)
    return np.array([[math.cos(a), math.sin(a), 0.0], [-math.sin(a), math.cos(a), 0.0], [0.0, 0.0, 1.0]])


class SyntheticCrowdDataset(Dataset):
    def __init__(self, body, config: SyntheticConfig, model_config: ModelConfig, split: str = "train",
                 augment: bool | None = None, posefix: bool = False, input_noise: NoiseConfig | None = None):
        if split not in ("train", "test"):
            raise ValueError(f"split: expected 'train' or 'test', got {split!r}")
        self.config, self.model_config, self.split = config, model_config, split
        self.augment = (split == "train") if augment is None else augment
        self.posefix, self.epoch, self.detected = posefix, 0, []
        seed0 = config.seed if split == "train" else config.test_seed
        count = config.sequences if split == "train" else config.test_sequences
        self.crowds, self.frames, index = [], [], []
        for s in range(count):
            crowd = make_crowd(body, CrowdConfig(
                people=config.people, frames=config.frames, fps=config.fps, width=config.width,
                height=config.height, seed=seed0 + s, depth_range=tuple(config.depth_range)))
            self.crowds.append(crowd)
            self.frames.append([render(crowd, t)[0] for t in range(crowd.frames)])
            kp = crowd.keypoints2d["smpl30"]
            inside = ((kp[..., 0] >= 0) & (kp[..., 0] < config.width) & (kp[..., 1] >= 0)
                      & (kp[..., 1] < config.height))
            keep = crowd.present & (inside.sum(-1) >= config.min_visible)
            if input_noise is not None:
                self.detected.append(_detected_poses(crowd, input_noise, seed0 + s))
                keep &= kp[..., 2].sum(-1) > 0
            index += [(s, t, n) for t, n in zip(*np.nonzero(keep))]
        if not index:
            raise ValueError(f"synthetic {split} split has no person with >= {config.min_visible} joints in view; "
                             "raise sequences/people or lower data.synthetic.min_visible")
        self.index = np.array(index, dtype=np.int64)
        self.crowd_index = np.array([self._crowd_index(*i) for i in index], dtype=np.float32)
        self.occlusion = np.array([self.crowds[s].occlusion[t, n] for s, t, n in index], dtype=np.float32)
        self._fit_valid = fit_param_valid_mask().numpy()

    def __len__(self) -> int:
        return len(self.index)

    def set_epoch(self, epoch: int) -> None:
        """Change the per-sample random draws (noise, augmentation) for a new epoch."""
        self.epoch = int(epoch)

    def _crowd_index(self, s: int, t: int, n: int) -> float:
        crowd = self.crowds[s]
        kp = crowd.keypoints2d["smpl30"][t][:, _COCO_IN_30].copy()
        w, h = self.config.width, self.config.height
        kp[..., 2] = ((kp[..., 0] >= 0) & (kp[..., 0] < w) & (kp[..., 1] >= 0) & (kp[..., 1] < h))
        others = [kp[m] for m in range(crowd.people) if m != n and crowd.present[t, m]]
        return crowd_index(kp[n], crowd.boxes[t, n], others)

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        cfg, mc = self.config, self.model_config
        s, t, n = (int(v) for v in self.index[i])
        crowd = self.crowds[s]
        rng = np.random.default_rng([cfg.seed if self.split == "train" else cfg.test_seed, self.epoch, i])
        rot = 0.0
        if self.augment and cfg.rotate_deg > 0:
            rot = float(np.clip(rng.normal(), -2, 2) * cfg.rotate_deg)
        center, side = square_box(crowd.boxes[t, n])
        M = crop_transform(center, side, mc.input_size, rot)
        rgb = cv2.warpAffine(self.frames[s][t], M, (mc.input_size, mc.input_size), flags=cv2.INTER_LINEAR)[..., ::-1]
        img = torch.from_numpy(np.ascontiguousarray(rgb).transpose(2, 0, 1)).float() / 255.0

        to_hm = mc.heatmap_size / mc.input_size
        uv = crowd.keypoints2d["smpl30"][t, n, :, :2].astype(np.float64)
        uv = (uv @ M[:, :2].T + M[:, 2]) * to_hm                                    # (30,2) heatmap px
        R = rot_z(rot)
        joints3d = crowd.joints3d[t, n].astype(np.float64)
        joint_cam = (joints3d - joints3d[0]) @ R.T                                  # root-relative, metres
        z = (joint_cam[:, 2] / (BBOX_3D_SIZE / 2) + 1) * mc.heatmap_size / 2
        joint_img = np.concatenate([uv, z[:, None]], 1)
        hm = mc.heatmap_size
        trunc = ((joint_img >= 0) & (joint_img < hm)).all(1, keepdims=True).astype(np.float32)

        pose = crowd.smpl_pose[t, n].astype(np.float64).copy()
        if rot != 0.0:
            root, _ = cv2.Rodrigues(pose[:3])
            pose[:3] = cv2.Rodrigues(R @ root)[0][:, 0]
        joints_in, mask = self._input_pose(s, t, n, M, uv, trunc, rng)
        f32 = lambda a: torch.as_tensor(np.asarray(a, np.float32))  # noqa: E731
        return {
            "img": img, "joints": f32(joints_in), "joints_mask": f32(mask),
            "orig_joint_img": f32(joint_img), "orig_joint_trunc": f32(trunc),
            "orig_joint_valid": torch.ones(len(SMPL30), 1), "orig_joint_cam": f32(joint_cam),
            "fit_joint_img": f32(joint_img), "fit_joint_trunc": f32(trunc), "fit_joint_cam": f32(joint_cam),
            "pose_param": f32(pose), "shape_param": f32(crowd.betas[n]), "fit_param_valid": f32(self._fit_valid),
            "is_valid_fit": torch.ones(1), "is_3D": torch.ones(1),
            "crowd_index": torch.tensor(self.crowd_index[i]),
        }

    def _input_pose(self, s: int, t: int, n: int, M: np.ndarray, uv: np.ndarray, trunc: np.ndarray,
                    rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """The input 2D pose (30,2) in heatmap px and its mask (30,1) (see the module docstring)."""
        to_hm = self.model_config.heatmap_size / self.model_config.input_size
        if self.detected:
            det = self.detected[s][t, n]
            joints_in = (det[:, :2] @ M[:, :2].T + M[:, 2]) * to_hm
            inside = ((joints_in >= 0) & (joints_in < self.model_config.heatmap_size)).all(1)
            return joints_in, (inside & (det[:, 2] > 0))[:, None].astype(np.float32)
        joints_in = uv.copy()
        if self.posefix:
            crowd = self.crowds[s]
            warp = lambda kp: np.concatenate([kp @ M[:, :2].T + M[:, 2], np.ones((len(kp), 1))], 1)  # noqa: E731
            near = [warp(crowd.keypoints2d["smpl30"][t, m, :, :2]) for m in range(crowd.people)
                    if m != n and crowd.present[t, m] and bbox_iou(crowd.boxes[t, n], crowd.boxes[t, m]) > 0]
            own = np.concatenate([joints_in / to_hm, np.ones((len(uv), 1))], 1)
            joints_in = synthesize_superset(own, np.array(near).reshape(-1, len(SMPL30), 3), rng)[:, :2] * to_hm
        if self.config.pose_noise > 0:
            joints_in = joints_in + rng.normal(0.0, self.config.pose_noise, joints_in.shape)
        return joints_in, trunc


def _detected_poses(crowd, noise: NoiseConfig, seed: int) -> np.ndarray:
    """(T, N, 30, 3) each person's simulated SMPL-30 detection (x, y, score; score 0: dropped), no misses or
    false positives; NaN where the person was not detectable (no visible joint)."""
    noise = replace(noise, miss_rate=0.0, false_positive_rate=0.0, min_visible=1, seed=seed)
    out = np.full((crowd.frames, crowd.people, len(SMPL30), 3), np.nan)
    for t, dets in enumerate(simulate_detections(crowd, noise, "smpl30")):
        out[t, dets.truth] = dets.keypoints
    return out
