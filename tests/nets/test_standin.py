"""nets.standin: the synthetic SMPL-format body is deterministic, well formed and loadable."""
from __future__ import annotations

import pickletools

import numpy as np
import pytest
import torch

from nets.body import BodyModel
from nets.smpl_file import FACE_VERTEX_IDS, HEAD_TOP_ROW, check_smpl, load_smpl_pkl
from nets.standin import PARENTS, joint_positions, make_standin_body, standin_body_files, write_standin_body


@pytest.fixture(scope="module")
def standin():
    return make_standin_body(seed=0)


def test_same_seed_same_bytes(tmp_path, standin_files):
    again = write_standin_body(tmp_path / "again", seed=0)
    for first, second in zip(standin_files, again):
        assert first.read_bytes() == second.read_bytes(), first.name
    other = write_standin_body(tmp_path / "other", seed=1)
    assert other[0].read_bytes() != standin_files[0].read_bytes()
    assert [p.name for p in standin_files] == ["standin_smpl_neutral.pkl", "standin_J_regressor_extra.npy"]


def test_standin_body_files_writes_once_and_keeps_what_is_there(tmp_path, standin_files):
    written = standin_body_files(tmp_path / "cache")
    assert [p.read_bytes() for p in written] == [p.read_bytes() for p in standin_files]
    written[0].write_bytes(b"kept")                       # present files are returned as they are
    assert standin_body_files(tmp_path / "cache") == written and written[0].read_bytes() == b"kept"
    written[1].unlink()                                   # one missing: both written again
    again = standin_body_files(tmp_path / "cache")
    assert [p.read_bytes() for p in again] == [p.read_bytes() for p in standin_files]


def test_smpl_format(standin):
    smpl, extra = standin
    check_smpl(smpl, "stand-in")
    expected = {"v_template": (6890, 3), "shapedirs": (6890, 3, 10), "posedirs": (6890, 3, 207),
                "J_regressor": (24, 6890), "weights": (6890, 24), "J": (24, 3), "kintree_table": (2, 24)}
    assert {k: smpl[k].shape for k in expected} == expected
    assert smpl["f"].dtype == np.uint32 and smpl["kintree_table"].dtype == np.int64
    assert all(smpl[k].dtype == np.float64 for k in expected if k != "kintree_table")
    assert smpl["kintree_table"][0, 0] == 4294967295
    assert tuple(smpl["kintree_table"][0, 1:]) == PARENTS[1:]
    np.testing.assert_array_equal(smpl["kintree_table"][1], np.arange(24))
    assert (smpl["bs_style"], smpl["bs_type"]) == ("lbs", "lrotmin")
    assert extra.shape == (9, 6890) and extra.dtype == np.float64


def test_joints_regress_to_intended_positions(standin):
    smpl, _ = standin
    regressed = smpl["J_regressor"] @ smpl["v_template"]
    np.testing.assert_allclose(regressed, joint_positions(), rtol=0, atol=1e-12)
    np.testing.assert_array_equal(smpl["J"], joint_positions())
    joints = joint_positions()
    assert joints[1, 0] > 0 > joints[2, 0]  # +x is the body's left
    assert joints[15, 1] > joints[12, 1] > joints[0, 1] > joints[4, 1] > joints[7, 1]  # y up


def test_rows_sum_to_one(standin):
    smpl, extra = standin
    for name, matrix in (("J_regressor", smpl["J_regressor"]), ("weights", smpl["weights"]),
                         ("extra", extra)):
        np.testing.assert_allclose(matrix.sum(axis=1), 1.0, rtol=0, atol=1e-12, err_msg=name)
        assert matrix.min() >= 0, name
    assert (smpl["weights"].max(axis=0) > 0.5).all()  # every joint drives some skin


def test_faces_form_a_closed_oriented_mesh(standin):
    smpl, _ = standin
    faces = smpl["f"].astype(np.int64)
    assert faces.min() == 0 and faces.max() == 6889
    assert len(np.unique(faces)) == 6890  # every vertex is used
    corners = np.sort(faces, axis=1)
    assert (np.diff(corners, axis=1) > 0).all()  # three distinct corners
    edges = np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]])
    directed = set(map(tuple, edges))
    assert len(directed) == len(edges)  # no directed edge twice: consistent orientation
    assert all((b, a) in directed for a, b in directed)  # closed: every edge has its twin
    v = smpl["v_template"]
    volume = np.einsum("ij,ij->i", v[faces[:, 0]], np.cross(v[faces[:, 1]], v[faces[:, 2]])).sum() / 6
    assert 0.04 < volume < 0.1  # outward normals, roughly a person's volume in m^3


