"""Noisy 2D pose detections simulated from a synthetic crowd's ground truth.

    for dets in simulate_detections(crowd, NOISE_PRESETS["moderate"], "crowdpose14"):
        dets.keypoints, dets.boxes, dets.scores   # (M, K, 3) x, y, score; (M, 4) xywh; (M,)
        dets.truth                                # (M,) identity, -1 for a false positive

Per frame, for each person (in order of id), with one random stream per ``NoiseConfig.seed``:
1. Detectable: present in the frame with at least ``min_visible`` visible joints of the joint set.
   Others are never detected (a detector cannot see a fully hidden person); the rates below apply to
   detectable person-frames.
2. Missed with probability ``miss_rate``.
3. Keypoints: visible joints at the true pixel plus Gaussian jitter (std ``jitter`` x the person's
   scale: the pixel height of 1.7 m at the person's pelvis depth), score ~ U(``visible_score``).
   Occluded joints inside the image: ``occluded="drop"`` gives them score 0 and x = y = 0;
   ``occluded="guess"`` keeps them with 3x the jitter and a score ~ U(``occluded_score``). Joints
   outside the image are dropped (0, 0, 0).
4. Each kept visible joint is dropped (0, 0, 0) with probability ``drop_joint_rate``.
5. With probability ``swap_lr_rate`` the detection's left and right joints trade places (all L_/R_
   pairs of the set: a whole-body left-right confusion).
6. Box: the true box (``crowd.boxes``: whole projected mesh, clipped) with each edge jittered like a
   visible joint; person score = the mean joint score (zeros included).
Then ``Poisson(false_positive_rate)`` false positives: the 2D pose of a random person-frame of the
sequence, rescaled to 40-160 px tall and placed at random in the image, joint scores ~
U(``false_positive_score``), dropped joints as in 4; truth -1. Finally the frame's detections are
shuffled (a tracker must not rely on their order).
"""
from __future__ import annotations

import typing
from dataclasses import dataclass
from typing import Literal

import numpy as np

from nets.config import ConfigError, check, is_int
from nets.joints import SMPL30, joint_names
from nets.synth.truth import in_image

OccludedMode = Literal["drop", "guess"]
OCCLUDED_MODES = typing.get_args(OccludedMode)
PERSON_HEIGHT_M = 1.7  # the scale of the jitter


@dataclass(frozen=True)
class NoiseConfig:
    """How detections deviate from the truth (see the module docstring for the order of the steps)."""
    jitter: float = 0.0                  # keypoint std as a fraction of the person's pixel height
    miss_rate: float = 0.0               # P(detectable person-frame missed)
    drop_joint_rate: float = 0.0         # P(visible joint of a detection dropped)
    swap_lr_rate: float = 0.0            # P(detection's left/right joints swapped)
    false_positive_rate: float = 0.0     # mean false detections per frame
    occluded: OccludedMode = "drop"      # occluded joints: "drop" (score 0) or "guess" (low score)
    visible_score: tuple[float, float] = (1.0, 1.0)
    occluded_score: tuple[float, float] = (0.05, 0.35)
    false_positive_score: tuple[float, float] = (0.1, 0.5)
    min_visible: int = 1                 # fewer visible joints: the person is not detectable
    seed: int = 0

    def __post_init__(self):
        """A field out of range raises ``nets.config.ConfigError`` naming it, the value and what is expected."""
        check(self, "jitter", self.jitter >= 0, "a fraction of the person's height >= 0")
        for name in ("miss_rate", "drop_joint_rate", "swap_lr_rate"):
            check(self, name, 0 <= getattr(self, name) <= 1, "a probability in [0, 1]")
        check(self, "false_positive_rate", self.false_positive_rate >= 0, "a mean count per frame >= 0")
        check(self, "occluded", self.occluded in OCCLUDED_MODES, f"one of {list(OCCLUDED_MODES)}")
        for name in ("visible_score", "occluded_score", "false_positive_score"):
            lo, hi = getattr(self, name)
            check(self, name, 0 < lo <= hi <= 1, "(low, high) scores with 0 < low <= high <= 1")
        check(self, "min_visible", is_int(self.min_visible) and self.min_visible >= 1, "an integer >= 1")
        check(self, "seed", is_int(self.seed) and self.seed >= 0, "a non-negative integer")


