"""The network against the official code's numbers (../shared/fixtures/official_parity)."""
import subprocess
import sys

import numpy as np
import pytest
import torch

from nets.heads import gaussian_heatmaps

OUTPUTS = ("joint_img", "joint_score", "smpl_pose", "smpl_shape", "cam_param", "cam_trans", "joint_proj",
           "smpl_mesh_cam", "mesh_cam_render")


def run(model, data, render, index=slice(None)):
    inputs = [torch.from_numpy(data[k][index]) for k in ("img", "joints", "joints_mask", "bbox")]
    with torch.no_grad():
        out = model(*inputs[:3], bbox=inputs[3] if render else None).numpy()
    prefix = "render_" if render else "norender_"
    return {prefix + k: out[k] for k in OUTPUTS}


def intermediates(model, data):
    img, joints, mask = (torch.from_numpy(data[k]) for k in ("img", "joints", "joints_mask"))
    with torch.no_grad():
        early = model.backbone.stem(img)
        heatmap = gaussian_heatmaps(joints, mask)
        late = model.backbone.trunk(model.pose2feat(early, heatmap))
        out = model(img, joints, mask)
        body = model.vposer.decode_axis_angle(out.vposer_z).reshape(len(img), -1)
    return {"inter_early_feat_item0": early[0], "inter_joint_heatmap": heatmap, "inter_late_feat": late,
            "inter_root_pose_6d": out.root_pose_6d, "inter_vposer_z": out.vposer_z,
            "inter_body_pose": torch.cat((body, torch.zeros(len(img), 6)), dim=1)}


def check_parity(fixtures_dir, tmp_path, candidate: dict, ref: str, *args):
    path = tmp_path / "candidate.npz"
    np.savez(path, **candidate)
    folder = fixtures_dir / "official_parity"
    proc = subprocess.run([sys.executable, str(folder / "check_parity.py"), str(path), "--ref", str(folder / ref),
                           *args], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


@pytest.fixture(scope="module")
def fused_model(official_model):
    return official_model.for_inference()


def test_model_io_parity_with_intermediates(official_model, fixtures_dir, tmp_path):
    data = np.load(fixtures_dir / "official_parity" / "model_io.npz")
    candidate = {**run(official_model, data, render=False),
                 **{k: v.numpy() for k, v in intermediates(official_model, data).items()}}
    report = check_parity(fixtures_dir, tmp_path, candidate, "model_io.npz", "--skip-inputs")
    assert all(k in report for k in candidate)


@pytest.mark.parametrize("ref", ["model_io.npz", "demo_io.npz"])
@pytest.mark.parametrize("variant", ["loaded", "for_inference"])
def test_outputs_parity(official_model, fused_model, fixtures_dir, tmp_path, ref, variant):
    model = official_model if variant == "loaded" else fused_model
    data = np.load(fixtures_dir / "official_parity" / ref)
    candidate = {**run(model, data, render=False), **run(model, data, render=True)}
    check_parity(fixtures_dir, tmp_path, candidate, ref, "--require-all", "--skip-inputs")


def test_for_inference_folds_batchnorm(fused_model):
    names = [type(m).__name__ for m in fused_model.backbone.modules()] + \
            [type(m).__name__ for m in fused_model.pose2feat.modules()]
    assert "BatchNorm2d" not in names
    assert fused_model.backbone.conv1.weight.is_contiguous(memory_format=torch.channels_last)


def test_batch_equals_single_forwards(official_model, fixtures_dir, tmp_path):
    data = np.load(fixtures_dir / "official_parity" / "model_io.npz")
    batched = run(official_model, data, render=True)
    singles = [run(official_model, data, render=True, index=slice(i, i + 1)) for i in range(4)]
    stacked = {k: np.concatenate([s[k] for s in singles]) for k in batched}
    np.savez(tmp_path / "batched.npz", **batched)
    check_parity(fixtures_dir, tmp_path, stacked, str(tmp_path / "batched.npz"), "--require-all")