def test_t_pose_body_size(standin):
    v = standin[0]["v_template"]
    height = v[:, 1].max() - v[:, 1].min()
    assert 1.6 < height < 1.8
    arm_span = v[:, 0].max() - v[:, 0].min()
    assert 1.6 < arm_span < 2.0
    np.testing.assert_allclose(v[:, 0].max(), -v[:, 0].min(), atol=1e-12)  # left/right mirror


def test_face_vertices_on_head(standin):
    smpl, _ = standin
    v, joints = smpl["v_template"], joint_positions()
    nose, left_eye, right_eye, left_ear, right_ear = v[list(FACE_VERTEX_IDS)]
    for point in (nose, left_eye, right_eye, left_ear, right_ear):
        assert point[1] > joints[12, 1] and np.linalg.norm(point - joints[15]) < 0.15
    assert abs(nose[0]) < 1e-9 and nose[2] > joints[15, 2] + 0.06  # front of the face
    assert left_eye[0] > 0.01 and right_eye[0] < -0.01 and left_eye[1] > nose[1]
    np.testing.assert_allclose(left_eye * [-1, 1, 1], right_eye, atol=1e-12)
    assert left_ear[0] > left_eye[0] + 0.03 and right_ear[0] < right_eye[0] - 0.03
    assert left_ear[2] < left_eye[2] - 0.05  # ears behind the eyes


def test_head_top_row(standin):
    smpl, extra = standin
    v = smpl["v_template"]
    top = extra[HEAD_TOP_ROW] @ v
    assert abs(top[0]) < 1e-9 and v[:, 1].max() - 0.01 < top[1] <= v[:, 1].max()


def test_blend_shapes_small_and_smooth(standin):
    smpl, _ = standin
    assert 0.005 < np.abs(smpl["shapedirs"]).max() < 0.06
    assert 0.001 < np.abs(smpl["posedirs"]).max() < 0.03
    faces = smpl["f"].astype(np.int64)
    # neighbouring vertices move alike (smooth): edge differences much smaller than the values
    diff = smpl["shapedirs"][faces[:, 0]] - smpl["shapedirs"][faces[:, 1]]
    assert np.abs(diff).max() < 0.5 * np.abs(smpl["shapedirs"]).max()


def test_pickle_is_plain_numpy(standin_files):
    data = standin_files[0].read_bytes()
    ops = list(pickletools.genops(data))
    assert ops[0][0].name == "PROTO" and ops[0][1] == 2
    globals_used = {arg for op, arg, _ in ops if op.name in ("GLOBAL", "STACK_GLOBAL")}
    assert all(g.split()[0] in ("numpy", "numpy._core.multiarray", "numpy.core.multiarray", "_codecs")
               for g in globals_used), globals_used


def test_loads_through_body_model(standin_files, standin):
    loaded = load_smpl_pkl(standin_files[0])
    for key, value in standin[0].items():
        if isinstance(value, np.ndarray):
            np.testing.assert_array_equal(loaded[key], value, err_msg=key)
    body = BodyModel.from_files(*standin_files)
    rng = np.random.default_rng(0)
    pose = torch.tensor(rng.normal(0, 0.8, (4, 72)), dtype=torch.float32)
    betas = torch.tensor(rng.normal(0, 2.0, (4, 10)), dtype=torch.float32)
    out = body(pose, betas)
    assert out.vertices.shape == (4, 6890, 3) and out.joints.shape == (4, 30, 3)
    assert torch.isfinite(out.vertices).all() and torch.isfinite(out.joints).all()
    spread = out.vertices.amax(1) - out.vertices.amin(1)
    assert (spread < 2.5).all() and (spread.amax(1) > 0.8).all()  # still a body-sized mesh


def test_the_body_built_in_memory_has_the_fingerprint_of_the_files(standin, standin_files):
    """``stream export`` recognises a stand-in store by this fingerprint without reading any file."""
    built = BodyModel(*standin).fingerprint()
    assert built == BodyModel.from_files(*standin_files).fingerprint()
    assert built != BodyModel(*make_standin_body(seed=1)).fingerprint()
