"""The ablation variants of CrowdNet (ModelConfig.regressor, ModelConfig.pose_guidance) on the small backbone."""
import json
from dataclasses import asdict, replace

import pytest
import torch

from nets.checkpoint import CheckpointError, OFFICIAL_IGNORED, load_model, load_strict, save_checkpoint, split_official
from nets.config import ConfigError
from nets.heads import GapRegressor, RotationNet
from nets.model import CrowdNet, ModelConfig
from train.reduced import REDUCED_CONFIG

VARIANTS = {"gap": {"regressor": "gap"}, "no_guidance": {"pose_guidance": False},
            "gap_no_guidance": {"regressor": "gap", "pose_guidance": False}}


def inputs(batch: int = 2, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    return (torch.rand(batch, 3, 128, 128, generator=g), torch.rand(batch, 30, 2, generator=g) * 32,
            torch.ones(batch, 30, 1))


def variant(body, name: str, seed: int = 0) -> CrowdNet:
    torch.manual_seed(seed)
    return CrowdNet(body, replace(REDUCED_CONFIG, **VARIANTS[name])).eval()


def count(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


@pytest.mark.parametrize("name", VARIANTS)
def test_variant_forward_shapes(standin_body, name):
    model = variant(standin_body, name)
    with torch.no_grad():
        out = model(*inputs())
    assert out.smpl_pose.shape == (2, 72) and out.smpl_shape.shape == (2, 10) and out.cam_trans.shape == (2, 3)
    assert out.joint_img.shape == (2, 15, 3) and out.joint_cam.shape == (2, 30, 3)
    assert out.root_pose_6d.shape == (2, 6) and out.vposer_z.shape == (2, REDUCED_CONFIG.latent_dim)
    assert out.smpl_mesh_cam.shape[0] == 2 and torch.isfinite(out.smpl_mesh_cam).all()


@pytest.mark.parametrize("name", VARIANTS)
def test_variant_layers(standin_body, name):
    model = variant(standin_body, name)
    gap = model.config.regressor == "gap"
    assert isinstance(model.rotation_net, GapRegressor if gap else RotationNet)
    stem = model.backbone.stem_channels
    assert model.pose2feat.conv[0].in_channels == stem + (30 if model.config.pose_guidance else 0)


@pytest.mark.parametrize("name", VARIANTS)
def test_variant_checkpoint_round_trip(standin_body, tmp_path, name):
    model = variant(standin_body, name, seed=1)
    path = save_checkpoint(model, tmp_path / f"{name}.pt")
    loaded = load_model(path, standin_body)
    assert loaded.config == model.config
    state, again = model.network_state_dict(), loaded.network_state_dict()
    assert state.keys() == again.keys() and all(torch.equal(state[k], again[k]) for k in state)
    with torch.no_grad():
        torch.testing.assert_close(loaded(*inputs()).smpl_pose, model(*inputs()).smpl_pose, rtol=0, atol=0)


@pytest.mark.parametrize("name", VARIANTS)
def test_variant_weights_do_not_fit_the_default_model(standin_body, name):
    default = CrowdNet(standin_body, REDUCED_CONFIG)
    with pytest.raises(CheckpointError, match="does not fit"):
        load_strict(default, variant(standin_body, name).network_state_dict(), "variant", "model",
                    default.network_state_dict())


@pytest.mark.parametrize("name", VARIANTS)
def test_variant_for_inference_matches_eval(standin_body, name):
    model = variant(standin_body, name, seed=2)
    with torch.no_grad():
        a, b = model(*inputs()), model.for_inference()(*inputs())
    torch.testing.assert_close(b.smpl_pose, a.smpl_pose, rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(b.cam_trans, a.cam_trans, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("config", [REDUCED_CONFIG, ModelConfig()], ids=["small", "resnet50"])
def test_gap_regressor_has_the_joint_regressors_parameter_count(standin_body, config):
    joint = count(CrowdNet(standin_body, config).rotation_net)
    gap = count(CrowdNet(standin_body, replace(config, regressor="gap")).rotation_net)
    print(f"{config.backbone}: joint regressor {joint:,} parameters, gap regressor {gap:,}")
    assert abs(gap - joint) <= 0.25 * joint


def test_without_guidance_the_input_pose_is_unused(standin_body):
    img, joints, mask = inputs()
    other = joints.flip(0)
    with torch.no_grad():
        plain = variant(standin_body, "no_guidance")
        torch.testing.assert_close(plain(img, other, mask).smpl_pose, plain(img, joints, mask).smpl_pose,
                                   rtol=0, atol=0)
        guided = CrowdNet(standin_body, REDUCED_CONFIG).eval()
        assert not torch.equal(guided(img, other, mask).smpl_pose, guided(img, joints, mask).smpl_pose)


def test_default_keys_match_the_official_release(standin_body, fixture_file):
    """The default variant keeps the release's names and shapes (VPoser encoder and SMPL layer aside)."""
    keys = json.loads(fixture_file("official_parity/official_state_dict_keys.json").read_text())
    network, _, _ = split_official({name: torch.empty(shape) for name, shape, _ in keys})
    expected = {k: tuple(v.shape) for k, v in network.items()}
    assert not any(k.startswith(OFFICIAL_IGNORED) for k in expected)
    model = CrowdNet(standin_body, ModelConfig(regressor="joint", pose_guidance=True))
    assert {k: tuple(v.shape) for k, v in model.network_state_dict().items()} == expected


def test_checkpoint_config_without_variant_keys_is_the_default(standin_body, tmp_path):
    model = CrowdNet(standin_body, REDUCED_CONFIG)
    path = save_checkpoint(model, tmp_path / "old.pt")
    ckpt = torch.load(path, weights_only=True)
    assert ckpt["config"]["regressor"] == "joint" and ckpt["config"]["pose_guidance"] is True
    for key in ("regressor", "pose_guidance"):
        del ckpt["config"][key]
    torch.save(ckpt, path)
    assert load_model(path, standin_body).config == REDUCED_CONFIG
    assert asdict(REDUCED_CONFIG)["regressor"] == "joint"


def test_unknown_regressor_is_refused():
    with pytest.raises(ConfigError, match="regressor"):
        ModelConfig(regressor="mlp")


def test_non_bool_pose_guidance_is_refused():
    with pytest.raises(ConfigError, match="pose_guidance"):
        ModelConfig(pose_guidance="no")
