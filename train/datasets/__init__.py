"""Readers for the official annotation formats of 3DCrowdNet's training and test sets.

    from train.datasets import open_dataset
    reader = open_dataset("MSCOCO", cfg.data.root, split="train")   # reads <data.root>/MSCOCO
    for record in reader.records:   # one Record per kept person annotation
        record.img_path, record.bbox, record.joint_img, record.joint_valid, record.fit, record.fit_valid

Each reader raises ``DatasetFileMissing`` (a FileNotFoundError) naming the missing file, where the dataset
comes from and the config key (``data.root``) of the folder holding the datasets.
"""
from pathlib import Path

from .base import Camera, DatasetFileMissing, ImageMissing, Reader, Record, SMPLFit, load_image
from .crowdpose import CrowdPose
from .human36m import Human36M
from .mpii import MPII
from .mscoco import MSCOCO
from .muco import MuCo
from .mupots import MuPoTS
from .pw3d import PW3D, match_2d_pose

READERS: dict[str, type[Reader]] = {
    "Human36M": Human36M, "MuCo": MuCo, "MSCOCO": MSCOCO, "MPII": MPII, "CrowdPose": CrowdPose,
    "PW3D": PW3D, "MuPoTS": MuPoTS,
}


def open_dataset(name: str, data_root: Path, **kwargs) -> Reader:
    """READERS[name] on <data_root>/<its folder> (config ``data.root``); the error lists the valid names."""
    try:
        cls = READERS[name]
    except KeyError:
        raise KeyError(f"unknown dataset {name!r}; expected one of {sorted(READERS)}") from None
    return cls(Path(data_root) / cls.folder, **kwargs)


__all__ = ["READERS", "Camera", "CrowdPose", "DatasetFileMissing", "Human36M", "ImageMissing", "MPII", "MSCOCO",
           "MuCo", "MuPoTS", "PW3D", "Reader", "Record", "SMPLFit", "load_image", "match_2d_pose", "open_dataset"]