NOISE_PRESETS: dict[str, NoiseConfig] = {
    # the truth's visible joints exactly (score 1), everything else dropped; nothing missed or added
    "none": NoiseConfig(),
    # a good bottom-up detector: about 1 px jitter for a 100 px person
    "moderate": NoiseConfig(jitter=0.01, miss_rate=0.05, drop_joint_rate=0.05, swap_lr_rate=0.01,
                            false_positive_rate=0.1, occluded="guess", visible_score=(0.6, 1.0),
                            occluded_score=(0.05, 0.35), min_visible=3),
    # a weak detector in a hard scene
    "heavy": NoiseConfig(jitter=0.03, miss_rate=0.2, drop_joint_rate=0.15, swap_lr_rate=0.05,
                         false_positive_rate=0.5, occluded="guess", visible_score=(0.4, 1.0),
                         occluded_score=(0.02, 0.3), min_visible=4),
}


def noise_config(noise: str | NoiseConfig) -> NoiseConfig:
    """A preset name or a NoiseConfig -> NoiseConfig; unknown names list the presets."""
    if isinstance(noise, NoiseConfig):
        return noise
    try:
        return NOISE_PRESETS[noise]
    except (KeyError, TypeError):
        raise ConfigError(f"unknown noise preset {noise!r}; expected one of {sorted(NOISE_PRESETS)} "
                          "or a NoiseConfig") from None


@dataclass(frozen=True, eq=False)
class Detections:
    """The detections of one frame, first axis = detection (in random order)."""
    frame: int
    joint_set: str
    keypoints: np.ndarray  # (M, K, 3) float32 x, y, score; dropped joints are (0, 0, 0)
    boxes: np.ndarray      # (M, 4) float32 x, y, w, h
    scores: np.ndarray     # (M,) float32
    truth: np.ndarray      # (M,) int64 identity, -1 for a false positive

    def __len__(self) -> int:
        return len(self.scores)


def flip_index(joint_set: str) -> np.ndarray:
    """(K,) the index of each joint's left/right counterpart in ``joint_set`` (itself for centre joints)."""
    names = joint_names(joint_set)
    swap = {"L_": "R_", "R_": "L_"}
    return np.array([names.index(swap[n[:2]] + n[2:]) if n[:2] in swap else i for i, n in enumerate(names)])


def _scale(crowd) -> np.ndarray:
    """(T, N) pixel height of PERSON_HEIGHT_M at each person's pelvis depth."""
    depth = np.maximum(crowd.joints3d[..., 0, 2].astype(np.float64), 1e-2)
    return crowd.camera.K[1, 1] * PERSON_HEIGHT_M / depth


def _false_positives(rng, crowd, joint_set: str, count: int, noise: NoiseConfig):
    truth = crowd.keypoints2d[joint_set]
    k = truth.shape[2]
    kpts = np.zeros((count, k, 3))
    for i in range(count):
        t, n = rng.integers(crowd.frames), rng.integers(crowd.people)
        xy = truth[t, n, :, :2].astype(np.float64)
        span = max(np.ptp(xy[:, 1]), 1.0)
        xy = (xy - xy.mean(axis=0)) * rng.uniform(40, 160) / span
        xy += [rng.uniform(0, crowd.camera.width - 1), rng.uniform(0, crowd.camera.height - 1)]
        kpts[i, :, :2] = xy
        kpts[i, :, 2] = rng.uniform(*noise.false_positive_score, k)
    kpts[rng.random(kpts.shape[:2]) < noise.drop_joint_rate] = 0.0
    boxes = np.zeros((count, 4))
    for i in range(count):
        xy = kpts[i, kpts[i, :, 2] > 0, :2]
        if len(xy):
            lo, hi = xy.min(axis=0), xy.max(axis=0)
            boxes[i] = [*(lo - 0.1 * (hi - lo)), *(1.2 * (hi - lo))]
    return kpts, boxes


