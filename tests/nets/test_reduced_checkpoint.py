"""The reduced (small-backbone) CrowdNet through nets.checkpoint, and the shipped demo weights."""
from __future__ import annotations

import logging
import typing

import numpy as np
import pytest
import torch

from nets.checkpoint import load_model, read_meta, save_checkpoint
from nets.model import CrowdNet, ModelConfig
from nets.resnet import BACKBONES, SmallResNet

REDUCED = ModelConfig(input_size=128, heatmap_size=32, sigma=1.25, focal=2500.0, depth_bins=4,
                      backbone="small", widths=(16, 32, 64, 128))


def _inputs(batch: int = 3, size: int = 128, heatmap: int = 32):
    g = torch.Generator().manual_seed(0)
    img = torch.rand(batch, 3, size, size, generator=g)
    joints = torch.rand(batch, 30, 2, generator=g) * heatmap
    mask = (torch.rand(batch, 30, 1, generator=g) > 0.3).float()
    bbox = torch.tensor([[10.0, 20.0, 90.0, 90.0]]).repeat(batch, 1)
    return img, joints, mask, bbox


@pytest.fixture(scope="module")
def reduced_model(standin_body):
    """A reduced model with non-trivial BatchNorm statistics (a few train-mode forwards)."""
    torch.manual_seed(0)
    model = CrowdNet(standin_body, REDUCED)
    model.train()
    with torch.no_grad():
        for _ in range(3):
            model(*_inputs(batch=4)[:3])
    return model.eval()


@pytest.fixture(scope="module")
def other_body():
    """A stand-in built from another seed: other shape and pose blend shapes than the training body's."""
    from nets.body import BodyModel
    from nets.standin import make_standin_body
    return BodyModel(*make_standin_body(seed=1))


def test_reduced_checkpoint_round_trip(reduced_model, standin_body, tmp_path):
    path = save_checkpoint(reduced_model, tmp_path / "reduced.pt", note="test")
    loaded = load_model(path, standin_body)
    assert loaded.config == REDUCED and isinstance(loaded.backbone, SmallResNet)
    with torch.no_grad():
        a, b = reduced_model(*_inputs()), loaded(*_inputs())
    np.testing.assert_array_equal(a.smpl_mesh_cam.numpy(), b.smpl_mesh_cam.numpy())
    np.testing.assert_array_equal(a.joint_img.numpy(), b.joint_img.numpy())


def test_old_project_config_without_backbone_means_resnet50(standin_body, tmp_path):
    model = CrowdNet(standin_body)
    path = save_checkpoint(model, tmp_path / "old.pt")
    ckpt = torch.load(path, weights_only=True)
    del ckpt["config"]["backbone"], ckpt["config"]["widths"]   # written before the fields existed
    torch.save(ckpt, path)
    assert load_model(path, standin_body).config.backbone == "resnet50"


def test_unknown_backbone_is_refused():
    with pytest.raises(ValueError, match="small"):
        ModelConfig(backbone="resnet18")
    assert typing.get_args(typing.get_type_hints(ModelConfig)["backbone"]) == tuple(BACKBONES)   # the Literal's choices


def test_reduced_for_inference_matches_eval(reduced_model):
    fast = reduced_model.for_inference()
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in fast.backbone.modules())
    with torch.no_grad():
        a, b = reduced_model(*_inputs()), fast(*_inputs())
    np.testing.assert_allclose(b.joint_img.numpy(), a.joint_img.numpy(), atol=1e-3)
    np.testing.assert_allclose(b.smpl_mesh_cam.numpy(), a.smpl_mesh_cam.numpy(), atol=1e-4)


def test_other_body_warns(reduced_model, other_body, tmp_path, caplog):
    path = save_checkpoint(reduced_model, tmp_path / "reduced.pt")
    with caplog.at_level(logging.WARNING, logger="nets.checkpoint"):
        load_model(path, other_body)
    assert "another body model" in caplog.text


def _crowd_errors(model, body) -> float:
    """MPJPE (mm, 14 joints) on crop_people crops of a small rendered crowd with 'moderate' detections."""
    from nets.joints import GRAPH15, SMPL30
    from nets.synth import CrowdConfig, make_crowd, render, simulate_detections
    from nets.crops import CropConfig, crop_people
    crowd = make_crowd(body, CrowdConfig(people=4, frames=3, fps=3.0, width=640, height=360, seed=777,
                                         depth_range=(4.5, 9.0)))
    detections = simulate_detections(crowd, "moderate", "coco17")
    joints = [SMPL30.index(n) for n in GRAPH15 if n != "Pelvis"]
    errors = []
    for t, dets in enumerate(detections):
        crops = crop_people(render(crowd, t)[0][..., ::-1].copy(), list(dets.keypoints), "coco17",
                            CropConfig(model.config.input_size, model.config.heatmap_size))
        keep = [row for row, i in enumerate(crops["index"]) if dets.truth[i] >= 0]
        with torch.no_grad():
            out = model(*(torch.from_numpy(crops[k][keep]) for k in ("img", "joints", "joints_mask", "bbox")))
        for row, pred in zip(keep, out.joint_cam.numpy()):
            gt = crowd.joints3d[t, dets.truth[crops["index"][row]]]
            errors.append(np.linalg.norm((pred - pred[0])[joints] - (gt - gt[0])[joints], axis=1).mean() * 1000)
    assert len(errors) >= 6
    return float(np.mean(errors))


def test_demo_weights_beat_untrained(standin_body):
    from nets.demo_weights import DEMO_NOTICE, demo_checkpoint, load_demo_model
    model = load_demo_model(standin_body)
    meta = read_meta(demo_checkpoint())
    assert model.config.backbone == "small" and "SYNTHETIC-DOMAIN" in meta["note"] and "synthetic" in DEMO_NOTICE
    torch.manual_seed(0)
    untrained = CrowdNet(standin_body, model.config).eval()
    trained_mm, untrained_mm = _crowd_errors(model, standin_body), _crowd_errors(untrained, standin_body)
    assert trained_mm < untrained_mm / 3, (trained_mm, untrained_mm)


def test_demo_weights_refuse_another_body(other_body):
    from nets.demo_weights import DemoWeightsError, load_demo_model
    with pytest.raises(DemoWeightsError, match="make_standin_body"):
        load_demo_model(other_body)
