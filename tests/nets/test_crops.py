import json

import cv2
import numpy as np
import pytest

from nets.crops import DUPLICATE_OKS, CropConfig, crop_people, keypoint_similarity, select_people
from nets.joints import COCO19, add_pelvis_neck

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
    assert CropConfig().duplicate == "official"          # the default is the official demo's test
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


@pytest.mark.parametrize("apart, kept", [(1.0, False), (5.0, False), (8.0, True), (40.0, True)])
def test_a_pose_whose_crop_box_is_under_min_crop_pixels_is_dropped(apart, kept):
    """Two ear keypoints ``apart`` pixels apart (a person coming into view): the crop box is about that wide
    (x 1.2 x 1.25); a 1 px pose gave a 0.1 px box, enlarged 2,500 times into the crop, and an infinite depth."""
    ears = np.zeros((17, 3))
    ears[3:5] = [[100.0, 80.0, 1.0], [100.0 + apart, 80.3, 1.0]]
    out = crop_people(np.zeros((160, 240, 3), np.uint8), [ears], "coco17", warp=False)
    assert out["index"].tolist() == ([0] if kept else [])
    assert (out["bbox"][:, 2:] >= 8.0).all()


def test_no_people_gives_empty_arrays():
    out = crop_people(np.zeros((48, 64, 3), np.uint8), [], "coco17")
    assert out["img"].shape == (0, 3, 256, 256) and out["joints"].shape == (0, 30, 3)


# -- duplicates: the official 20 pixels vs keypoint similarity ------------------------------------------------
# a COCO-17 standing figure 1 unit tall: nose, eyes, ears, shoulders, elbows, wrists, hips, knees, ankles
FIGURE = np.array([[0, .06], [-.02, .05], [.02, .05], [-.05, .06], [.05, .06], [-.12, .18], [.12, .18], [-.15, .35],
                   [.15, .35], [-.16, .5], [.16, .5], [-.08, .52], [.08, .52], [-.08, .75], [.08, .75], [-.08, .98],
                   [.08, .98]])


def figure(height, x, y, jitter=0.0, seed=0):
    """A (17, 3) pose ``height`` px tall with its head at (x, y); joints moved by N(0, jitter x height)."""
    xy = FIGURE * height + (x, y) + np.random.default_rng(seed).normal(0, jitter * height, FIGURE.shape)
    return np.concatenate([xy, np.full((17, 1), 0.9)], axis=1)


def test_oks_keeps_a_small_person_behind_a_big_one_that_20_pixels_drop():
    big, behind = figure(80, 100, 50), figure(56, 104, 62)     # farther away: smaller, higher in the image
    assert np.abs(big[:, :2] - behind[:, :2]).mean() < 20         # the official test calls them one person
    assert select_people([big, behind], "coco17") == [0]
    assert select_people([big, behind], "coco17", "oks") == [0, 1]
    out = crop_people(np.zeros((240, 320, 3), np.uint8), [big, behind], "coco17", CropConfig(duplicate="oks"))
    assert out["index"].tolist() == [0, 1] and out["img"].shape[0] == 2


@pytest.mark.parametrize("height", [40, 80, 360])
def test_oks_drops_a_true_duplicate_at_any_size(height):
    person = figure(height, 100, 50)
    again = figure(height, 100, 50, jitter=0.02, seed=height)     # a second detection of the same person
    assert select_people([person, again, figure(height, 100 + height, 50)], "coco17", "oks") == [0, 2]


def test_keypoint_similarity_values():
    kpts, names = add_pelvis_neck(figure(100, 50, 20), "coco17")
    assert names == COCO19
    valid = kpts[:, 2] > 0
    assert keypoint_similarity(kpts, valid, kpts, valid, names) == 1.0
    assert keypoint_similarity(kpts, valid, kpts, np.zeros_like(valid), names) == 0.0
    moved = kpts.copy()
    moved[:, :2] += 1000
    assert keypoint_similarity(kpts, valid, moved, valid, names) < 1e-6
    # one joint moved by d: exp(-d² / (2 area (2 sigma)²)) for it, 1 for the others
    area = np.prod(np.ptp(kpts[valid, :2], axis=0))
    moved = kpts.copy()
    moved[0, 0] += 5.0                                              # the nose (sigma 0.026), box unchanged
    expected = (len(names) - 1 + np.exp(-25 / (2 * area * 0.052 ** 2))) / len(names)
    assert keypoint_similarity(kpts, valid, moved, valid, names) == pytest.approx(expected)


def test_oks_agrees_with_official_on_the_official_demo_people(demo):
    image, poses, _ = demo
    assert crop_people(image, poses, "coco17", CropConfig(duplicate="oks"))["index"].tolist() == [0, 1]
    kpts, names = add_pelvis_neck(np.asarray(poses[0], float), "coco17")
    valid = kpts[:, 2] > 0.1
    shifted = kpts.copy()
    shifted[:, :2] += 20                                            # the official threshold, for a 355 px person
    assert keypoint_similarity(kpts, valid, shifted, valid, names) == pytest.approx(DUPLICATE_OKS, abs=0.05)


def test_unknown_duplicate_test_is_rejected():
    with pytest.raises(ValueError, match=r"CropConfig.duplicate = 'nms': expected one of \['official', 'oks'\]"):
        CropConfig(duplicate="nms")