def simulate_detections(crowd, noise: str | NoiseConfig = "moderate", joint_set: str = "coco17") -> list[Detections]:
    """One ``Detections`` per frame of ``crowd`` (a ``nets.synth.Crowd``); see the module docstring."""
    noise = noise_config(noise)
    if joint_set not in crowd.keypoints2d:
        raise KeyError(f"joint set {joint_set!r}: expected one of {sorted(crowd.keypoints2d)}")
    rng = np.random.default_rng(noise.seed)
    truth = crowd.keypoints2d[joint_set].astype(np.float64)   # (T, N, K, 3)
    visible = truth[..., 2] > 0
    uv = truth[..., :2]
    depth = crowd.joints3d[..., [SMPL30.index(name) for name in joint_names(joint_set)], 2]
    inside = in_image(uv, depth, crowd.camera.width, crowd.camera.height)
    detectable = crowd.present & (visible.sum(-1) >= noise.min_visible)
    scale = _scale(crowd)
    flip = flip_index(joint_set)
    k = truth.shape[2]
    out = []
    for t in range(crowd.frames):
        people = np.flatnonzero(detectable[t])
        people = people[rng.random(len(people)) >= noise.miss_rate]
        m = len(people)
        vis, occ = visible[t, people], inside[t, people] & ~visible[t, people]
        sigma = (noise.jitter * scale[t, people])[:, None, None]
        kpts = np.zeros((m, k, 3))
        kpts[..., :2] = uv[t, people] + rng.normal(size=(m, k, 2)) * sigma * np.where(occ, 3.0, 1.0)[..., None]
        kpts[..., 2] = np.where(vis, rng.uniform(*noise.visible_score, (m, k)), 0.0)
        if noise.occluded == "guess":
            kpts[..., 2] = np.where(occ, rng.uniform(*noise.occluded_score, (m, k)), kpts[..., 2])
        kpts[vis & (rng.random((m, k)) < noise.drop_joint_rate)] = 0.0
        kpts[kpts[..., 2] <= 0] = 0.0
        swapped = rng.random(m) < noise.swap_lr_rate
        kpts[swapped] = kpts[swapped][:, flip]
        box = crowd.boxes[t, people].astype(np.float64)
        edges = np.concatenate([box[:, :2], box[:, :2] + box[:, 2:]], axis=1)
        edges += rng.normal(size=(m, 4)) * sigma[:, :, 0]
        boxes = np.concatenate([edges[:, :2], np.maximum(edges[:, 2:] - edges[:, :2], 0.0)], axis=1)
        fp_kpts, fp_boxes = _false_positives(rng, crowd, joint_set, rng.poisson(noise.false_positive_rate), noise)
        kpts = np.concatenate([kpts, fp_kpts])
        boxes = np.concatenate([boxes, fp_boxes])
        ids = np.concatenate([crowd.ids[people], np.full(len(fp_kpts), -1)]).astype(np.int64)
        order = rng.permutation(len(ids))
        out.append(Detections(frame=t, joint_set=joint_set, keypoints=kpts[order].astype(np.float32),
                              boxes=boxes[order].astype(np.float32),
                              scores=kpts[order, :, 2].mean(axis=1).astype(np.float32) if len(ids) else
                              np.zeros(0, np.float32), truth=ids[order]))
    return out


def truth_detections(crowd, joint_set: str = "coco17") -> list[Detections]:
    """The noise-free truth as detections, in id order: visible joints only (score 1), boxes as in the truth."""
    out = []
    for dets in simulate_detections(crowd, NOISE_PRESETS["none"], joint_set):
        order = np.argsort(dets.truth, kind="stable")
        out.append(Detections(dets.frame, joint_set, dets.keypoints[order], dets.boxes[order], dets.scores[order],
                              dets.truth[order]))
    return out
