import json

import cv2
import numpy as np
import pytest

from nets.crops import crop_people, select_people

# fixture key -> crop_people key
CROP_KEYS = {"img": "img", "joints": "joints", "joints_mask": "joints_mask", "bbox": "bbox",
             "pre_coco19": "kpts", "pre_coco19_valid": "kpts_valid", "pre_bbox_tight": "bbox_tight",
             "pre_img2bb_trans": "img2bb_trans", "pre_bb2img_trans": "bb2img_trans",
             "pre_joints_valid": "joints_valid"}


@pytest.fixture(scope="module")
def demo(fixtures_dir):
    folder = fixtures_dir / "official_parity"
    poses = json.loads((folder / "demo_io.json").read_text())["coco_poses"]
    image = cv2.imread(str(folder / "basketball1.png"))[:, :, ::-1].copy()
    return image, [np.array(p) for p in poses], np.load(folder / "demo_io.npz")


def test_preprocessing_equals_official_demo(demo):
    image, poses, ref = demo
    out = crop_people(image, poses, "coco17")
    assert out["index"].tolist() == [0, 1]
    for ref_key, key in CROP_KEYS.items():
        assert out[key].shape == ref[ref_key].shape, key
        np.testing.assert_array_equal(out[key], ref[ref_key].astype(out[key].dtype), err_msg=key)


def test_weak_and_duplicate_poses_are_dropped(demo):
    _, poses, _ = demo
    weak = poses[0].copy()
    weak[:, 2] = 0.05  # 19 x 0.05 < 1.0
    near_copy = poses[0].copy()
    near_copy[:, :2] += 3.0
    assert select_people([poses[0], weak, near_copy, poses[1]], "coco17") == [0, 3]


def test_pose_sharing_no_valid_joint_with_another_is_kept():
    # the official demo drops the second person (empty difference list); they cannot be duplicates
    upper = np.zeros((17, 3))
    upper[:11] = [[100 + 3 * i, 100 + 5 * i, 0.9] for i in range(11)]
    lower = np.zeros((17, 3))
    lower[11:] = [[300 + 3 * i, 300 + 5 * i, 0.9] for i in range(6)]
    assert select_people([upper, lower], "coco17") == [0, 1]


def test_no_people_gives_empty_arrays():
    out = crop_people(np.zeros((48, 64, 3), np.uint8), [], "coco17")
    assert out["img"].shape == (0, 3, 256, 256) and out["joints"].shape == (0, 30, 3)
