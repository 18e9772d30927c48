"""Training samples from the official dataset readers, the 50/50 mix of 3D and 2D datasets, test crops.

    train_set = make_training_set(cfg, body, model.config)   # MixedDataset over cfg.data.train
    sample = train_set[i]      # the keys and shapes of train.synthetic: img, joints, joints_mask,
                               # crowd_index and the loss targets (train.losses.TARGET_KEYS)
    crops = make_test_set("PW3D-Crowd", cfg.data.root, model.config)   # TestCrops: img, joints, joints_mask, index

One training sample (``RecordDataset.sample``, TRAINING.md §2-§4), from a ``train.datasets.Record``:

1. crop: the annotation box through ``process_bbox`` (square, x1.25), with the train augmentation
   (scale, rotation, colour gain, flip; ``train.augment``) in one affine warp to ``input_size``²;
2. GT: the 2D joints flipped and warped, in heatmap units; 3D datasets add the root-relative camera
   joints (flipped, then Rz(-rot)) and their depth in ``heatmap_size`` bins over +-1 m;
3. pseudo-GT SMPL fit (when valid): its 30 joints from the body model in the camera frame, projected
   with the fit's camera and warped like the GT; the pose flipped and root-rotated the same way; betas
   zeroed when any |b| > 3;
4. input 2D pose: the warped GT with PoseFix errors on its COCO-17 joints (``train.posefix``, near
   people warped alike); ``joints_mask`` = the GT truncation mask, not the perturbed pose;
5. truncation: valid and inside the heatmap volume (3D data) or grid (2D data), for GT and fit.

Mixing (``MixedDataset``, the official MultipleDatasets): datasets are concatenated within the 3D group
(Human36M, MuCo) and within the 2D group (MSCOCO, MPII, CrowdPose); each group is stretched to the
larger group's length L (whole cycles by index modulo, the incomplete last cycle drawn at random), so an
epoch has 2L samples, exactly half 3D; the DataLoader's shuffle makes every batch 50/50 in expectation.

Deviations from the release, on purpose (the docstring of ``train`` lists them all):
- random draws (augmentation, PoseFix, the mix's last cycle) come from
  ``numpy.random.default_rng((seed, epoch, dataset, index))``, not the global RNGs, so a sample is
  reproducible and a resumed epoch draws what the interrupted one would have;
- the fit's joints are flipped and rotated as points, like the GT joints, instead of re-running SMPL
  with the flipped pose: GT and fit targets share one transform exactly;
- MPII's fit joints are root-relative and rotated like every dataset's (release BUG);
- the 25 mm fit rule uses ``J_regressor_h36m_correct.npy`` when it sits in ``<data.root>/Human36M/``;
  otherwise (and always for MuCo) the body's SMPL-30 joints compared by name on the shared joints.
"""
from __future__ import annotations

import copy
import logging
import zlib
from pathlib import Path

import cv2
import numpy as np
import torch
from torch.utils.data import ConcatDataset, Dataset

from nets.joints import COCO17, H36M17, MUCO21, SMPL30, SMPL30_FLIP_PAIRS, flip_pairs
from train.augment import (Augmentation, apply_affine, augment_joint_cam, augment_smpl_pose, crop_image,
                           process_bbox, sample_augmentation, sanitize_betas, to_heatmap_space,
                           transform_joints_2d, truncation_mask)
from train.datasets import Reader, Record, load_image, open_dataset
from train.losses import fit_param_valid_mask
from nets.metrics import crowd_index
from train.posefix import synthesize_pose

log = logging.getLogger(__name__)

GROUPS = {"3D": ("Human36M", "MuCo"), "2D": ("MSCOCO", "MPII", "CrowdPose")}
TEST_SETS = {"PW3D": ("PW3D", {"split": "test"}), "PW3D-Crowd": ("PW3D", {"split": "validation", "crowd": True}),
             "MuPoTS": ("MuPoTS", {})}
H36M_REGRESSOR = Path("Human36M") / "J_regressor_h36m_correct.npy"   # official place, under data.root
COCO_IN_SMPL30 = np.array([SMPL30.index(n) for n in COCO17])
COCO_FLIP_PAIRS = flip_pairs(COCO17)
PELVIS = SMPL30.index("Pelvis")


