import numpy as np
import pytest
import torch

from nets.body import BodyModel
from nets.joints import SMPL30_FLIP_PAIRS
from nets.standin import make_standin_body
from train.augment import (Augmentation, apply_affine, augment_joint_cam, augment_smpl_pose, crop_image,
                           flip_smpl_pose, patch_transform, process_bbox, rot_z, sample_augmentation,
                           sanitize_betas, to_heatmap_space, transform_joints_2d, truncation_mask)


@pytest.fixture(scope="module")
def body():
    return BodyModel(*make_standin_body()).double()


def test_process_bbox_clips_pads_and_enlarges():
    box = process_bbox((10, 20, 50, 100), 640, 480)
    assert box[2] == box[3] == pytest.approx(99 * 1.25)
    assert box[0] + box[2] / 2 == pytest.approx(10 + 49 / 2)  # centre kept (of the clipped box)
    assert process_bbox((700, 10, 20, 50), 640, 480) is None  # starts right of the image
    assert process_bbox((10, 10, 0, 50), 640, 480) is None


def test_augmentation_draws_follow_official_ranges():
    rng = np.random.default_rng(0)
    draws = [sample_augmentation(rng) for _ in range(4000)]
    scale = np.array([d.scale for d in draws])
    rot = np.array([d.rot for d in draws])
    color = np.array([d.color for d in draws])
    assert scale.min() >= 0.75 and scale.max() <= 1.25
    assert np.abs(rot).max() <= 60.0
    assert np.mean(rot != 0) == pytest.approx(0.6, abs=0.03)
    assert color.min() >= 0.8 and color.max() <= 1.2
    assert np.mean([d.flip for d in draws]) == pytest.approx(0.5, abs=0.03)


def test_affine_round_trip_below_1e3_px():
    rng = np.random.default_rng(1)
    pts = rng.uniform(0, 500, size=(50, 2))
    for scale, rot in ((1.0, 0.0), (1.2, 37.0), (0.8, -55.0)):
        fwd = patch_transform(230.0, 170.0, 180.0, 180.0, 256, 256, scale, rot)
        inv = patch_transform(230.0, 170.0, 180.0, 180.0, 256, 256, scale, rot, inverse=True)
        assert np.abs(apply_affine(apply_affine(pts, fwd), inv) - pts).max() < 1e-3
    # the box centre lands on the patch centre; its side on the patch side
    fwd = patch_transform(230.0, 170.0, 180.0, 180.0, 256, 256, 1.0, 0.0)
    assert apply_affine(np.array([[230.0, 170.0], [320.0, 170.0]]), fwd) == pytest.approx(
        np.array([[128.0, 128.0], [256.0, 128.0]]))


def test_image_rotation_matches_rz_minus_rot():
    rot = 33.0
    lin = patch_transform(0, 0, 100, 100, 100, 100, 1.0, rot)[:, :2]
    assert lin == pytest.approx(rot_z(-rot)[:2, :2], abs=1e-12)


def _dot_image(x, y, w=320, h=240):
    img = np.zeros((h, w, 3), np.uint8)
    img[y - 1:y + 2, x - 1:x + 2] = 255
    return img


@pytest.mark.parametrize("aug", [Augmentation(), Augmentation(flip=True), Augmentation(rot=40.0, scale=1.1),
                                 Augmentation(rot=-25.0, flip=True)])
def test_image_and_joint_transforms_agree(aug):
    img = _dot_image(150, 100)
    bbox = process_bbox((100, 60, 120, 120), 320, 240)
    patch, trans, _ = crop_image(img, bbox, aug)
    j = transform_joints_2d(np.array([[150.0, 100.0]]), trans, aug, 320, ())
    peak = np.array(np.unravel_index(patch[..., 0].argmax(), patch.shape[:2]))[::-1]
    assert np.abs(peak - j[0]).max() <= 2.0


