"""train.synthetic: determinism, held-out people, targets consistent with the SMPL parameters."""
import numpy as np
import pytest
import torch

from nets.body import BodyConfig
from train.config import SyntheticConfig
from train.losses import TARGET_KEYS
from train.reduced import REDUCED_CONFIG
from train.synthetic import SyntheticCrowdDataset, crop_transform
from train.trainer import make_body

SMALL = SyntheticConfig(sequences=1, test_sequences=1, people=4, frames=3)


@pytest.fixture(scope="module")
def body():
    return make_body(BodyConfig())


@pytest.fixture(scope="module")
def train_set(body):
    return SyntheticCrowdDataset(body, SMALL, REDUCED_CONFIG, "train")


def test_sample_shapes_and_loss_keys(train_set):
    s = train_set[0]
    assert set(TARGET_KEYS) <= set(s)
    assert s["img"].shape == (3, 128, 128) and s["joints"].shape == (30, 2) and s["joints_mask"].shape == (30, 1)
    assert s["orig_joint_img"].shape == (30, 3) and s["pose_param"].shape == (72,) and s["crowd_index"].ndim == 0
    assert float(s["img"].min()) >= 0 and float(s["img"].max()) <= 1


def test_deterministic_for_a_seed(body, train_set):
    again = SyntheticCrowdDataset(body, SMALL, REDUCED_CONFIG, "train")
    assert len(again) == len(train_set)
    for k, v in train_set[1].items():
        assert torch.equal(v, again[1][k]), k


def test_held_out_split_has_new_people(body, train_set):
    test_set = SyntheticCrowdDataset(body, SMALL, REDUCED_CONFIG, "test")
    assert not np.allclose(test_set.crowds[0].betas, train_set.crowds[0].betas)


def test_root_relative_targets(train_set):
    s = train_set[0]
    assert torch.allclose(s["orig_joint_cam"][0], torch.zeros(3))
    assert float(s["orig_joint_img"][0, 2]) == pytest.approx(REDUCED_CONFIG.heatmap_size / 2)


@pytest.mark.parametrize("rotate", [0.0, 30.0])
def test_pose_params_reproduce_joint_cam(body, rotate):
    """SMPL(pose_param, shape_param) root-relative joints == orig_joint_cam, also under crop rotation."""
    ds = SyntheticCrowdDataset(body, SyntheticConfig(**{**SMALL.__dict__, "rotate_deg": rotate}), REDUCED_CONFIG)
    s = ds[2]
    with torch.no_grad():
        joints = body(s["pose_param"][None], s["shape_param"][None]).joints[0]
    assert torch.allclose(joints - joints[0], s["orig_joint_cam"], atol=1e-4)
    # the 2D crop and the 3D targets turn the same way: head-top offsets point alike in both
    d2 = (s["orig_joint_img"][29, :2] - s["orig_joint_img"][0, :2]).numpy()
    d3 = s["orig_joint_cam"][29, :2].numpy()
    assert d2 @ d3 / np.linalg.norm(d2) / np.linalg.norm(d3) > 0.95


def test_crop_transform_maps_box_centre_to_crop_centre():
    M = crop_transform(np.array([100.0, 50.0]), 40.0, 128, rot_deg=25.0)
    assert np.allclose(M[:, :2] @ [100.0, 50.0] + M[:, 2], [64, 64])
    assert np.isclose(np.linalg.det(M[:, :2]), (128 / 40) ** 2)


def test_posefix_moves_only_coco_joints_and_is_repeatable(body, train_set):
    from nets.joints import COCO17, SMPL30
    fixed = SyntheticCrowdDataset(body, SMALL, REDUCED_CONFIG, "train", posefix=True)
    coco = [SMPL30.index(n) for n in COCO17]
    others = [i for i in range(len(SMPL30)) if i not in coco]
    moved = []
    for i in range(len(fixed)):
        noisy, clean = fixed[i]["joints"], train_set[i]["joints"]
        assert torch.equal(noisy[others], clean[others])
        assert torch.equal(noisy, fixed[i]["joints"])            # same (seed, epoch, index): same errors
        moved.append(float((noisy[coco] - clean[coco]).norm(dim=1).max()))
    assert max(moved) > 0.1                                        # errors of a few heatmap pixels somewhere
    fixed.set_epoch(1)
    assert any(not torch.equal(fixed[i]["joints"], train_set[i]["joints"]) for i in range(len(fixed)))


def test_input_noise_levels_grow_and_mask_dropped_joints(body):
    from train.ablation_eval import EVAL_NOISE
    cfg = SyntheticConfig(test_sequences=1, people=6, frames=3, test_seed=77)
    errors = []
    for level in ("clean", "moderate", "heavy"):
        ds = SyntheticCrowdDataset(body, cfg, REDUCED_CONFIG, "test", input_noise=EVAL_NOISE[level])
        assert np.array_equal(ds.occlusion, [ds.crowds[s].occlusion[t, n] for s, t, n in ds.index])
        samples = [ds[i] for i in range(len(ds))]
        mask = torch.stack([s["joints_mask"][:, 0] for s in samples]) > 0
        err = torch.stack([(s["joints"] - s["orig_joint_img"][:, :2]).norm(dim=1) for s in samples])[mask]
        errors.append(float(err.mean()))
        if level == "clean":   # the exact joints; joints outside the image masked
            assert float(err.max()) < 1e-4
            kp = ds.crowds[0].keypoints2d["smpl30"]
            s, t, n = ds.index[0]
            outside = (kp[t, n, :, 0] < 0) | (kp[t, n, :, 0] >= cfg.width) | (kp[t, n, :, 1] < 0) | (kp[t, n, :, 1] >= cfg.height)
            assert not mask[0][torch.from_numpy(outside)].any()
    assert errors[0] < errors[1] < errors[2]
