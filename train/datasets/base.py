"""The record every dataset reader yields, the missing-file error, and helpers shared by the readers.

A reader turns one dataset's official annotation files into a list of ``Record`` (one per person
annotation kept). Readers only parse and filter; cropping, augmentation and PoseFix errors come later.
"""
from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from nets.joints import COCO17, SMPL30

from .joint_sets import convert

NEAR_IOU = 0.1  # other people with bbox IoU >= this are "near persons" (PoseFix swap sources)
FIT_ERROR_MM = 25.0  # H36M / MuCo SMPLify-X fits further than this from the GT joints are invalid


class DatasetFileMissing(FileNotFoundError):
    """A dataset file is absent: names the file, where the dataset comes from, and the config key."""

    def __init__(self, dataset: str, path: Path, source: str, config_key: str, folder: str):
        self.dataset, self.path, self.source, self.config_key = dataset, Path(path), source, config_key
        super().__init__(f"{dataset}: missing file {path}. {dataset} comes from {source}. Put the official files "
                         f"in {folder}/ under the folder that the config key {config_key!r} names.")


class ImageMissing(FileNotFoundError):
    """An image a record points to cannot be read."""


def load_image(record: "Record") -> np.ndarray:
    """The record's image as (H, W, 3) uint8 RGB; ImageMissing names the file when it cannot be read."""
    img = cv2.imread(str(record.img_path), cv2.IMREAD_COLOR)
    if img is None:
        raise ImageMissing(f"{record.dataset}: cannot read image {record.img_path} (annotation {record.ann_id}); "
                           "the dataset's image folder is incomplete or in a different layout")
    return cv2.cvtColor(img, cv2.COLOR_BGR2RGB)


@dataclass(frozen=True)
class Camera:
    """Pinhole camera: focal (2,) and princpt (2,) in pixels; R (3,3), t (3,) metres world->camera, or None."""

    focal: np.ndarray
    princpt: np.ndarray
    R: np.ndarray | None = None
    t: np.ndarray | None = None

    @classmethod
    def of(cls, focal, princpt, R=None, t=None) -> "Camera":
        """From JSON lists: focal, princpt (2,) pixels; R (3, 3) and t (3,) metres optional."""
        f64 = lambda v: None if v is None else np.asarray(v, np.float64)  # noqa: E731
        return cls(f64(focal).reshape(2), f64(princpt).reshape(2), f64(R), f64(t))

    def project(self, xyz: np.ndarray) -> np.ndarray:
        """(J, 3) camera-frame points -> (J, 2) pixels."""
        xyz = np.asarray(xyz, dtype=np.float64)
        z = np.where(np.abs(xyz[:, 2:3]) < 1e-8, 1e-8, xyz[:, 2:3])
        return xyz[:, :2] / z * self.focal + self.princpt


@dataclass(frozen=True)
class SMPLFit:
    """SMPL parameters: pose (72,) axis-angle root first, shape (10,), trans (3,) metres, gender."""

    pose: np.ndarray
    shape: np.ndarray
    trans: np.ndarray
    gender: str = "neutral"


@dataclass
class Record:
    """One person annotation, in image pixels and metres.

    joint_img (30, 2) and joint_valid (30, 1) are the GT 2D joints in ``nets.joints.SMPL30`` (joints the
    dataset lacks are 0 with valid 0). joint_cam (30, 3) camera-frame metres for 3D datasets, else None.
    native_joints names the dataset's own joint set; native_cam (K, 3) metres keeps its 3D joints
    unconverted (evaluation uses them). near_joints (N, 17, 3) are other people's COCO-17 x, y, v.
    input_joints (30, 3) x, y, score is the test-time 2D input pose (3DPW, MuPoTS), else None.
    """

    dataset: str
    ann_id: int
    image_id: int
    img_path: Path
    img_size: tuple[int, int]  # (height, width)
    bbox: np.ndarray  # (4,) x, y, w, h pixels
    joint_img: np.ndarray
    joint_valid: np.ndarray
    native_joints: str
    is_3d: bool
    joint_cam: np.ndarray | None = None
    native_cam: np.ndarray | None = None
    fit: SMPLFit | None = None
    fit_valid: bool = False
    fit_error_mm: float | None = None
    camera: Camera | None = None
    near_joints: np.ndarray = field(default_factory=lambda: np.zeros((0, 17, 3)))
    input_joints: np.ndarray | None = None
    meta: dict[str, Any] = field(default_factory=dict)


# fit -> that fit's joints in the reader's native joint set, metres, in the frame of the fit's trans
# (NaN rows for joints the fit's body model does not have; see train.pipeline.fit_joints_fn)
FitJoints = Callable[[SMPLFit], np.ndarray]


