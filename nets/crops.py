"""Person crops for 3DCrowdNet: 2D pose in image pixels -> 256² crop + joints on the 64² heatmap.

The steps and numbers follow the official demo (``demo/demo.py`` of the 3DCrowdNet release):
pelvis/neck from hips/shoulders, joints valid above a 0.1 score, weak and duplicate poses dropped,
a box around the valid joints ×1.2, clipped, squared and ×1.25, a cv2 affine warp, joints moved to
the heatmap and the 30-joint superset, joints outside the crop masked. ``warp_crops`` is the same warp
in torch (one ``grid_sample`` per frame, on any device), for ``crop_people(..., warp=False)``'s affines.
Two deliberate differences:
the official duplicate test also drops a pose that shares no valid joint with an earlier one (its
difference list is then empty); such poses cannot be duplicates and are kept here. And a pose whose
crop box comes out under ``MIN_CROP_PIXELS`` a side (e.g. two ear keypoints a pixel apart: a 0.1 px
box the official demo crops and enlarges 2,500 times, giving an infinite depth) is dropped.

Duplicates (``CropConfig.duplicate``): "official" is the demo's test, a mean |Δx|, |Δy| over the commonly
valid joints below ``DUPLICATE_PIXELS`` whatever the people's size, so in a crowd of small people it drops
people standing behind others. "oks" scales with the people: the COCO object keypoint similarity of the
two poses over their commonly valid joints (``keypoint_similarity``) above ``DUPLICATE_OKS``.
"""
import typing
from dataclasses import dataclass
from typing import Literal

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from nets.config import check
from nets.joints import add_pelvis_neck, joint_names, to_superset

POSE_THRESHOLD = 0.1     # a joint is valid above this score
MIN_POSE_SCORE = 1.0     # a pose is dropped when the sum of its joint scores is below this
MIN_CROP_PIXELS = 8.0    # ... or when its squared crop box is smaller than this a side (image pixels)
DUPLICATE_PIXELS = 20.0  # "official": mean |Δ| over commonly valid joints below which a pose is a duplicate
# "oks": similarity above which a pose is a duplicate. 0.5 is the OKS of the official test's 20 pixels (every
# joint moved 20 px in x and y) for the official demo's people (~360 px tall, basketball1.png: 0.50 and 0.57),
# so the two tests agree at the size the official one was made for. In nets.synth crowds of 8 and 20 people
# (320x240, 60 frames) two people score above 0.5 in under 0.1 % of the pairs, and two independent "moderate"
# detections of one person above 0.5 in 99.8 % ("heavy": 79-93 %).
DUPLICATE_OKS = 0.5
# COCO's per-joint keypoint sigmas (cocoapi, CrowdPose's for Head_top/Neck); Pelvis as the hips
KEYPOINT_SIGMAS = {"Nose": 0.026, "L_Eye": 0.025, "R_Eye": 0.025, "L_Ear": 0.035, "R_Ear": 0.035,
                   "L_Shoulder": 0.079, "R_Shoulder": 0.079, "L_Elbow": 0.072, "R_Elbow": 0.072, "L_Wrist": 0.062,
                   "R_Wrist": 0.062, "L_Hip": 0.107, "R_Hip": 0.107, "L_Knee": 0.087, "R_Knee": 0.087,
                   "L_Ankle": 0.089, "R_Ankle": 0.089, "Pelvis": 0.107, "Neck": 0.079, "Head_top": 0.079}
DuplicateTest = Literal["official", "oks"]
DUPLICATE_TESTS = typing.get_args(DuplicateTest)


@dataclass(frozen=True)
class CropConfig:
    input_size: int = 256
    heatmap_size: int = 64
    box_margin: float = 1.2     # tight joint box ×
    box_scale: float = 1.25     # squared box ×
    duplicate: DuplicateTest = "official"   # duplicate test: the official demo's pixels, or "oks" (module docstring)

    def __post_init__(self):
        check(self, "duplicate", self.duplicate in DUPLICATE_TESTS, f"one of {list(DUPLICATE_TESTS)}")