def _f32(a) -> torch.Tensor:
    return torch.as_tensor(np.asarray(a, np.float32))


def _rotate_root(pose: np.ndarray, R: np.ndarray) -> np.ndarray:
    """(72,) axis-angle -> (72,) with the root orientation left-multiplied by R (3,3)."""
    out = np.array(pose, np.float64, copy=True)
    out[:3] = cv2.Rodrigues(R @ cv2.Rodrigues(out[:3])[0])[0][:, 0]
    return out


class FitBody:
    """Pseudo-GT SMPL fits through a CPU copy of the body model (safe in DataLoader workers)."""

    def __init__(self, body: torch.nn.Module):
        self.body = copy.deepcopy(body).cpu().float().eval()

    @torch.no_grad()
    def output(self, fit, betas=None):
        betas = fit.shape if betas is None else betas
        t = lambda a: torch.as_tensor(np.asarray(a, np.float32)[None])  # noqa: E731
        return self.body(t(fit.pose), t(betas), t(fit.trans))

    def camera_joints(self, fit, camera) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """-> joints (30,3) camera frame metres, pose (72,) with a camera-frame root, betas (10,).

        Fits with a world frame (``camera.R`` set, Human36M) are moved into the camera frame."""
        betas = sanitize_betas(fit.shape)
        joints = self.output(fit, betas).joints[0].double().numpy()
        pose = np.asarray(fit.pose, np.float64)
        if camera.R is not None:
            joints = joints @ camera.R.T + camera.t
            pose = _rotate_root(pose, camera.R)
        return joints, pose, betas

    def native_joints(self, names: tuple[str, ...], regressor: np.ndarray | None = None):
        """A reader's ``fit_joints``: the fit's joints in ``names`` (metres, the fit's own frame): rows of
        ``regressor`` (K,V) times the mesh, or else the SMPL-30 joints by name (NaN where SMPL-30 has none)."""
        index = [SMPL30.index(n) if n in SMPL30 else -1 for n in names]

        def fit_joints(fit) -> np.ndarray:
            out = self.output(fit)
            if regressor is not None:
                return regressor @ out.vertices[0].double().numpy()
            joints = out.joints[0].double().numpy()
            return np.array([joints[j] if j >= 0 else np.full(3, np.nan) for j in index])
        return fit_joints


