"""Human3.6M: per-subject JSON files with camera, world 3D joints and SMPLify-X fits.

Layout under ``root``: ``annotations/Human36M_subject{S}_{data,camera,joint_3d,smpl_param}.json`` and
``images/<file_name>``. Train = S1, 5, 6, 7, 8, every 5th frame; test = S9, 11, every 64th frame,
camera 4 only. A fit is invalid when its joints are more than 25 mm (translation-aligned) from the GT:
``fit_joints(fit)`` must return the fit's H36M-17 joints (J_regressor_h36m_correct x mesh) in metres,
world frame (the fits' frame); without it the error is not measured and every present fit is kept.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from nets.joints import H36M17, SMPL30

from .base import Camera, FitJoints, Reader, Record, check_fit, smpl_fit, to_smpl30
from .joint_sets import convert

SUBJECTS = {"train": (1, 5, 6, 7, 8), "test": (9, 11)}
FRAME_STEP = {"train": 5, "test": 64}
TEST_CAMERA = 4


class Human36M(Reader):
    name = "Human36M"
    source = ("http://vision.imar.ro/human3.6m (images); the JSON annotations and SMPLify-X fits from the "
              "3DMPPE / I2L-MeshNet release")
    folder = "Human36M"

    def __init__(self, root: Path, split: str = "train", fit_joints: FitJoints | None = None,
                 subjects: tuple[int, ...] | None = None):
        super().__init__(root)
        if split not in SUBJECTS:
            raise ValueError(f"Human36M split {split!r}; expected one of {sorted(SUBJECTS)}")
        self.split = split
        for subject in subjects or SUBJECTS[split]:
            self._read_subject(subject, fit_joints)

    def _read_subject(self, s: int, fit_joints: FitJoints | None) -> None:
        prefix = f"annotations/Human36M_subject{s}"
        data = self.load_json(f"{prefix}_data.json")
        cameras = self.load_json(f"{prefix}_camera.json")
        joints3d = self.load_json(f"{prefix}_joint_3d.json")
        smpl = self.load_json(f"{prefix}_smpl_param.json")
        images = {img["id"]: img for img in data["images"]}
        step = FRAME_STEP[self.split]
        for ann in data["annotations"]:
            img = images[ann["image_id"]]
            if img["frame_idx"] % step != 0 or (self.split == "test" and img["cam_idx"] != TEST_CAMERA):
                continue
            act, sub, frame = str(img["action_idx"]), str(img["subaction_idx"]), str(img["frame_idx"])
            cam = cameras[str(img["cam_idx"])]
            R = np.asarray(cam["R"], np.float64).reshape(3, 3)
            t = np.asarray(cam["t"], np.float64).reshape(3) / 1000.0
            camera = Camera.of(cam["f"], cam["c"], R, t)
            world = np.asarray(joints3d[act][sub][frame], np.float64).reshape(17, 3) / 1000.0
            joint_cam = world @ R.T + t
            uv = camera.project(joint_cam)
            param = smpl.get(act, {}).get(sub, {}).get(frame)
            fit = smpl_fit(param) if param is not None else None
            valid, err = check_fit(fit, world, fit_joints)  # fits live in world coordinates
            joint_img, joint_valid = to_smpl30(np.concatenate([uv, np.ones((17, 1))], 1), H36M17)
            self.records.append(Record(
                dataset=self.name, ann_id=ann["id"], image_id=img["id"],
                img_path=self.root / "images" / img["file_name"],
                img_size=(img["height"], img["width"]), bbox=np.asarray(ann["bbox"], np.float64),
                joint_img=joint_img, joint_valid=joint_valid, native_joints="h36m17", is_3d=True,
                joint_cam=convert(joint_cam, H36M17, SMPL30), native_cam=joint_cam, fit=fit, fit_valid=valid,
                fit_error_mm=err, camera=camera, meta={"subject": s, "frame_idx": img["frame_idx"]}))