def select_people(poses: list[np.ndarray], joint_set: str, duplicate: DuplicateTest = "official") -> list[int]:
    """Indices of the poses kept: scored enough and not a duplicate of an earlier kept pose, in order.

    ``duplicate`` "official" is the official demo's test, "oks" the keypoint similarity (module docstring)."""
    if duplicate not in DUPLICATE_TESTS:
        raise ValueError(f"duplicate = {duplicate!r}: expected one of {list(DUPLICATE_TESTS)}")
    same = _same_person if duplicate == "official" else _similar_person
    kept, drawn = [], []
    for i, pose in enumerate(poses):
        kpts, names = add_pelvis_neck(np.asarray(pose, dtype=np.float64)[:, :3], joint_set)
        if kpts[:, 2].sum() < MIN_POSE_SCORE or not np.any(kpts[:, 2]):
            continue
        valid = (kpts[:, 2:] > POSE_THRESHOLD).astype(np.float32)
        if any(same(kpts, valid, *other) for other in drawn):
            continue
        drawn.append((kpts, valid, names))
        kept.append(i)
    return kept


def _same_person(a: np.ndarray, a_valid: np.ndarray, b: np.ndarray, b_valid: np.ndarray, names=()) -> bool:
    common = a_valid * b_valid
    if not common.any():
        return False
    diff = np.abs(a[:, :2] - b[:, :2]) * common
    diff = diff[diff != 0]
    return diff.size == 0 or diff.mean() < DUPLICATE_PIXELS


def _similar_person(a: np.ndarray, a_valid: np.ndarray, b: np.ndarray, b_valid: np.ndarray, names) -> bool:
    return keypoint_similarity(a, a_valid[:, 0] > 0, b, b_valid[:, 0] > 0, names) > DUPLICATE_OKS


def keypoint_similarity(a: np.ndarray, a_valid: np.ndarray, b: np.ndarray, b_valid: np.ndarray,
                        names: typing.Sequence[str]) -> float:
    """Object keypoint similarity of two poses: (K,2+) pixels and (K,) bool valid each, joint ``names`` -> [0, 1].

    COCO's OKS over the joints valid in both: mean of ``exp(-d² / (2 s² (2σ)²))``, d the joint distance, σ
    the joint's ``KEYPOINT_SIGMAS``, s² the mean of the two poses' areas (width x height of the box around
    each one's valid joints, as OKS-NMS uses). 0 when no joint is valid in both.
    """
    common = np.asarray(a_valid, bool) & np.asarray(b_valid, bool)
    if not common.any():
        return 0.0
    area = (_joint_area(a, a_valid) + _joint_area(b, b_valid)) / 2
    sigma = np.array([KEYPOINT_SIGMAS[n] for n in names])[common]
    d2 = ((np.asarray(a)[common, :2] - np.asarray(b)[common, :2]) ** 2).sum(-1)
    return float(np.exp(-d2 / (2 * max(area, 1.0) * (2 * sigma) ** 2)).mean())


def _joint_area(kpts: np.ndarray, valid: np.ndarray) -> float:
    xy = np.asarray(kpts)[np.asarray(valid, bool), :2]
    return float(np.prod(np.ptp(xy, axis=0)))


def joints_box(kpts: np.ndarray, valid: np.ndarray, margin: float) -> np.ndarray:
    """(K,2+) pixels, (K,) 0/1 -> (4,) float32 xywh around the valid joints, enlarged by ``margin``."""
    x, y = kpts[valid == 1, 0], kpts[valid == 1, 1]
    xmin, xmax, ymin, ymax = min(x), max(x), min(y), max(y)
    cx, w = (xmin + xmax) / 2.0, xmax - xmin
    cy, h = (ymin + ymax) / 2.0, ymax - ymin
    xmin, xmax = cx - 0.5 * w * margin, cx + 0.5 * w * margin
    ymin, ymax = cy - 0.5 * h * margin, cy + 0.5 * h * margin
    return np.array([xmin, ymin, xmax - xmin, ymax - ymin]).astype(np.float32)


