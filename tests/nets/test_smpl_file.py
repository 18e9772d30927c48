"""nets.smpl_file: SMPL .pkl files read safely (v1.0 chumpy and v1.1 numpy, no code run), named errors, the
30-joint regressor."""
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

from nets.assets import AssetError, AssetFormatError
from nets.smpl_file import (FACE_VERTEX_IDS, HEAD_TOP_ROW, UnsafePickleError, joint_regressor_30, load_joint_regressor_extra,
                            load_smpl_pkl)

PARITY = "official_parity"


def _write(path, obj):
    with open(path, "wb") as file:
        pickle.dump(obj, file, protocol=2)
    return path


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
