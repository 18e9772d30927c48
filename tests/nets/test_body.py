"""nets.body: safe SMPL pickle loading, the 30-joint regressor and BodyModel vs numpy LBS."""
from __future__ import annotations

import io
import logging
import pickle
import pickletools
import struct
import sys
import types

import numpy as np
import pytest
import scipy.sparse
import torch

from nets.assets import AssetError, AssetFormatError
from nets.body import BodyModel
from nets.smpl_file import (FACE_VERTEX_IDS, HEAD_TOP_ROW, OFFICIAL_SMPL_KEYS, UnsafePickleError, joint_regressor_30,
                            load_joint_regressor_extra, load_smpl_pkl)
from nets.standin import make_standin_body

PARITY = "official_parity"


@pytest.fixture(scope="module")
def standin():
    return make_standin_body(seed=0)


def _write(path, obj):
    with open(path, "wb") as file:
        pickle.dump(obj, file, protocol=2)
    return path


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


# ---------------------------------------------------------------- loading

def test_fixture_pkl_matches_reference_load(fixture_file):
    path = fixture_file(f"{PARITY}/smpl_synthetic_neutral.pkl")
    with open(path, "rb") as file:
        reference = pickle.load(file, encoding="latin1")
    loaded = load_smpl_pkl(path)
    assert sorted(loaded) == sorted(reference)
    for key, expected in reference.items():
        if scipy.sparse.issparse(expected):
            expected = expected.toarray()
        if isinstance(expected, np.ndarray):
            assert loaded[key].dtype == expected.dtype, key
            np.testing.assert_array_equal(loaded[key], expected, err_msg=key)
        else:
            assert loaded[key] == expected, key
    assert loaded["posedirs"].dtype == np.float32 and loaded["J_regressor"].shape == (24, 6890)


class _Python2Pickler(pickle._Pickler):
    """Writes every str/bytes as a Python 2 str (SHORT_BINSTRING/BINSTRING), as cPickle did."""

    dispatch = dict(pickle._Pickler.dispatch)

    def _save_python2_str(self, obj):
        raw = obj.encode("latin1") if isinstance(obj, str) else obj
        if len(raw) < 256:
            self.write(pickle.SHORT_BINSTRING + bytes([len(raw)]) + raw)
        else:
            self.write(pickle.BINSTRING + struct.pack("<i", len(raw)) + raw)
        self.memoize(obj)

    dispatch[str] = dispatch[bytes] = _save_python2_str


def _write_chumpy_pickle(path, smpl: dict, expression_keys=(), python2=False):
    """A v1.0-style pickle: arrays as chumpy Ch objects (NEWOBJ + BUILD), csc J_regressor.

    python2=True also mimics the Python 2 writer: str opcodes, numpy.core names and the
    old scipy module scipy.sparse.csc whose state says 'shape' instead of '_shape'.
    """
    chumpy, ch_module, ops_module, csc_module = (types.ModuleType(n) for n in (
        "chumpy", "chumpy.ch", "chumpy.ch_ops", "scipy.sparse.csc"))

    class Ch:
        def __init__(self, x):
            self.x = x
            self._dirty_vars = {"x"}
            self._itr = None
            self._parents = {}
            self._cache = {"r": None}

    class add:  # a chumpy expression: no stored 'x'
        def __init__(self, a, b):
            self.a, self.b = a, b

    class csc_matrix:  # old scipy layout
        def __init__(self, dense):
            new = scipy.sparse.csc_matrix(dense)
            self.data, self.indices, self.indptr = new.data, new.indices, new.indptr
            self.shape, self.maxprint, self.format = dense.shape, 50, "csc"

    Ch.__module__, Ch.__qualname__ = "chumpy.ch", "Ch"
    add.__module__, add.__qualname__ = "chumpy.ch_ops", "add"
    csc_matrix.__module__, csc_matrix.__qualname__ = "scipy.sparse.csc", "csc_matrix"
    ch_module.Ch, ops_module.add, chumpy.ch, chumpy.ch_ops = Ch, add, ch_module, ops_module
    csc_module.csc_matrix = csc_matrix
    data = dict(smpl)
    for key in ("v_template", "shapedirs", "posedirs", "weights", "J"):
        data[key] = Ch(smpl[key])  # expression_keys below may replace some
    for key in expression_keys:
        data[key] = add(Ch(smpl["J"]), Ch(smpl["J"]))
    sparse = csc_matrix if python2 else scipy.sparse.csc_matrix
    data["J_regressor"] = sparse(smpl["J_regressor"])
    modules = {"chumpy": chumpy, "chumpy.ch": ch_module, "chumpy.ch_ops": ops_module,
               "scipy.sparse.csc": csc_module}
    with pytest.MonkeyPatch.context() as patch:
        for name, module in modules.items():
            patch.setitem(sys.modules, name, module)
        if not python2:
            return _write(path, data)
        buffer = io.BytesIO()
        _Python2Pickler(buffer, protocol=2).dump(data)
    path.write_bytes(buffer.getvalue().replace(b"cnumpy._core.multiarray\n", b"cnumpy.core.multiarray\n"))
    return path


