"""Shared reading of the COCO-style 2D datasets (MSCOCO, MPII, CrowdPose) with NeuralAnnot fits."""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from .base import Reader, Record, group_by_image, keypoints, near_joints, neural_annot, to_coco17, to_smpl30
from .joint_sets import add_pelvis


def read_2d(reader: Reader, db: dict, fits: dict, names: tuple[str, ...], native: str, img_dir: Path,
            keep: Callable[[dict, np.ndarray], bool], pelvis: bool, swap_size: bool = False,
            fit_ok: Callable[[dict], bool] = lambda entry: True) -> None:
    """Append one Record per kept annotation of ``db`` to ``reader.records``.

    keep(ann, kpts) filters annotations (kept ones also serve as near persons); ``pelvis`` appends the
    hip midpoint (``names`` must then end with Pelvis); ``swap_size`` reads the image's width as its
    height and vice versa; fit_ok(entry) judges a NeuralAnnot entry.
    """
    images = {img["id"]: img for img in db["images"]}
    n = len(names) - (1 if pelvis else 0)
    for image_id, anns in group_by_image(db["annotations"]).items():
        img = images[image_id]
        kept = [(a, keypoints(a, n)) for a in anns]
        kept = [(a, k) for a, k in kept if keep(a, k)]
        if not kept:
            continue
        kpts = [add_pelvis(k, names) if pelvis else k for _, k in kept]
        for k in kpts:
            k[:, 2] = (k[:, 2] > 0).astype(np.float64)
        bboxes = [np.asarray(a["bbox"], np.float64) for a, _ in kept]
        coco = [to_coco17(k, names) for k in kpts]
        h, w = (img["width"], img["height"]) if swap_size else (img["height"], img["width"])
        for i, (ann, _) in enumerate(kept):
            entry = fits.get(str(ann["id"]))
            fit, camera = neural_annot(entry) if entry is not None else (None, None)
            joint_img, joint_valid = to_smpl30(kpts[i], names)
            reader.records.append(Record(
                dataset=reader.name, ann_id=ann["id"], image_id=image_id, img_path=img_dir / img["file_name"],
                img_size=(int(h), int(w)), bbox=bboxes[i], joint_img=joint_img, joint_valid=joint_valid,
                native_joints=native, is_3d=False, fit=fit, fit_valid=entry is not None and fit_ok(entry),
                fit_error_mm=None, camera=camera, near_joints=near_joints(i, bboxes, coco),
                meta={"fit_err": entry["fit_err"]} if entry is not None and "fit_err" in entry else {}))