class RecordDataset(Dataset):
    """Training samples from one reader's records (records whose box is degenerate are dropped)."""

    def __init__(self, reader: Reader, fit_body: FitBody, model_config, augment: bool = True,
                 posefix: bool = True, seed: int = 0):
        self.name = reader.name
        self.records: list[Record] = []
        self.boxes: list[np.ndarray] = []
        for r in reader.records:
            box = process_bbox(r.bbox, r.img_size[1], r.img_size[0])
            if box is not None and r.joint_valid.sum() > 0:
                self.records.append(r)
                self.boxes.append(box)
        if len(self.records) < len(reader.records):
            log.info("%s: %d of %d records dropped (degenerate box or no joint)", self.name,
                     len(reader.records) - len(self.records), len(reader.records))
        self.fit_body, self.input_size, self.heatmap_size = fit_body, model_config.input_size, model_config.heatmap_size
        self.augment, self.posefix, self.seed, self.epoch = augment, posefix, seed, 0
        self._uid = zlib.crc32(self.name.encode())
        self._fits: dict[int, tuple] = {}
        self._fit_param_valid = fit_param_valid_mask().numpy()

    def __len__(self) -> int:
        return len(self.records)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        rng = np.random.default_rng([self.seed, self.epoch, self._uid, i])
        aug = sample_augmentation(rng) if self.augment else Augmentation()
        return self.sample(i, aug, rng if self.posefix else None)

    def _fit(self, i: int) -> tuple | None:
        r = self.records[i]
        if r.fit is None or not r.fit_valid or r.camera is None:
            return None
        if i not in self._fits:
            self._fits[i] = self.fit_body.camera_joints(r.fit, r.camera)
        return self._fits[i]

    def sample(self, i: int, aug: Augmentation, rng: np.random.Generator | None = None) -> dict[str, torch.Tensor]:
        """Record ``i`` under augmentation ``aug``; PoseFix errors drawn from ``rng`` (None: the clean GT)."""
        r, S, H = self.records[i], self.input_size, self.heatmap_size
        image = load_image(r)
        width = image.shape[1]
        patch, trans, _ = crop_image(image, self.boxes[i], aug, S)
        img = torch.from_numpy(np.ascontiguousarray(patch.transpose(2, 0, 1)) / np.float32(255.0))

        uvv = transform_joints_2d(np.concatenate([r.joint_img, r.joint_valid], 1), trans, aug, width, SMPL30_FLIP_PAIRS)
        valid = uvv[:, 2:3]
        if r.is_3d:
            cam = (r.joint_cam - r.joint_cam[PELVIS]) * r.joint_valid
            joint_cam = augment_joint_cam(cam, aug, SMPL30_FLIP_PAIRS)
            joint_img = to_heatmap_space(uvv, joint_cam[:, 2], S, H)
        else:
            joint_cam = np.zeros((len(SMPL30), 3))
            joint_img = to_heatmap_space(uvv, None, S, H)
        trunc = truncation_mask(joint_img, valid, use_depth=r.is_3d, heatmap_size=H)

        fit = self._fit(i)
        if fit is not None:
            joints, pose, betas = fit
            fit_cam = augment_joint_cam(joints - joints[PELVIS], aug, SMPL30_FLIP_PAIRS)
            fit_uv = transform_joints_2d(r.camera.project(joints), trans, aug, width, SMPL30_FLIP_PAIRS)
            fit_img = to_heatmap_space(fit_uv, fit_cam[:, 2], S, H)
            fit_trunc = truncation_mask(fit_img, np.ones(len(SMPL30)), heatmap_size=H)
            pose = augment_smpl_pose(pose, aug)
        else:
            fit_cam, fit_img, fit_trunc = np.zeros((30, 3)), np.zeros((30, 3)), np.zeros((30, 1))
            pose, betas = np.zeros(72), np.zeros(10)

        joints_in = joint_img[:, :2].copy()
        if rng is not None:
            own = np.concatenate([uvv[COCO_IN_SMPL30, :2], valid[COCO_IN_SMPL30]], 1)
            near = np.array([transform_joints_2d(n, trans, aug, width, COCO_FLIP_PAIRS) for n in r.near_joints])
            noisy, _ = synthesize_pose(own, near.reshape(-1, 17, 3), rng)
            joints_in[COCO_IN_SMPL30] = noisy[:, :2] * (H / S)
        own_image = np.concatenate([r.joint_img[COCO_IN_SMPL30], r.joint_valid[COCO_IN_SMPL30]], 1)
        fit_valid = float(fit is not None)
        return {
            "img": img, "joints": _f32(joints_in), "joints_mask": _f32(trunc),
            "orig_joint_img": _f32(joint_img), "orig_joint_trunc": _f32(trunc), "orig_joint_valid": _f32(valid),
            "orig_joint_cam": _f32(joint_cam), "fit_joint_img": _f32(fit_img), "fit_joint_trunc": _f32(fit_trunc),
            "fit_joint_cam": _f32(fit_cam), "pose_param": _f32(pose), "shape_param": _f32(betas),
            "fit_param_valid": _f32(self._fit_param_valid * fit_valid), "is_valid_fit": _f32([fit_valid]),
            "is_3D": _f32([float(r.is_3d)]),
            "crowd_index": torch.tensor(np.float32(crowd_index(own_image, r.bbox, list(r.near_joints)))),
        }


