"""nets.body: BodyModel against an independent numpy SMPL (LBS), shapes, dtypes, official buffers."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from nets.body import BodyModel
from nets.smpl_file import FACE_VERTEX_IDS, OFFICIAL_SMPL_KEYS, load_smpl_pkl
from nets.standin import make_standin_body

PARITY = "official_parity"


# ---------------------------------------------------------------- independent numpy SMPL

def _rodrigues(axis_angle: np.ndarray) -> np.ndarray:
    """(J, 3) -> (J, 3, 3)"""
    rotations = np.tile(np.eye(3), (len(axis_angle), 1, 1))
    for i, rotvec in enumerate(axis_angle):
        angle = np.linalg.norm(rotvec)
        if angle > 0:
            x, y, z = rotvec / angle
            k = np.array([[0, -z, y], [z, 0, -x], [-y, x, 0]])
            rotations[i] += np.sin(angle) * k + (1 - np.cos(angle)) * k @ k
    return rotations


def _numpy_smpl(smpl: dict, extra: np.ndarray, pose, betas, transl) -> tuple[np.ndarray, np.ndarray]:
    """float64 LBS of one body: pose (72,), betas (10,), transl (3,) -> vertices (V,3), joints (30,3)."""
    shaped = smpl["v_template"] + smpl["shapedirs"][:, :, :10] @ betas
    joints = smpl["J_regressor"] @ shaped
    rotations = _rodrigues(pose.reshape(24, 3))
    posed = shaped + smpl["posedirs"].astype(np.float64) @ (rotations[1:] - np.eye(3)).reshape(-1)
    parents = smpl["kintree_table"][0]
    world = np.zeros((24, 4, 4))
    for i in range(24):
        local = np.eye(4)
        local[:3, :3] = rotations[i]
        local[:3, 3] = joints[i] - (joints[parents[i]] if i else 0)
        world[i] = local if i == 0 else world[parents[i]] @ local
    skinning = world.copy()
    skinning[:, :3, 3] -= np.einsum("jab,jb->ja", world[:, :3, :3], joints)
    blended = np.einsum("vj,jab->vab", smpl["weights"], skinning)
    vertices = np.einsum("vab,vb->va", blended[:, :3, :3], posed) + blended[:, :3, 3] + transl
    one_hot = np.eye(len(vertices))[list(FACE_VERTEX_IDS)]
    regressor = np.concatenate([smpl["J_regressor"], one_hot, extra[3:4]])
    return vertices, regressor @ vertices


def _random_inputs(seed: int, batch: int = 3):
    rng = np.random.default_rng(seed)
    pose = rng.normal(0, 0.5, (batch, 72))
    betas = rng.normal(0, 1.0, (batch, 10))
    transl = rng.normal(0, 1.0, (batch, 3))
    return pose, betas, transl


def _check_against_numpy(body: BodyModel, smpl: dict, extra: np.ndarray, atol: float, seed: int = 0):
    pose, betas, transl = _random_inputs(seed)
    dtype = body.joint_regressor.dtype
    out = body(torch.tensor(pose, dtype=dtype), torch.tensor(betas, dtype=dtype),
               torch.tensor(transl, dtype=dtype))
    assert out.vertices.dtype == dtype and out.joints.shape == (3, 30, 3)
    for b in range(len(pose)):
        vertices, joints = _numpy_smpl(smpl, extra, pose[b], betas[b], transl[b])
        np.testing.assert_allclose(out.vertices[b].numpy(), vertices, rtol=0, atol=atol)
        np.testing.assert_allclose(out.joints[b].numpy(), joints, rtol=0, atol=atol)


# ---------------------------------------------------------------- BodyModel

def _fixture_body_files(fixture_file):
    return (fixture_file(f"{PARITY}/smpl_synthetic_neutral.pkl"),
            fixture_file(f"{PARITY}/J_regressor_extra.npy"))


def test_zero_pose_gives_template_on_fixture(fixture_file):
    pkl, extra_path = _fixture_body_files(fixture_file)
    body = BodyModel.from_files(pkl, extra_path)
    smpl, extra = load_smpl_pkl(pkl), np.load(extra_path)
    out = body(torch.zeros(2, 72), torch.zeros(2, 10))
    template = smpl["v_template"].astype(np.float32)
    np.testing.assert_allclose(out.vertices.numpy(), np.broadcast_to(template, (2, 6890, 3)),
                               rtol=0, atol=1e-6)
    np.testing.assert_allclose(out.joints[:, :24].numpy()[0], smpl["J_regressor"] @ smpl["v_template"],
                               rtol=0, atol=1e-5)
    np.testing.assert_allclose(out.joints[0, 24:29].numpy(), template[list(FACE_VERTEX_IDS)],
                               rtol=0, atol=1e-6)
    np.testing.assert_allclose(out.joints[0, 29].numpy(), extra[3] @ smpl["v_template"], rtol=0, atol=1e-5)
    np.testing.assert_array_equal(body.faces, smpl["f"].astype(np.int64))
    assert body.faces.dtype == np.int64


def test_matches_numpy_lbs_on_fixture(fixture_file):
    pkl, extra_path = _fixture_body_files(fixture_file)
    body = BodyModel.from_files(pkl, extra_path)
    _check_against_numpy(body, load_smpl_pkl(pkl), np.load(extra_path), atol=1e-5)


def test_matches_numpy_lbs_on_standin(standin):
    _check_against_numpy(BodyModel(*standin), *standin, atol=1e-5, seed=1)


def test_float64_module_follows_dtype(standin):
    # float32 is off by ~4e-7 m here; float64 by ~8e-8 m, from smplx's Rodrigues (norm(aa + 1e-8))
    _check_against_numpy(BodyModel(*standin).double(), *standin, atol=2e-7, seed=2)


def test_no_transl_means_no_translation(standin):
    body = BodyModel(*standin)
    pose, betas, _ = (torch.tensor(a, dtype=torch.float32) for a in _random_inputs(3))
    shift = torch.tensor([[0.5, -1.0, 2.0]]).expand(3, 3)
    moved, still = body(pose, betas, shift), body(pose, betas)
    torch.testing.assert_close(moved.vertices - still.vertices, shift[:, None].expand(3, 6890, 3))
    torch.testing.assert_close(moved.joints - still.joints, shift[:, None].expand(3, 30, 3))


def test_forward_rejects_bad_shapes(standin):
    body = BodyModel(*standin)
    with pytest.raises(ValueError, match=r"pose has shape \(2, 69\), expected \(B, 72\)"):
        body(torch.zeros(2, 69), torch.zeros(2, 10))
    with pytest.raises(ValueError, match=r"betas has shape \(3, 10\), expected \(2, 10\)"):
        body(torch.zeros(2, 72), torch.zeros(3, 10))


def _official_buffers(smpl: dict) -> dict[str, torch.Tensor]:
    """The smplpytorch layout of the official checkpoint's SMPL layer."""
    return {
        "th_betas": torch.zeros(1, 10),
        "th_shapedirs": torch.tensor(smpl["shapedirs"][:, :, :10], dtype=torch.float32),
        "th_posedirs": torch.tensor(smpl["posedirs"], dtype=torch.float32),
        "th_v_template": torch.tensor(smpl["v_template"][None], dtype=torch.float32),
        "th_J_regressor": torch.tensor(smpl["J_regressor"], dtype=torch.float32),
        "th_weights": torch.tensor(smpl["weights"], dtype=torch.float32),
        "th_faces": torch.tensor(smpl["f"].astype(np.int64)),
    }