def square_box(bbox: np.ndarray, width: int, height: int, scale: float) -> np.ndarray | None:
    """Clip xywh to the image, square it up about its centre and enlarge by ``scale``; None if empty or under
    ``MIN_CROP_PIXELS`` a side."""
    x, y, w, h = bbox
    x1, y1 = np.max((0, x)), np.max((0, y))
    x2 = np.min((width - 1, x1 + np.max((0, w - 1))))
    y2 = np.min((height - 1, y1 + np.max((0, h - 1))))
    if not (w * h > 0 and x2 >= x1 and y2 >= y1):
        return None
    box = np.array([x1, y1, x2 - x1, y2 - y1], dtype=np.float32)
    w, h = box[2], box[3]
    cx, cy = box[0] + w / 2.0, box[1] + h / 2.0
    if w > h:
        h = w
    elif w < h:
        w = h
    box[2], box[3] = w * scale, h * scale
    box[0], box[1] = cx - box[2] / 2.0, cy - box[3] / 2.0
    return box if box[2] >= MIN_CROP_PIXELS else None


def crop_transforms(bbox: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """xywh box -> (img→crop, crop→img) 2x3 float32 affines mapping the box onto a size² crop."""
    cx, cy = float(bbox[0] + 0.5 * bbox[2]), float(bbox[1] + 0.5 * bbox[3])
    w, h = float(bbox[2]), float(bbox[3])
    src = np.array([[cx, cy], [cx, cy + h * 0.5], [cx + w * 0.5, cy]], dtype=np.float32)
    dst = np.array([[size * 0.5, size * 0.5], [size * 0.5, size], [size, size * 0.5]], dtype=np.float32)
    return (cv2.getAffineTransform(src, dst).astype(np.float32),
            cv2.getAffineTransform(dst, src).astype(np.float32))


def crop_people(image_rgb: np.ndarray, poses: list[np.ndarray], joint_set: str,
                config: CropConfig = CropConfig(), warp: bool = True) -> dict[str, np.ndarray]:
    """Model inputs for every kept person of one image, stacked along the first axis.

    image_rgb (H,W,3) uint8; poses: per person (K,3) x, y, score in ``joint_set``.
    Returns ``index`` (N,) kept input positions, ``img`` (N,3,S,S) float32 in [0,1], ``joints``
    (N,30,3) heatmap pixels + score, ``joints_mask`` (N,30,1), ``bbox`` (N,4) the crop box, and the
    intermediate ``bbox_tight``, ``img2bb_trans``, ``bb2img_trans``, ``joints_valid``, ``kpts`` (N,K',3)
    with pelvis and neck, ``kpts_valid`` (N,K',1). With ``warp=False`` there is no ``img`` (only the
    image's size is read): ``warp_crops(image, out["bb2img_trans"], S)`` makes it elsewhere.
    """
    height, width = image_rgb.shape[:2]
    size, hm = config.input_size, config.heatmap_size
    rows = []
    for i in select_people(poses, joint_set, config.duplicate):
        kpts, names = add_pelvis_neck(np.asarray(poses[i], dtype=np.float64)[:, :3], joint_set)
        valid = (kpts[:, 2:] > POSE_THRESHOLD).astype(np.float32)
        tight = joints_box(kpts, valid[:, 0], config.box_margin)
        bbox = square_box(tight, width, height, config.box_scale)
        if bbox is None:
            continue
        img2bb, bb2img = crop_transforms(bbox, size)
        joints = kpts.copy()
        xy1 = np.concatenate((kpts[:, :2], np.ones_like(kpts[:, :1])), axis=1)
        joints[:, :2] = (img2bb @ xy1.T).T * (hm / size)
        joints30 = to_superset(joints, names)
        valid30 = to_superset(valid, names)
        valid30[joints30[:, 2] <= POSE_THRESHOLD] = 0
        inside = (joints30[:, 0] >= 0) & (joints30[:, 0] < hm) & (joints30[:, 1] >= 0) & (joints30[:, 1] < hm)
        rows.append(dict(
            index=i, joints=joints30.astype(np.float32),
            joints_mask=valid30 * inside[:, None].astype(np.float32), bbox=bbox, bbox_tight=tight,
            img2bb_trans=img2bb, bb2img_trans=bb2img, joints_valid=valid30, kpts=kpts, kpts_valid=valid))
        if warp:
            crop = cv2.warpAffine(image_rgb, img2bb, (size, size), flags=cv2.INTER_LINEAR)
            rows[-1]["img"] = crop.astype(np.float32).transpose(2, 0, 1) / 255
    num_kpts = len(add_pelvis_neck(np.zeros((len(joint_names(joint_set)), 3)), joint_set)[1])
    out = _stack(rows, size, num_kpts)
    return out if warp else {k: v for k, v in out.items() if k != "img"}


def warp_crops(frame: torch.Tensor, bb2img, size: int) -> torch.Tensor:
    """(H,W,3) uint8 image on any device, (N,2,3) crop->image affines -> (N,3,size,size) float32 in [0,1].

    Channels stay in the frame's order. Crop pixel (u, v) is the bilinear sample at image point
    ``bb2img @ (u, v, 1)``, pixel centres at integer coordinates, zeros outside the image: the
    ``cv2.warpAffine(frame, img2bb, (size, size))`` of ``crop_people`` (INTER_LINEAR, constant 0 border)
    without its 1/32-pixel positions and uint8 rounding. One ``grid_sample`` for all N crops.
    """
    height, width = frame.shape[:2]
    affine = torch.as_tensor(bb2img, dtype=torch.float32).to(frame.device, non_blocking=True)
    if not len(affine):
        return torch.zeros((0, 3, size, size), device=frame.device)
    # crop pixels -> grid_sample's [-1, 1] image coordinates: x -> (2x + 1) / W - 1 after the affine
    # (align_corners=False: -1 and 1 are the image's outer edges, pixel centres in between)
    scale = torch.tensor([[2.0 / width], [2.0 / height]], device=frame.device)
    to_grid = affine * scale
    to_grid[:, :, 2] += scale[:, 0] / 2 - 1
    ramp = torch.arange(size, dtype=torch.float32, device=frame.device)
    u, v, m = ramp[None, None, :, None], ramp[None, :, None, None], to_grid[:, None, None]
    grid = u * m[..., 0] + v * m[..., 1] + m[..., 2]          # (N,S,S,2): to_grid @ (u, v, 1)
    image = frame.permute(2, 0, 1)[None].float()
    crops = F.grid_sample(image, grid.reshape(1, -1, size, 2), mode="bilinear", padding_mode="zeros",
                          align_corners=False)               # all crops stacked along the height: (1,3,N*S,S)
    return crops.div_(255).reshape(3, -1, size, size).transpose(0, 1).contiguous()


def _stack(rows: list[dict], size: int, num_kpts: int) -> dict[str, np.ndarray]:
    empty = dict(index=((0,), np.int64), img=((0, 3, size, size), np.float32), joints=((0, 30, 3), np.float32),
                 joints_mask=((0, 30, 1), np.float32), bbox=((0, 4), np.float32), bbox_tight=((0, 4), np.float32),
                 img2bb_trans=((0, 2, 3), np.float32), bb2img_trans=((0, 2, 3), np.float32),
                 joints_valid=((0, 30, 1), np.float32), kpts=((0, num_kpts, 3), np.float64),
                 kpts_valid=((0, num_kpts, 1), np.float32))
    if not rows:
        return {k: np.zeros(shape, dtype) for k, (shape, dtype) in empty.items()}
    if "img" not in rows[0]:
        empty.pop("img")
    return {k: np.stack([np.asarray(r[k]) for r in rows]).astype(empty[k][1]) for k in empty}