class MixedDataset(Dataset):
    """Groups of datasets mixed 50/50 (official MultipleDatasets with ``make_same_len``).

    Index i belongs to group i // L (L = the largest group's length); inside a group the datasets are
    concatenated, whole cycles are read by modulo and the incomplete last cycle at random."""

    def __init__(self, groups: dict[str, list[Dataset]], seed: int = 0):
        kept = {name: [d for d in sets if len(d)] for name, sets in groups.items()}
        self.names = [name for name, sets in kept.items() if sets]
        if not self.names:
            raise ValueError(f"no training samples in any dataset of {dict(groups)}")
        self.groups = [ConcatDataset(kept[name]) for name in self.names]
        self.per_group = max(len(g) for g in self.groups)
        self.seed, self.epoch = seed, 0

    def __len__(self) -> int:
        return self.per_group * len(self.groups)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)
        for group in self.groups:
            for d in group.datasets:
                d.set_epoch(epoch)

    def locate(self, i: int) -> tuple[int, int]:
        """Index -> (group, index inside the group)."""
        g, j = divmod(int(i), self.per_group)
        n = len(self.groups[g])
        if j >= n * (self.per_group // n):
            return g, int(np.random.default_rng([self.seed, self.epoch, i]).integers(n))
        return g, j % n

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        g, j = self.locate(i)
        return self.groups[g][j]


def reader_options(name: str, data, fit_body: FitBody) -> dict:
    """Keyword arguments for a training reader (``data`` a DataConfig): the 25 mm fit check of
    Human36M and MuCo, the Human36M subjects."""
    if name == "Human36M":
        path = Path(data.root) / H36M_REGRESSOR
        regressor = np.load(path).astype(np.float64) if path.is_file() else None
        if regressor is None:
            log.info("Human36M fit check: %s absent; comparing SMPL-30 joints by name", path)
        return {"fit_joints": fit_body.native_joints(H36M17, regressor), "subjects": data.human36m_subjects or None}
    if name == "MuCo":
        return {"fit_joints": fit_body.native_joints(MUCO21)}
    return {}


def make_training_set(cfg, body: torch.nn.Module, model_config) -> MixedDataset:
    """The mixed training set of ``cfg.data.train`` (official readers under ``cfg.data.root``)."""
    fit_body = FitBody(body)
    groups: dict[str, list[Dataset]] = {name: [] for name in GROUPS}
    for name in cfg.data.train:
        group = next((g for g, names in GROUPS.items() if name in names), None)
        if group is None:
            valid = [n for names in GROUPS.values() for n in names]
            raise ValueError(f"data.train: {name!r} is not a training dataset; valid: ['synthetic', *{valid}]")
        reader = open_dataset(name, cfg.data.root, split="train", **reader_options(name, cfg.data, fit_body))
        groups[group].append(RecordDataset(reader, fit_body, model_config, posefix=cfg.data.posefix,
                                            seed=cfg.seed))
    mixed = MixedDataset(groups, seed=cfg.seed)
    log.info("training set: %s", ", ".join(f"{n} {len(g)}" for n, g in zip(mixed.names, mixed.groups)))
    return mixed


class TestCrops(Dataset):
    """Test-time crops of a test reader (3DPW, MuPoTS): no augmentation, the reader's input 2D pose.

    The box is the input joints' extent (``Record.bbox``) through ``process_bbox`` without the
    degenerate-box check, as official; joints with score 0 or outside the grid are masked."""

    def __init__(self, reader: Reader, model_config):
        self.name, self.records = reader.name, reader.records
        self.boxes = [process_bbox(r.bbox, r.img_size[1], r.img_size[0], check=False) for r in self.records]
        self.input_size, self.heatmap_size = model_config.input_size, model_config.heatmap_size

    def __len__(self) -> int:
        return len(self.records)

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        r, S, H = self.records[i], self.input_size, self.heatmap_size
        patch, trans, _ = crop_image(load_image(r), self.boxes[i], Augmentation(), S)
        uv = apply_affine(r.input_joints[:, :2], trans) * (H / S)
        mask = (r.input_joints[:, 2] > 0) & np.all((uv >= 0) & (uv < H), axis=1)
        return {"img": torch.from_numpy(np.ascontiguousarray(patch.transpose(2, 0, 1)) / np.float32(255.0)),
                "joints": _f32(uv), "joints_mask": _f32(mask[:, None]), "index": torch.tensor(i)}


def make_test_set(name: str, data_root, model_config) -> TestCrops:
    """``name`` in TEST_SETS: PW3D (3DPW test, OpenPose input), PW3D-Crowd, MuPoTS."""
    if name not in TEST_SETS:
        raise ValueError(f"data.test: unknown test set {name!r}; valid: ['synthetic', *{list(TEST_SETS)}]")
    reader_name, kwargs = TEST_SETS[name]
    return TestCrops(open_dataset(reader_name, data_root, **kwargs), model_config)