def test_load_official_buffers_reproduces_other_model(standin):
    smpl, extra = standin
    other, _ = make_standin_body(seed=1)
    rng = np.random.default_rng(5)
    other["v_template"] = other["v_template"] + rng.normal(0, 0.01, other["v_template"].shape)
    other["weights"] = np.roll(other["weights"], 1, axis=0)
    other["f"] = other["f"][:, ::-1].copy()
    body = BodyModel(smpl, extra)
    regressor_before = body.joint_regressor.clone()
    used = body.load_official_buffers(_official_buffers(other))
    assert used == list(OFFICIAL_SMPL_KEYS)
    pose, betas, transl = (torch.tensor(a, dtype=torch.float32) for a in _random_inputs(4))
    expected = BodyModel(other, extra)(pose, betas, transl)
    torch.testing.assert_close(body(pose, betas, transl).vertices, expected.vertices, rtol=0, atol=1e-6)
    np.testing.assert_array_equal(body.faces, other["f"].astype(np.int64))
    torch.testing.assert_close(body.joint_regressor, regressor_before, rtol=0, atol=0)


def test_load_official_buffers_names_bad_key(standin):
    body = BodyModel(*standin)
    buffers = _official_buffers(standin[0])
    buffers["th_posedirs"] = buffers["th_posedirs"].reshape(-1, 207).T
    expected = r"'th_posedirs' has shape \(207, 20670\), expected \(6890, 3, 207\)"
    with pytest.raises(ValueError, match=expected):
        body.load_official_buffers(buffers)
