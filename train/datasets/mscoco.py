"""MSCOCO keypoints with NeuralAnnot SMPL fits (2D training set; Pelvis added as the hip midpoint).

Layout under ``root``: ``annotations/person_keypoints_{train,val}2017.json``,
``annotations/MSCOCO_{train,val}_SMPL_NeuralAnnot.json`` and ``images/{train,val}2017/<file_name>``.
Annotations with ``iscrowd`` = 1 or ``num_keypoints`` = 0 are skipped.
"""
from __future__ import annotations

from pathlib import Path

from .base import Reader
from .coco_style import read_2d
from .joint_sets import COCO17_PELVIS


class MSCOCO(Reader):
    name = "MSCOCO"
    source = ("https://cocodataset.org (person_keypoints JSON and images); the NeuralAnnot fits "
              "MSCOCO_*_SMPL_NeuralAnnot.json from the NeuralAnnot / 3DCrowdNet releases")
    folder = "MSCOCO"

    def __init__(self, root: Path, split: str = "train"):
        super().__init__(root)
        if split not in ("train", "val"):
            raise ValueError(f"MSCOCO split {split!r}; expected 'train' or 'val'")
        db = self.load_json(f"annotations/person_keypoints_{split}2017.json")
        fits = self.load_json(f"annotations/MSCOCO_{split}_SMPL_NeuralAnnot.json")
        read_2d(self, db, fits, COCO17_PELVIS, "coco17_pelvis", self.root / "images" / f"{split}2017",
                keep=lambda a, k: not a.get("iscrowd", 0) and a.get("num_keypoints", 0) > 0, pelvis=True)

