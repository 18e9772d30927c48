"""MPII Human Pose (converted COCO-style ``train.json``) with NeuralAnnot fits; no annotation filters.

Layout under ``root``: ``annotations/train.json``, ``annotations/MPII_train_SMPL_NeuralAnnot.json`` and
``images/<file_name>``.
"""
from __future__ import annotations

from pathlib import Path

from .base import Reader
from .coco_style import read_2d
from nets.joints import MPII16


class MPII(Reader):
    name = "MPII"
    source = ("http://human-pose.mpi-inf.mpg.de (images); train.json in COCO format from the 3DMPPE / "
              "I2L-MeshNet release; MPII_train_SMPL_NeuralAnnot.json from the NeuralAnnot / 3DCrowdNet releases")
    folder = "MPII"

    def __init__(self, root: Path, split: str = "train"):
        super().__init__(root)
        if split != "train":
            raise ValueError(f"MPII split {split!r}; only 'train' exists")
        db = self.load_json("annotations/train.json")
        fits = self.load_json("annotations/MPII_train_SMPL_NeuralAnnot.json")
        read_2d(self, db, fits, MPII16, "mpii16", self.root / "images", keep=lambda a, k: True, pelvis=False)