class Reader:
    """Base of the dataset readers: ``records`` holds the kept annotations; ``len`` and indexing work."""

    name = ""
    source = ""
    folder = ""  # the reader's root is <data.root>/<folder>, as in the official data/ tree
    config_key = "data.root"

    def __init__(self, root: Path):
        self.root = Path(root)
        self.records: list[Record] = []

    def __len__(self) -> int:
        return len(self.records)

    def __getitem__(self, i: int) -> Record:
        return self.records[i]

    def __iter__(self):
        return iter(self.records)

    def require(self, relative: str) -> Path:
        """root/relative, or DatasetFileMissing naming it."""
        path = self.root / relative
        if not path.exists():
            raise DatasetFileMissing(self.name, path, self.source, self.config_key, self.folder)
        return path

    def load_json(self, relative: str) -> Any:
        with open(self.require(relative)) as f:
            return json.load(f)


def smpl_fit(param: dict, gender: str = "neutral") -> SMPLFit:
    """{'pose', 'shape', 'trans'} lists -> SMPLFit (float32)."""
    return SMPLFit(pose=np.asarray(param["pose"], np.float32).reshape(72),
                   shape=np.asarray(param["shape"], np.float32).reshape(10),
                   trans=np.asarray(param["trans"], np.float32).reshape(3),
                   gender=param.get("gender", gender) or gender)


def neural_annot(entry: dict) -> tuple[SMPLFit, Camera]:
    """A NeuralAnnot value {smpl_param: {pose, shape, trans}, cam_param: {focal, princpt}} -> (fit, camera)."""
    cam = entry["cam_param"]
    return smpl_fit(entry["smpl_param"]), Camera.of(cam["focal"], cam["princpt"])


def translation_aligned_error(a: np.ndarray, b: np.ndarray) -> float:
    """Mean L2 between (J, 3) point sets after removing each set's mean (same units as the input).

    Rows that are NaN in either set (joints a fit cannot produce) are left out of means and error."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    rows = np.isfinite(a).all(1) & np.isfinite(b).all(1)
    a, b = a[rows], b[rows]
    return float(np.linalg.norm((a - a.mean(0)) - (b - b.mean(0)), axis=1).mean())


def check_fit(fit: SMPLFit | None, gt_joints_m: np.ndarray, fit_joints: FitJoints | None) -> tuple[bool, float | None]:
    """(valid, error mm) of a SMPLify-X fit against GT joints (metres): invalid when > FIT_ERROR_MM.

    With no ``fit_joints`` the error cannot be measured: a present fit is kept (error None).
    """
    if fit is None:
        return False, None
    if fit_joints is None:
        return True, None
    err = translation_aligned_error(fit_joints(fit), gt_joints_m) * 1000.0
    return err <= FIT_ERROR_MM, err


def bbox_iou(a: np.ndarray, b: np.ndarray) -> float:
    """IoU of two x, y, w, h boxes."""
    ax1, ay1, bx1, by1 = a[0], a[1], b[0], b[1]
    ax2, ay2, bx2, by2 = a[0] + a[2], a[1] + a[3], b[0] + b[2], b[1] + b[3]
    iw, ih = max(0.0, min(ax2, bx2) - max(ax1, bx1)), max(0.0, min(ay2, by2) - max(ay1, by1))
    inter = iw * ih
    union = a[2] * a[3] + b[2] * b[3] - inter
    return float(inter / union) if union > 0 else 0.0


def near_joints(i: int, bboxes: list[np.ndarray], coco_joints: list[np.ndarray]) -> np.ndarray:
    """(N, 17, 3) COCO-17 joints of the people other than ``i`` whose bbox IoU with i's is >= NEAR_IOU."""
    near = [coco_joints[j] for j in range(len(bboxes)) if j != i and bbox_iou(bboxes[i], bboxes[j]) >= NEAR_IOU]
    return np.stack(near).astype(np.float64) if near else np.zeros((0, 17, 3))


def to_coco17(kpts: np.ndarray, names: tuple[str, ...]) -> np.ndarray:
    """(K, 3) x, y, v in ``names`` -> (17, 3) COCO-17; joints the set lacks are (0, 0, 0)."""
    return convert(np.asarray(kpts, np.float64), names, COCO17)


def to_smpl30(kpts: np.ndarray, names: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray]:
    """(K, 3) x, y, v -> joint_img (30, 2), joint_valid (30, 1) with valid = v > 0."""
    out = convert(np.asarray(kpts, np.float64), names, SMPL30)
    return out[:, :2].copy(), (out[:, 2:3] > 0).astype(np.float32)


def group_by_image(annotations: list[dict]) -> dict[int, list[dict]]:
    groups: dict[int, list[dict]] = {}
    for ann in annotations:
        groups.setdefault(ann["image_id"], []).append(ann)
    return groups


def keypoints(ann: dict, n: int) -> np.ndarray:
    """COCO-style flat 'keypoints' -> (n, 3)."""
    return np.asarray(ann["keypoints"], np.float64).reshape(n, 3)
