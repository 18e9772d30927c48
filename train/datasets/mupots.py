"""MuPoTS-3D test set (3DPCK evaluation).

Layout under ``root``: ``data/MuPoTS-3D.json`` (images: ``file_name`` like ``TS1/img_000000.jpg``,
``width, height, intrinsic [fx, fy, cx, cy]``; annotations: ``keypoints_cam`` 17x3 mm,
``keypoints_img`` 17x2, ``bbox``, ``is_valid``), the input pose JSON
``data/MuPoTs_test_{openpose,hhrnet}_result.json`` and the images under
``data/MultiPersonTestSet/<file_name>``.

Input JSON (written by tool/match_mupots_2dpose.py): {aid: {...}} whose pose is under ``coco_joints``
(17x3), ``openpose_joints`` or ``keypoints`` (17 or 18 rows: COCO or OpenPose). An annotation with no
entry (unmatched) gets an all-zero input pose. Every annotation is kept; ``meta['is_valid']`` carries the
flag the "all annotated" / "only matched" 3DPCK modes need, ``meta['key']`` the ``TS{n}_img_{%06d}`` name.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from nets.joints import MUPOTS17, SMPL30

from .base import Camera, Reader, Record, to_smpl30
from .joint_sets import convert
from .pw3d import input_bbox, pose_to_smpl30

POSE_KEYS = ("coco_joints", "openpose_joints", "keypoints")


class MuPoTS(Reader):
    name = "MuPoTS"
    source = ("the MuPoTS-3D page of MPI-INF (projects/SingleShotMultiPerson; MultiPersonTestSet); "
              "MuPoTS-3D.json from https://github.com/mks0601/3DMPPE_POSENET_RELEASE; the input pose JSONs "
              "from the 3DCrowdNet release")
    folder = "MuPoTs"

    def __init__(self, root: Path, split: str = "test", input_source: str = "openpose"):
        super().__init__(root)
        if split != "test":
            raise ValueError(f"MuPoTS split {split!r}; only 'test' exists")
        if input_source not in ("openpose", "hhrnet"):
            raise ValueError(f"MuPoTS input_source {input_source!r}; expected 'openpose' or 'hhrnet'")
        db = self.load_json("data/MuPoTS-3D.json")
        inputs = self.load_json(f"data/MuPoTs_test_{input_source}_result.json")
        images = {img["id"]: img for img in db["images"]}
        for ann in db["annotations"]:
            img = images[ann["image_id"]]
            fx, fy, cx, cy = img["intrinsic"]
            cam = np.asarray(ann["keypoints_cam"], np.float64).reshape(17, 3) / 1000.0
            uv = np.asarray(ann["keypoints_img"], np.float64).reshape(17, 2)
            joint_img, joint_valid = to_smpl30(np.concatenate([uv, np.ones((17, 1))], 1), MUPOTS17)
            entry = inputs.get(str(ann["id"]))
            pose = next((entry[k] for k in POSE_KEYS if entry and k in entry), None)
            inp = pose_to_smpl30(pose) if pose is not None else np.zeros((30, 3))
            gt_bbox = np.asarray(ann["bbox"], np.float64)
            seq, frame = Path(img["file_name"]).parent.name, int(Path(img["file_name"]).stem.split("_")[-1])
            self.records.append(Record(
                dataset=self.name, ann_id=ann["id"], image_id=img["id"],
                img_path=self.root / "data" / "MultiPersonTestSet" / img["file_name"],
                img_size=(img["height"], img["width"]), bbox=input_bbox(inp, gt_bbox), joint_img=joint_img,
                joint_valid=joint_valid, native_joints="mupots17", is_3d=True, joint_cam=convert(cam, MUPOTS17, SMPL30),
                native_cam=cam, camera=Camera.of([fx, fy], [cx, cy]),
                input_joints=inp, meta={"is_valid": bool(ann["is_valid"]), "gt_bbox": gt_bbox,
                                        "key": f"{seq}_img_{frame:06d}", "matched": pose is not None}))
