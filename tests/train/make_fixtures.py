"""Write tiny seeded fixtures in every official dataset format (TRAINING.md §2, §7 "Fixtures").

``write_fixtures(out, seed=0)`` writes one folder per dataset under ``out`` (320x240 JPEGs and JSON
carrying the fields the readers use) and returns a manifest of what the filters must keep, so the tests
can check the readers against it. Run as a script: ``python tests/train/make_fixtures.py OUT``.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import cv2
import numpy as np

W, H = 320, 240
F, C = [300.0, 300.0], [160.0, 120.0]


def _jpeg(path: Path, rng: np.random.Generator) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), rng.integers(0, 255, (H, W, 3), dtype=np.uint8), [cv2.IMWRITE_JPEG_QUALITY, 60])


def _json(path: Path, obj) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj))


def _kpts(rng, n: int, bbox) -> list[float]:
    x, y, w, h = bbox
    xy = np.stack([rng.uniform(x, x + w, n), rng.uniform(y, y + h, n)], 1)
    return np.concatenate([xy, np.full((n, 1), 2.0)], 1).round(2).ravel().tolist()


def _smpl(rng, trans=None) -> dict:
    return {"pose": rng.normal(0, 0.1, 72).round(4).tolist(), "shape": rng.normal(0, 0.5, 10).round(4).tolist(),
            "trans": (rng.normal(0, 0.2, 3) if trans is None else np.asarray(trans)).round(4).tolist()}


def _neural(rng) -> dict:
    return {"smpl_param": _smpl(rng), "cam_param": {"focal": F, "princpt": C}}


def fit_offsets(n: int, err_m: float) -> np.ndarray:
    """(n, 3) alternating +-x offsets: a fit shifted by these is about ``err_m`` from its GT (translation-aligned)."""
    return np.stack([np.where(np.arange(n) % 2 == 0, err_m, -err_m), np.zeros(n), np.zeros(n)], 1)


def _human36m(root: Path, rng) -> dict:
    world = rng.normal(0, 0.3, (17, 3)) + [0.0, 0.0, 1.0]  # metres, one static person per subject
    R = cv2.Rodrigues(np.array([0.1, -0.2, 0.05]))[0]
    t = np.array([0.0, 0.0, 4.0])
    fits = {}
    # subject 1 (train, every 5th frame): frames 0 and 5 kept, frames 3 and 12 dropped; subject 9 (test, every
    # 64th frame, camera 4): frames 0 and 64 on camera 4 kept, camera 1 and frame 10 dropped.
    plan = {1: [(0, 1, 0.010), (5, 1, 0.040), (3, 1, 0.0), (12, 2, 0.0)],
            9: [(0, 4, 0.005), (64, 4, 0.030), (0, 1, 0.0), (10, 4, 0.0)]}
    for s, frames in plan.items():
        images, anns, j3d, smpl = [], [], {"2": {"1": {}}}, {"2": {"1": {}}}
        for i, (frame, cam, err) in enumerate(frames):
            folder = f"s_{s:02d}_act_02_subact_01_ca_{cam:02d}"
            name = f"{folder}/{folder}_{frame + 1:06d}.jpg"
            if i < 2:
                _jpeg(root / "images" / name, rng)
            images.append({"id": i, "file_name": name, "width": W, "height": H, "subject": s, "action_idx": 2,
                           "subaction_idx": 1, "frame_idx": frame, "cam_idx": cam})
            anns.append({"id": i, "image_id": i, "bbox": [100.0, 40.0, 120.0, 180.0]})
            j3d["2"]["1"][str(frame)] = (world * 1000).round(3).tolist()
            smpl["2"]["1"][str(frame)] = _smpl(rng, trans=[err, 0.0, 0.0])
            fits[(s, frame)] = err
        cams = {str(c): {"R": R.tolist(), "t": (t * 1000).tolist(), "f": F, "c": C} for c in (1, 2, 4)}
        prefix = root / "annotations" / f"Human36M_subject{s}"
        _json(Path(f"{prefix}_data.json"), {"images": images, "annotations": anns})
        _json(Path(f"{prefix}_camera.json"), cams)
        _json(Path(f"{prefix}_joint_3d.json"), j3d)
        _json(Path(f"{prefix}_smpl_param.json"), smpl)
    return {"world": world, "R": R, "t": t, "fit_err": fits, "train_frames": [0, 5], "test_frames": [0, 64]}


def _muco(root: Path, rng) -> dict:
    images, anns, smpl, gt, closest = [], [], {}, {}, {}
    # image 1: two overlapping people, the second is closer and has a good fit; image 2: far apart, the
    # first is closer and its fit is 40 mm off.
    layout = [([(40, 30, 120, 190, 6.0, 0.0), (110, 40, 120, 190, 3.5, 0.010)]),
              ([(20, 30, 100, 190, 3.0, 0.040), (200, 30, 100, 190, 7.0, 0.0)])]
    aid = 0
    for i, people in enumerate(layout):
        name = f"augmented_set/{i:06d}.jpg"
        _jpeg(root / "data" / name, rng)
        images.append({"id": i, "file_name": name, "width": W, "height": H, "f": F, "c": C})
        depths = []
        for x, y, w, h, z, err in people:
            cam = rng.normal(0, 0.25, (21, 3)) + [0.0, 0.0, z]
            cam[14, 2] = z  # pelvis depth decides "closest"
            uv = cam[:, :2] / cam[:, 2:] * F + C
            anns.append({"id": aid, "image_id": i, "keypoints_cam": (cam * 1000).round(3).tolist(),
                         "keypoints_img": uv.round(2).tolist(), "bbox": [x, y, w, h]})
            smpl[str(aid)] = _smpl(rng, trans=[float(aid), 0.0, z])
            gt[aid] = (cam, err)
            depths.append((z, aid))
            aid += 1
        closest[i] = min(depths)[1]
    _json(root / "data" / "MuCo-3DHP.json", {"images": images, "annotations": anns})
    _json(root / "data" / "smpl_param.json", smpl)
    return {"gt": gt, "closest": closest}


def _coco(root: Path, rng) -> dict:
    images = [{"id": 1, "file_name": "000000000001.jpg", "width": W, "height": H},
              {"id": 2, "file_name": "000000000002.jpg", "width": W, "height": H}]
    for img in images:
        _jpeg(root / "images" / "train2017" / img["file_name"], rng)
    boxes = {10: (1, [40, 30, 120, 190], 0), 11: (1, [100, 40, 120, 190], 0), 12: (1, [0, 0, 320, 240], 1),
             20: (2, [60, 20, 100, 200], 0), 21: (2, [200, 20, 100, 200], 0)}
    anns = []
    for aid, (img_id, bbox, crowd) in boxes.items():
        kp = _kpts(rng, 17, bbox) if aid != 21 else [0.0] * 51
        if aid == 10:
            kp[3 * 2 + 2] = 0.0  # R_Eye unlabelled
            kp[3 * 2] = kp[3 * 2 + 1] = 0.0
        num = 0 if aid == 21 else 17 - (aid == 10)
        anns.append({"id": aid, "image_id": img_id, "keypoints": kp, "num_keypoints": num, "iscrowd": crowd,
                     "bbox": bbox})
    _json(root / "annotations" / "person_keypoints_train2017.json", {"images": images, "annotations": anns})
    _json(root / "annotations" / "MSCOCO_train_SMPL_NeuralAnnot.json", {"10": _neural(rng), "20": _neural(rng)})
    return {"kept": [10, 11, 20], "with_fit": [10, 20], "near": {10: 1, 11: 1, 20: 0}}


def _mpii(root: Path, rng) -> dict:
    images = [{"id": 1, "file_name": "000001.jpg", "width": W, "height": H},
              {"id": 2, "file_name": "000002.jpg", "width": W, "height": H}]
    for img in images:
        _jpeg(root / "images" / img["file_name"], rng)
    anns = [{"id": 1, "image_id": 1, "keypoints": _kpts(rng, 16, [50, 20, 120, 200]), "bbox": [50, 20, 120, 200]},
            {"id": 2, "image_id": 2, "keypoints": _kpts(rng, 16, [30, 20, 120, 200]), "bbox": [30, 20, 120, 200]},
            {"id": 3, "image_id": 2, "keypoints": _kpts(rng, 16, [90, 20, 120, 200]), "bbox": [90, 20, 120, 200]}]
    _json(root / "annotations" / "train.json", {"images": images, "annotations": anns})
    _json(root / "annotations" / "MPII_train_SMPL_NeuralAnnot.json", {str(a["id"]): _neural(rng) for a in anns})
    return {"kept": [1, 2, 3]}


def _crowdpose(root: Path, rng) -> dict:
    # the train JSON swaps width and height, as the official file does
    images = [{"id": 100, "file_name": "100000.jpg", "width": H, "height": W},
              {"id": 101, "file_name": "100001.jpg", "width": H, "height": W}]
    for img in images:
        _jpeg(root / "images" / img["file_name"], rng)
    anns = [{"id": 1, "image_id": 100, "keypoints": _kpts(rng, 14, [40, 30, 120, 190]), "bbox": [40, 30, 120, 190]},
            {"id": 2, "image_id": 100, "keypoints": _kpts(rng, 14, [90, 30, 120, 190]), "bbox": [90, 30, 120, 190]},
            {"id": 3, "image_id": 101, "keypoints": [0.0] * 42, "bbox": [10, 10, 50, 50]},
            {"id": 4, "image_id": 101, "keypoints": _kpts(rng, 14, [150, 30, 120, 190]), "bbox": [150, 30, 120, 190]}]
    fits = {"1": {**_neural(rng), "fit_err": 2.0}, "2": {**_neural(rng), "fit_err": 7.5},
            "3": {**_neural(rng), "fit_err": 1.0}, "4": {**_neural(rng), "fit_err": 4.99}}
    _json(root / "annotations" / "crowdpose_train.json", {"images": images, "annotations": anns})
    _json(root / "annotations" / "CrowdPose_train_SMPL_NeuralAnnot.json", fits)
    return {"kept": [1, 2, 4], "valid_fit": [1, 4]}


def _pw3d(root: Path, rng) -> dict:
    seqs = ["courtyard_hug_00", "courtyard_dancing_00", "downtown_x_00"]
    images, anns, aid = [], [], 0
    for i, seq in enumerate(seqs):
        name = "image_00000.jpg"
        _jpeg(root / "imageFiles" / seq / name, rng)
        images.append({"id": i, "sequence": seq, "file_name": name, "width": W, "height": H,
                       "cam_param": {"focal": F, "princpt": C}})
        for x in (40, 150):
            bbox = [x, 20, 110, 210]
            op = np.asarray(_kpts(rng, 18, bbox)).reshape(18, 3)
            op[:, 2] = rng.uniform(0.3, 0.9, 18).round(3)
            op[5, 2] = 0.03  # below the 0.05 score threshold
            anns.append({"id": aid, "image_id": i, "bbox": bbox,
                         "smpl_param": {**_smpl(rng, trans=[0.0, 0.0, 5.0]), "gender": "female" if aid % 2 else "male"},
                         "openpose_result": op.round(3).tolist()})
            aid += 1
    crowd_aids = [a["id"] for a in anns if images[a["image_id"]]["sequence"] != "downtown_x_00"]
    hhrnet = {}
    for a in anns:
        if a["id"] in crowd_aids[:-1]:  # HigherHRNet misses the last crowd annotation
            kp = np.asarray(_kpts(rng, 17, a["bbox"])).reshape(17, 3)
            kp[:, 2] = 0.8
            hhrnet[str(a["id"])] = {"coco_joints": kp.round(3).tolist(), "img_id": a["image_id"]}
    db = {"images": images, "annotations": anns}
    _json(root / "data" / "3DPW_latest_validation.json", db)
    _json(root / "data" / "3DPW_latest_test.json", db)
    _json(root / "data" / "3DPW_validation_crowd_hhrnet_result.json", hhrnet)
    return {"crowd": crowd_aids, "fallback": crowd_aids[-1], "all": [a["id"] for a in anns]}


def _mupots(root: Path, rng) -> dict:
    images, anns, inputs = [], [], {}
    for i in range(2):
        name = f"TS1/img_{i:06d}.jpg"
        _jpeg(root / "data" / "MultiPersonTestSet" / name, rng)
        images.append({"id": i, "file_name": name, "width": W, "height": H, "intrinsic": [F[0], F[1], C[0], C[1]]})
        for k, z in enumerate((3.0, 5.0)):
            aid = 2 * i + k
            cam = rng.normal(0, 0.25, (17, 3)) + [0.0, 0.0, z]
            uv = cam[:, :2] / cam[:, 2:] * F + C
            lo, hi = uv.min(0), uv.max(0)
            anns.append({"id": aid, "image_id": i, "keypoints_cam": (cam * 1000).round(3).tolist(),
                         "keypoints_img": uv.round(2).tolist(), "bbox": [*lo.round(2), *(hi - lo).round(2)],
                         "is_valid": int(k == 0)})
            if aid != 3:  # the last person is unmatched
                op = np.concatenate([uv.mean(0) + rng.normal(0, 20, (18, 2)), np.full((18, 1), 0.7)], 1)
                inputs[str(aid)] = {"openpose_joints": op.round(2).tolist(), "img_id": i}
    _json(root / "data" / "MuPoTS-3D.json", {"images": images, "annotations": anns})
    _json(root / "data" / "MuPoTs_test_openpose_result.json", inputs)
    return {"n": 4, "unmatched": 3, "valid": [0, 2]}


# dataset -> (folder under the data root, as in the official data/ tree; writer)
WRITERS = {"Human36M": ("Human36M", _human36m), "MuCo": ("MuCo", _muco), "MSCOCO": ("MSCOCO", _coco),
           "MPII": ("MPII", _mpii), "CrowdPose": ("CrowdPose", _crowdpose), "PW3D": ("PW3D", _pw3d),
           "MuPoTS": ("MuPoTs", _mupots)}


def write_fixtures(out: Path, seed: int = 0) -> dict[str, dict]:
    """Write every dataset's fixture under out/<folder>; returns {dataset: manifest with its 'root'}."""
    rng = np.random.default_rng(seed)
    return {name: {"root": Path(out) / folder, **write(Path(out) / folder, rng)}
            for name, (folder, write) in WRITERS.items()}


if __name__ == "__main__":
    write_fixtures(Path(sys.argv[1]) if len(sys.argv) > 1 else Path("dataset_fixtures"))
