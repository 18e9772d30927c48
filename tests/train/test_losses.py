import pytest
import torch

from nets.joints import GRAPH15_IN_SMPL30
from nets.model import CrowdNetOutput
from train.losses import crowdnet_losses, fit_param_valid_mask, total_loss, TARGET_KEYS

B = 4


def _targets(g):
    t = {
        "orig_joint_img": torch.rand(B, 30, 3, generator=g) * 64,
        "orig_joint_trunc": torch.ones(B, 30, 1), "orig_joint_valid": torch.ones(B, 30, 1),
        "orig_joint_cam": torch.randn(B, 30, 3, generator=g) * 0.3,
        "fit_joint_img": torch.rand(B, 30, 3, generator=g) * 64,
        "fit_joint_trunc": torch.ones(B, 30, 1),
        "fit_joint_cam": torch.randn(B, 30, 3, generator=g) * 0.3,
        "pose_param": torch.randn(B, 72, generator=g) * 0.2, "shape_param": torch.randn(B, 10, generator=g),
        "fit_param_valid": fit_param_valid_mask().expand(B, 72).clone(),
        "is_valid_fit": torch.ones(B, 1), "is_3D": torch.ones(B, 1),
    }
    return t


def _output(joint_img, joint_proj, joint_cam, pose, shape):
    z = torch.zeros(B, 1)
    return CrowdNetOutput(joint_img=joint_img, joint_score=z, smpl_pose=pose, smpl_shape=shape,
                          cam_param=z, cam_trans=z, joint_proj=joint_proj, joint_cam=joint_cam,
                          smpl_mesh_cam=z, mesh_cam_render=z, root_pose_6d=z, vposer_z=z)


def test_seven_terms_and_zero_when_prediction_equals_target():
    g = torch.Generator().manual_seed(0)
    t = _targets(g)
    t["fit_joint_img"] = t["orig_joint_img"].clone()
    t["fit_joint_cam"] = t["orig_joint_cam"].clone()
    g15 = list(GRAPH15_IN_SMPL30)
    out = _output(t["orig_joint_img"][:, g15], t["orig_joint_img"][..., :2], t["orig_joint_cam"],
                  t["pose_param"], t["shape_param"])
    losses = crowdnet_losses(out, t)
    assert set(losses) == {"body_joint_img", "smpl_joint_img", "smpl_pose", "smpl_shape",
                           "body_joint_proj", "body_joint_cam", "smpl_joint_cam"}
    assert float(total_loss(losses)) == 0.0


def test_known_value_and_denominator_counts_masked_entries():
    g = torch.Generator().manual_seed(1)
    t = _targets(g)
    out = _output(torch.zeros(B, 15, 3), torch.zeros(B, 30, 2), torch.zeros(B, 30, 3),
                  torch.zeros(B, 72), torch.zeros(B, 10))
    t["shape_param"] = torch.ones(B, 10)
    t["is_valid_fit"] = torch.tensor([[1.0], [0.0], [0.0], [0.0]])
    losses = crowdnet_losses(out, t)
    # only 1 of 4 samples counts, but the mean is over all 40 entries
    assert losses["smpl_shape"].item() == pytest.approx(0.25)
    assert losses["smpl_joint_cam"].item() == pytest.approx(t["fit_joint_cam"][0].abs().sum().item() / (B * 90))


def test_pose_mask_ignores_ankles_toes_wrists_hands():
    mask = fit_param_valid_mask().reshape(24, 3)
    assert mask[[7, 8, 10, 11, 20, 21, 22, 23]].sum() == 0
    assert mask.sum() == 16 * 3
    g = torch.Generator().manual_seed(2)
    t = _targets(g)
    pose = t["pose_param"].clone().reshape(B, 24, 3)
    pose[:, [7, 8, 10, 11, 20, 21, 22, 23]] += 5.0
    out = _output(torch.zeros(B, 15, 3), torch.zeros(B, 30, 2), torch.zeros(B, 30, 3),
                  pose.reshape(B, 72), t["shape_param"])
    assert crowdnet_losses(out, t)["smpl_pose"].item() == 0.0


def test_is_3d_masks_depth_and_joint_cam_only():
    g = torch.Generator().manual_seed(3)
    t = _targets(g)
    t["is_3D"] = torch.zeros(B, 1)
    g15 = list(GRAPH15_IN_SMPL30)
    img = t["orig_joint_img"][:, g15].clone()
    img[..., 2] += 10.0  # depth error only
    out = _output(img, t["orig_joint_img"][..., :2], t["orig_joint_cam"] + 1.0, t["pose_param"],
                  t["shape_param"])
    losses = crowdnet_losses(out, t)
    assert losses["body_joint_img"].item() == 0.0
    assert losses["body_joint_cam"].item() == 0.0
    t["is_3D"] = torch.ones(B, 1)
    losses = crowdnet_losses(out, t)
    assert losses["body_joint_img"].item() == pytest.approx(10.0 / 3 / 8)
    assert losses["body_joint_cam"].item() == pytest.approx(1.0)


def test_truncation_masks_image_terms():
    g = torch.Generator().manual_seed(4)
    t = _targets(g)
    t["orig_joint_trunc"] = torch.zeros(B, 30, 1)
    t["fit_joint_trunc"] = torch.zeros(B, 30, 1)
    out = _output(torch.zeros(B, 15, 3), torch.zeros(B, 30, 2), t["orig_joint_cam"], t["pose_param"],
                  t["shape_param"])
    losses = crowdnet_losses(out, t)
    assert losses["body_joint_img"].item() == 0.0
    assert losses["smpl_joint_img"].item() == 0.0
    assert losses["body_joint_proj"].item() == 0.0


def test_missing_target_key_is_named():
    t = _targets(torch.Generator().manual_seed(5))
    del t["is_3D"]
    out = _output(torch.zeros(B, 15, 3), torch.zeros(B, 30, 2), torch.zeros(B, 30, 3),
                  torch.zeros(B, 72), torch.zeros(B, 10))
    with pytest.raises(KeyError, match="is_3D"):
        crowdnet_losses(out, t)
    assert "is_3D" in TARGET_KEYS
