"""CrowdPose with NeuralAnnot fits (2D training set; Pelvis added as the hip midpoint).

Layout under ``root``: ``annotations/crowdpose_{split}.json``,
``annotations/CrowdPose_{split}_SMPL_NeuralAnnot.json`` (each entry also has ``fit_err``) and
``images/<file_name>``. Annotations whose keypoints sum to 0 are skipped. Deviations from the official
loader, on purpose: a fit is valid when ``fit_err < 5.0`` (the release kept only fits with
``fit_err >= 5``), and flip pairs come from joint names (the release's CrowdPose pair list was wrong).
The train JSON swaps image width and height; the reader swaps them back.
"""
from __future__ import annotations

from pathlib import Path

from .base import Reader
from .coco_style import read_2d
from nets.joints import flip_pairs

from .joint_sets import CROWDPOSE14_PELVIS

FIT_ERR_MAX = 5.0
FLIP_PAIRS = flip_pairs(CROWDPOSE14_PELVIS)


class CrowdPose(Reader):
    name = "CrowdPose"
    source = ("https://github.com/Jeff-sjtu/CrowdPose (images and crowdpose_*.json); "
              "CrowdPose_*_SMPL_NeuralAnnot.json from the 3DCrowdNet release")
    folder = "CrowdPose"

    def __init__(self, root: Path, split: str = "train"):
        super().__init__(root)
        if split not in ("train", "val", "test", "trainval"):
            raise ValueError(f"CrowdPose split {split!r}; expected train, val, test or trainval")
        db = self.load_json(f"annotations/crowdpose_{split}.json")
        fits = self.load_json(f"annotations/CrowdPose_{split}_SMPL_NeuralAnnot.json")
        read_2d(self, db, fits, CROWDPOSE14_PELVIS, "crowdpose14_pelvis", self.root / "images",
                keep=lambda a, k: float(k.sum()) > 0, pelvis=True, swap_size=split == "train",
                fit_ok=lambda entry: float(entry["fit_err"]) < FIT_ERR_MAX)
