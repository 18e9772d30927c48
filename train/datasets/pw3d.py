"""3DPW and 3DPW-Crowd test sets, and the 2D-pose matching rule that builds their input-pose JSONs.

Layout under ``root``: ``data/3DPW_latest_{test,validation}.json`` (images: ``sequence, file_name,
width, height, cam_param{focal, princpt}``; annotations: ``bbox, smpl_param{pose, shape, trans, gender},
openpose_result`` 18x3), ``data/3DPW_validation_crowd_hhrnet_result.json`` ({aid: {coco_joints 17x3,
img_id}}) and ``imageFiles/<sequence>/<file_name>``.

- ``PW3D(root, split='test')``: every annotation, input = its OpenPose result.
- ``PW3D(root, split='validation', crowd=True)`` (3DPW-Crowd): only the crowd sequences; input =
  HigherHRNet (Pelvis and Neck added), falling back to the annotation's OpenPose result when the
  HigherHRNet JSON has no entry for it.
Input joints with score <= 0.05 get score 0. The bbox is the valid joints' extent x1.2 (the GT bbox
when fewer than two joints are valid); the GT bbox stays in ``meta['gt_bbox']``.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from nets.joints import OPENPOSE18, add_pelvis_neck, to_superset

from .base import Camera, Reader, Record, smpl_fit

CROWD_SEQUENCES = ("courtyard_hug_00", "courtyard_dancing_00")
SCORE_MIN = 0.05
BBOX_SCALE = 1.2


def input_bbox(joints: np.ndarray, fallback: np.ndarray) -> np.ndarray:
    """(30, 3) x, y, score -> x, y, w, h: the extent of joints with score > 0, x1.2 about its centre."""
    xy = joints[joints[:, 2] > 0, :2]
    if len(xy) < 2:
        return np.asarray(fallback, np.float64)
    lo, hi = xy.min(0), xy.max(0)
    centre, size = (lo + hi) / 2, (hi - lo) * BBOX_SCALE
    return np.array([centre[0] - size[0] / 2, centre[1] - size[1] / 2, size[0], size[1]])


def pose_to_smpl30(pose: np.ndarray) -> np.ndarray:
    """(17, 3) COCO-17 or (18, 3) OpenPose-18 x, y, score -> (30, 3), Pelvis/Neck added, score <= 0.05 -> 0."""
    pose = np.asarray(pose, np.float64)
    if len(pose) == 17:
        pose, names = add_pelvis_neck(pose, "coco17")
    elif len(pose) == len(OPENPOSE18):
        pose, names = add_pelvis_neck(pose, "openpose18")
    else:
        raise ValueError(f"input pose has {len(pose)} joints; expected 17 (COCO) or 18 (OpenPose)")
    out = to_superset(pose, names)
    out[out[:, 2] <= SCORE_MIN] = 0.0
    return out


def match_2d_pose(reference: np.ndarray, candidates: np.ndarray, bbox: np.ndarray, score_min: float = 0.1,
                  size_div: float = 15.0) -> int | None:
    """Index of the candidate pose that matches ``reference``, or None (tool/match_3dpw_2dpose.py's rule).

    reference (J, 3) x, y, valid (GT 2D joints mapped to the candidates' joint set); candidates (M, J, 3)
    x, y, score. The distance is the mean L2 over joints valid in both (reference valid > 0, candidate
    score > ``score_min``); the lowest wins if it is below min(bbox w, h) / ``size_div``.
    """
    reference = np.asarray(reference, np.float64)
    candidates = np.asarray(candidates, np.float64).reshape(-1, *reference.shape)
    best, best_dist = None, min(bbox[2], bbox[3]) / size_div
    for m, cand in enumerate(candidates):
        both = (reference[:, 2] > 0) & (cand[:, 2] > score_min)
        if not both.any():
            continue
        dist = float(np.linalg.norm(reference[both, :2] - cand[both, :2], axis=1).mean())
        if dist < best_dist:
            best, best_dist = m, dist
    return best


class PW3D(Reader):
    name = "PW3D"
    source = ("https://virtualhumans.mpi-inf.mpg.de/3DPW (images and SMPL GT); the 3DPW_latest_*.json "
              "conversion and the 3DPW-Crowd HigherHRNet input JSON from the 3DCrowdNet release")
    folder = "PW3D"

    def __init__(self, root: Path, split: str = "test", crowd: bool = False):
        super().__init__(root)
        if split not in ("test", "validation"):
            raise ValueError(f"PW3D split {split!r}; expected 'test' or 'validation'")
        db = self.load_json(f"data/3DPW_latest_{split}.json")
        hhrnet = self.load_json("data/3DPW_validation_crowd_hhrnet_result.json") if crowd else {}
        images = {img["id"]: img for img in db["images"]}
        self.fallbacks = 0
        for ann in db["annotations"]:
            img = images[ann["image_id"]]
            if crowd and not any(s in img["sequence"] for s in CROWD_SEQUENCES):
                continue
            entry = hhrnet.get(str(ann["id"]))
            if entry is not None:
                inp, source = pose_to_smpl30(entry["coco_joints"]), "hhrnet"
            else:
                inp, source = pose_to_smpl30(ann["openpose_result"]), "openpose"
                self.fallbacks += int(crowd)  # 3DPW-Crowd annotations HigherHRNet has no entry for
            gt_bbox = np.asarray(ann["bbox"], np.float64)
            cam = img["cam_param"]
            param = ann["smpl_param"]
            self.records.append(Record(
                dataset="PW3D-Crowd" if crowd else self.name, ann_id=ann["id"], image_id=img["id"],
                img_path=self.root / "imageFiles" / img["sequence"] / img["file_name"],
                img_size=(img["height"], img["width"]), bbox=input_bbox(inp, gt_bbox),
                joint_img=np.zeros((30, 2)), joint_valid=np.zeros((30, 1), np.float32), native_joints="smpl30",
                is_3d=True, fit=smpl_fit(param, param.get("gender", "neutral")), fit_valid=True,
                camera=Camera.of(cam["focal"], cam["princpt"]),
                input_joints=inp, meta={"sequence": img["sequence"], "gt_bbox": gt_bbox, "input_source": source}))