def test_flip_flip_is_identity():
    rng = np.random.default_rng(2)
    img = rng.integers(0, 255, size=(240, 320, 3), dtype=np.uint8)
    bbox = np.array([100.0, 60.0, 120.0, 120.0])
    mirrored_box = np.array([320 - 1 - (bbox[0] + bbox[2]), bbox[1], bbox[2], bbox[3]])
    plain, _, _ = crop_image(img, bbox)
    twice, _, _ = crop_image(img[:, ::-1], mirrored_box, Augmentation(flip=True))
    assert np.array_equal(plain, twice)
    joints = rng.uniform(0, 300, size=(30, 3))
    ident = np.array([[1.0, 0, 0], [0, 1.0, 0]])
    flip = Augmentation(flip=True)
    once = transform_joints_2d(joints, ident, flip, 320, SMPL30_FLIP_PAIRS)
    assert not np.allclose(once, joints)
    assert np.allclose(transform_joints_2d(once, ident, flip, 320, SMPL30_FLIP_PAIRS), joints)
    cam = rng.normal(size=(30, 3))
    assert np.allclose(augment_joint_cam(augment_joint_cam(cam, flip, SMPL30_FLIP_PAIRS), flip,
                                         SMPL30_FLIP_PAIRS), cam)
    pose = rng.normal(size=72) * 0.3
    assert np.allclose(flip_smpl_pose(flip_smpl_pose(pose)), pose)


def test_rotation_rotates_joint_cam():
    rng = np.random.default_rng(3)
    cam = rng.normal(size=(30, 3)) * 0.4
    out = augment_joint_cam(cam, Augmentation(rot=25.0), SMPL30_FLIP_PAIRS)
    r = np.deg2rad(-25.0)
    expect = cam @ np.array([[np.cos(r), -np.sin(r), 0], [np.sin(r), np.cos(r), 0], [0, 0, 1]]).T
    assert np.abs(out - expect).max() < 1e-4


def _joints(body, pose, betas):
    out = body(torch.from_numpy(pose)[None], torch.from_numpy(betas)[None])
    j = out.joints[0].detach().numpy()
    return j - j[0]


@pytest.mark.parametrize("rot", [30.0, -50.0])
def test_rotated_root_pose_reproduces_rotated_joints(body, rot):
    rng = np.random.default_rng(4)
    pose = rng.normal(size=72) * 0.25
    betas = rng.normal(size=10) * 0.5
    aug = Augmentation(rot=rot)
    before = _joints(body, pose, betas)
    after = _joints(body, augment_smpl_pose(pose, aug), betas)
    assert np.abs(after - augment_joint_cam(before, aug, SMPL30_FLIP_PAIRS)).max() < 1e-4


@pytest.mark.parametrize("aug", [Augmentation(flip=True), Augmentation(rot=-50.0, flip=True)])
def test_flipped_pose_reproduces_mirrored_joints(body, aug):
    # the stand-in body is mirror-symmetric only to a few mm (as real SMPL), hence 1 cm
    rng = np.random.default_rng(5)
    pose = rng.normal(size=72) * 0.25
    betas = np.zeros(10)
    before = _joints(body, pose, betas)
    after = _joints(body, augment_smpl_pose(pose, aug), betas)
    err = np.abs(after - augment_joint_cam(before, aug, SMPL30_FLIP_PAIRS)).max()
    assert err < 1e-2
    # without the y,z negation the mirrored pose is far off
    wrong = pose.reshape(24, 3)[[0, 2, 1, 3, 5, 4, 6, 8, 7, 9, 11, 10, 12, 14, 13, 15, 17, 16, 19, 18, 21, 20,
                                 23, 22]].reshape(72)
    assert np.abs(_joints(body, wrong, betas) - augment_joint_cam(before, Augmentation(flip=True),
                                                                  SMPL30_FLIP_PAIRS)).max() > 5 * err


def test_truncation_and_heatmap_space():
    j = to_heatmap_space(np.array([[0.0, 0.0], [255.0, 128.0], [300.0, 10.0], [10.0, 10.0]]),
                         np.array([0.0, 0.5, 0.0, -1.2]))
    assert j[1] == pytest.approx([63.75, 32.0, 48.0])
    valid = np.array([1, 1, 1, 1])
    assert truncation_mask(j, valid)[:, 0].tolist() == [1, 1, 0, 0]
    assert truncation_mask(j, valid, use_depth=False)[:, 0].tolist() == [1, 1, 0, 1]
    assert truncation_mask(j, np.array([0, 1, 1, 1]))[0, 0] == 0


def test_betas_beyond_3_zeroed():
    assert np.all(sanitize_betas(np.array([0.5] * 9 + [3.5])) == 0)
    assert sanitize_betas(np.array([0.5] * 9 + [-2.9]))[0] == 0.5
