"""MuCo-3DHP: composited multi-person images; only the person closest to the camera is a sample.

Layout under ``root``: ``data/MuCo-3DHP.json`` (COCO-style; images carry ``f, c``; annotations carry
``keypoints_cam`` 21x3 mm, ``keypoints_img`` 21x2, ``bbox``), ``data/smpl_param.json`` keyed by
annotation id ({pose, shape, trans}, camera frame) and the images under ``data/<file_name>``.
The 25 mm fit rule as in Human36M: ``fit_joints(fit)`` returns the fit's MuCo-21 joints in metres,
camera frame; without it every present fit is kept. Other people with bbox IoU >= 0.1 are near persons.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from nets.joints import MUCO21, SMPL30

from .base import (Camera, FitJoints, Reader, Record, check_fit, group_by_image, near_joints, smpl_fit,
                   to_coco17, to_smpl30)

from .joint_sets import convert

PELVIS = MUCO21.index("Pelvis")


class MuCo(Reader):
    name = "MuCo"
    source = ("the MuCo-3DHP release linked from the 3DMPPE repository (github.com/mks0601/3DMPPE_POSENET_RELEASE), "
              "SMPLify-X fits (smpl_param.json) from the I2L-MeshNet / 3DCrowdNet data release")
    folder = "MuCo"

    def __init__(self, root: Path, split: str = "train", fit_joints: FitJoints | None = None):
        super().__init__(root)
        if split != "train":
            raise ValueError(f"MuCo split {split!r}; only 'train' exists")
        db = self.load_json("data/MuCo-3DHP.json")
        smpl = self.load_json("data/smpl_param.json")
        images = {img["id"]: img for img in db["images"]}
        for image_id, anns in group_by_image(db["annotations"]).items():
            img = images[image_id]
            cams = [np.asarray(a["keypoints_cam"], np.float64).reshape(21, 3) / 1000.0 for a in anns]
            closest = int(np.argmin([c[PELVIS, 2] for c in cams]))
            ann, joint_cam = anns[closest], cams[closest]
            kp_img = [np.concatenate([np.asarray(a["keypoints_img"], np.float64).reshape(21, 2), np.ones((21, 1))], 1)
                      for a in anns]
            bboxes = [np.asarray(a["bbox"], np.float64) for a in anns]
            param = smpl.get(str(ann["id"]))
            fit = smpl_fit(param) if param is not None else None
            valid, err = check_fit(fit, joint_cam, fit_joints)
            joint_img, joint_valid = to_smpl30(kp_img[closest], MUCO21)
            self.records.append(Record(
                dataset=self.name, ann_id=ann["id"], image_id=image_id, img_path=self.root / "data" / img["file_name"],
                img_size=(img["height"], img["width"]), bbox=bboxes[closest], joint_img=joint_img,
                joint_valid=joint_valid, native_joints="muco21", is_3d=True,
                joint_cam=convert(joint_cam, MUCO21, SMPL30), native_cam=joint_cam, fit=fit, fit_valid=valid,
                fit_error_mm=err, camera=Camera.of(img["f"], img["c"]),
                near_joints=near_joints(closest, bboxes, [to_coco17(k, MUCO21) for k in kp_img])))