@pytest.mark.parametrize("python2", [False, True])
def test_chumpy_pickle_loads_to_same_arrays(tmp_path, standin, python2):
    smpl, _ = standin
    path = _write_chumpy_pickle(tmp_path / "v10.pkl", smpl, python2=python2)
    ops = [(op.name, arg) for op, arg, _ in pickletools.genops(path.read_bytes())]
    assert ("GLOBAL", "chumpy.ch Ch") in ops and ("NEWOBJ", None) in ops
    assert ("GLOBAL", "__builtin__ set") in ops  # Python 2 names, mapped by the loader
    if python2:
        assert ("GLOBAL", "numpy.core.multiarray _reconstruct") in ops
        assert ("GLOBAL", "scipy.sparse.csc csc_matrix") in ops
        assert not any(name == "BINUNICODE" for name, _ in ops)
    loaded = load_smpl_pkl(path)
    for key, expected in smpl.items():
        if isinstance(expected, np.ndarray):
            np.testing.assert_array_equal(loaded[key], expected, err_msg=key)
            assert loaded[key].dtype == expected.dtype, key
        else:
            assert loaded[key] == expected


def test_chumpy_expression_in_extra_key_is_dropped(tmp_path, standin, caplog):
    path = _write_chumpy_pickle(tmp_path / "v10.pkl", standin[0], expression_keys=("J_sum",))
    with caplog.at_level(logging.WARNING, logger="nets.body"):
        loaded = load_smpl_pkl(path)
    assert "J_sum" not in loaded and "'J_sum'" in caplog.text


def test_chumpy_expression_in_required_key_names_it(tmp_path, standin):
    path = _write_chumpy_pickle(tmp_path / "v10.pkl", standin[0], expression_keys=("weights",))
    with pytest.raises(AssetFormatError, match="'weights' is a chumpy expression"):
        load_smpl_pkl(path)


@pytest.mark.parametrize("module,name,code,shown", [
    ("os", "system", "touch {marker}", "os.system"),
    ("__builtin__", "eval", "open({marker!r}, 'w')", "builtins.eval (pickled as __builtin__.eval)"),
])
def test_code_running_pickle_is_refused(tmp_path, module, name, code, shown):
    marker = tmp_path / "was_run"
    payload = code.format(marker=str(marker))
    path = tmp_path / "evil.pkl"
    path.write_bytes(f"c{module}\n{name}\n(V{payload}\ntR.".encode())
    with pytest.raises(UnsafePickleError, match="refused") as error:
        load_smpl_pkl(path)
    assert shown in str(error.value) and str(path) in str(error.value)
    assert isinstance(error.value, pickle.UnpicklingError)
    assert not marker.exists()


def test_missing_smpl_file_says_where_to_get_it(tmp_path):
    path = tmp_path / "nowhere" / "basicModel_neutral_lbs_10_207_0_v1.0.0.pkl"
    with pytest.raises(AssetError) as error:
        load_smpl_pkl(path)
    message = str(error.value)
    assert str(path) in message and "--smpl / body.smpl" in message
    assert "https://smpl.is.tue.mpg.de" in message
    assert isinstance(error.value, FileNotFoundError)


def test_wrong_shape_key_is_named(tmp_path, standin):
    smpl = dict(standin[0], shapedirs=standin[0]["shapedirs"][:, :, :5])
    expected = r"'shapedirs' has shape \(6890, 3, 5\), expected \(V, 3, >=10\)"
    with pytest.raises(AssetFormatError, match=expected):
        load_smpl_pkl(_write(tmp_path / "bad.pkl", smpl))


def test_missing_key_is_named(tmp_path, standin):
    smpl = {k: v for k, v in standin[0].items() if k != "posedirs"}
    with pytest.raises(AssetFormatError, match="'posedirs' is missing"):
        load_smpl_pkl(_write(tmp_path / "bad.pkl", smpl))


def test_joint_regressor_extra_checks(tmp_path, standin):
    with pytest.raises(AssetError, match="--joint-regressor-extra / body.joint_regressor_extra") as error:
        load_joint_regressor_extra(tmp_path / "J_regressor_extra.npy")
    assert "3DCrowdNet" in str(error.value) and str(tmp_path) in str(error.value)
    np.save(tmp_path / "short.npy", standin[1][:8])
    with pytest.raises(AssetFormatError, match=r"shape \(8, 6890\), expected \(9, 6890\)"):
        load_joint_regressor_extra(tmp_path / "short.npy")
    np.save(tmp_path / "ok.npy", standin[1].astype(np.float32))
    loaded = load_joint_regressor_extra(tmp_path / "ok.npy")
    assert loaded.dtype == np.float64 and loaded.shape == (9, 6890)


def test_joint_regressor_30_rows(standin):
    smpl, extra = standin
    regressor = joint_regressor_30(smpl["J_regressor"], extra)
    assert regressor.shape == (30, 6890) and regressor.dtype == np.float32
    np.testing.assert_array_equal(regressor[:24], smpl["J_regressor"].astype(np.float32))
    assert [int(np.argmax(row)) for row in regressor[24:29]] == list(FACE_VERTEX_IDS)
    np.testing.assert_array_equal(regressor[24:29].sum(1), np.ones(5))
    np.testing.assert_array_equal(regressor[29], extra[HEAD_TOP_ROW].astype(np.float32))
    with pytest.raises(ValueError, match=r"expected \(9, 6890\)"):
        joint_regressor_30(smpl["J_regressor"], extra[:, :100])


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
