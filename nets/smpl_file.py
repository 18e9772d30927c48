"""Reading the licensed SMPL files safely: the .pkl without chumpy and without running pickled code.

Only numpy arrays, chumpy arrays and scipy sparse matrices are rebuilt, as inert records; any other
global in the pickle is refused before it is called. Also the extra joint regressor and the 30-joint
regressor built from both.
"""
from __future__ import annotations

import _compat_pickle
import codecs
import logging
import os
import pickle
from pathlib import Path
from typing import Any

import numpy as np

from nets.assets import SOURCES, AssetFormatError, missing_asset

logger = logging.getLogger(__name__)

FACE_VERTEX_IDS = (331, 2802, 6262, 3489, 3990)  # nose, L eye, R eye, L ear, R ear
HEAD_TOP_ROW = 3  # row of J_regressor_extra at the top of the head
NUM_SMPL_JOINTS = 24
NUM_BETAS = 10
NUM_POSE_FEATURES = 9 * (NUM_SMPL_JOINTS - 1)  # 207
OFFICIAL_SMPL_KEYS = ("th_betas", "th_shapedirs", "th_posedirs", "th_v_template",
                      "th_J_regressor", "th_weights", "th_faces")
SMPL_SETTING = "--smpl / body.smpl"
EXTRA_SETTING = "--joint-regressor-extra / body.joint_regressor_extra"

# key -> expected shape; "V" = vertex count (from v_template), "F" = any face count
SMPL_SHAPES: dict[str, tuple] = {
    "v_template": ("V", 3),
    "shapedirs": ("V", 3, f">={NUM_BETAS}"),
    "posedirs": ("V", 3, NUM_POSE_FEATURES),
    "J_regressor": (NUM_SMPL_JOINTS, "V"),
    "weights": ("V", NUM_SMPL_JOINTS),
    "f": ("F", 3),
    "kintree_table": (2, NUM_SMPL_JOINTS),
}


class UnsafePickleError(pickle.UnpicklingError):
    """The pickle asks for a global outside the SMPL allow-list; nothing was called."""


class _Pickled:
    """Inert record of a pickled object: constructor arguments and state, nothing run."""

    pickled_name = ""

    def __new__(cls, *args, **kwargs):
        record = object.__new__(cls)
        record.args, record.state = args, None
        return record

    def __init__(self, *args, **kwargs):
        pass

    def __setstate__(self, state):
        self.state = state


class _Chumpy(_Pickled):
    pass


class _Sparse(_Pickled):
    pass


_SPARSE_CLASSES = {f"{fmt}_{kind}" for fmt in ("csc", "csr", "coo") for kind in ("matrix", "array")}
_BUILTINS = {"object": object, "set": set, "frozenset": frozenset}
_NUMPY_CORE = ("numpy.core.multiarray", "numpy._core.multiarray")


def _numpy_multiarray():
    try:
        from numpy._core import multiarray
    except ImportError:  # numpy < 2
        from numpy.core import multiarray
    return multiarray


class _SmplUnpickler(pickle.Unpickler):
    """Unpickler whose ``find_class`` only hands out numpy rebuilders and inert records."""

    def __init__(self, file, path: Path):
        super().__init__(file, encoding="latin1")
        self.path = path
        self._records: dict[str, type] = {}

    def find_class(self, module: str, name: str):
        raw = f"{module}.{name}"
        # An overridden find_class gets the raw Python 2 names (copy_reg, __builtin__).
        if (module, name) in _compat_pickle.NAME_MAPPING:
            module, name = _compat_pickle.NAME_MAPPING[(module, name)]
        elif module in _compat_pickle.IMPORT_MAPPING:
            module = _compat_pickle.IMPORT_MAPPING[module]
        if module == "numpy" and name in ("ndarray", "dtype"):
            return getattr(np, name)
        if module in _NUMPY_CORE and name in ("_reconstruct", "scalar"):
            return getattr(_numpy_multiarray(), name)
        if module == "_codecs" and name == "encode":
            return self._latin1_encode
        if module == "copyreg" and name == "_reconstructor":
            return self._reconstructor
        if module == "builtins" and name in _BUILTINS:
            return _BUILTINS[name]
        if module == "chumpy" or module.startswith("chumpy."):
            return self._record_class(_Chumpy, module, name)
        if module.startswith("scipy.sparse") and name in _SPARSE_CLASSES:
            return self._record_class(_Sparse, module, name)
        shown = f"{module}.{name}" + (f" (pickled as {raw})" if raw != f"{module}.{name}" else "")
        raise UnsafePickleError(
            f"{self.path}: refused to load global {shown}. An SMPL .pkl holds only numpy arrays, "
            "chumpy arrays, scipy sparse matrices and strings; this file is not an SMPL model "
            "file and may run code when unpickled. Get the model from: " + SOURCES["smpl"])

    def _record_class(self, base: type, module: str, name: str) -> type:
        key = f"{module}.{name}"
        if key not in self._records:
            self._records[key] = type(name, (base,), {"pickled_name": key})
        return self._records[key]

    def _latin1_encode(self, text: str, encoding: str = "utf-8") -> bytes:
        # Python 3 writes bytes as _codecs.encode(text, 'latin1') at protocol < 3.
        if encoding.lower().replace("-", "").replace("_", "") not in ("latin1", "iso88591", "l1"):
            raise UnsafePickleError(f"{self.path}: refused _codecs.encode with encoding {encoding!r}")
        return codecs.encode(text, "latin1")

    def _reconstructor(self, cls, base, state):
        # copyreg._reconstructor, restricted to building the inert records.
        if base is object and isinstance(cls, type) and issubclass(cls, _Pickled):
            return cls.__new__(cls)
        raise UnsafePickleError(f"{self.path}: refused copyreg._reconstructor({cls!r}, {base!r})")


def _state_dict(record: _Pickled) -> dict:
    state = record.state
    if isinstance(state, tuple) and len(state) == 2:  # (dict state, slot state)
        state = state[0]
    return state if isinstance(state, dict) else {}


def _sparse_to_dense(record: _Sparse) -> np.ndarray:
    """Dense float64 array from a pickled scipy csc/csr/coo record (numpy only)."""
    state = _state_dict(record)
    shape = tuple(int(n) for n in state.get("_shape", state.get("shape")))
    fmt = record.pickled_name.rsplit(".", 1)[-1][:3]
    data = np.asarray(state["data"], dtype=np.float64)
    if fmt == "coo":
        coords = state.get("coords") or (state["row"], state["col"])
        rows, cols = (np.asarray(c, dtype=np.int64) for c in coords)
    else:
        indptr = np.asarray(state["indptr"], dtype=np.int64)
        start, stop = indptr[0], indptr[-1]
        data = data[start:stop]
        minor = np.asarray(state["indices"], dtype=np.int64)[start:stop]
        major = np.repeat(np.arange(len(indptr) - 1), np.diff(indptr))
        rows, cols = (minor, major) if fmt == "csc" else (major, minor)
    dense = np.zeros(shape, dtype=np.float64)
    np.add.at(dense, (rows, cols), data)
    return dense


def _to_numpy(key: str, value: Any, source: str) -> Any:
    if isinstance(value, _Chumpy):
        state = _state_dict(value)
        if "x" not in state:
            raise AssetFormatError(
                f"{source}: key {key!r} is a chumpy expression ({value.pickled_name}) with no stored "
                "value 'x'; only plain chumpy arrays (Ch) can be read without chumpy")
        return np.asarray(state["x"])
    if isinstance(value, _Sparse):
        try:
            return _sparse_to_dense(value)
        except (KeyError, TypeError, ValueError, IndexError) as exc:
            raise AssetFormatError(f"{source}: key {key!r} is a malformed sparse matrix ({exc!r})") from exc
    return value


def _expected(pattern: tuple, n_verts: int) -> str:
    text = "(" + ", ".join(str(p) for p in pattern) + ")"
    return text + (f" with V={n_verts}" if n_verts >= 0 else "")


def _shape_ok(shape: tuple, pattern: tuple, n_verts: int) -> bool:
    if len(shape) != len(pattern):
        return False
    for got, want in zip(shape, pattern):
        if want == "V" and got != n_verts or want == "F" and got < 1:
            return False
        if isinstance(want, str) and want.startswith(">=") and got < int(want[2:]):
            return False
        if isinstance(want, int) and got != want:
            return False
    return True


def check_smpl(data: dict, source: str) -> None:
    """Raise AssetFormatError unless ``data`` has the SMPL keys with dense arrays of SMPL shapes."""
    hint = f" Expected the SMPL model file: {SOURCES['smpl']} (set with {SMPL_SETTING})."
    if not isinstance(data, dict):
        raise AssetFormatError(f"{source}: holds a {type(data).__name__}, "
                               f"expected a dict of SMPL arrays.{hint}")
    template = data.get("v_template")
    n_verts = template.shape[0] if isinstance(template, np.ndarray) and template.ndim == 2 else -1
    for key, pattern in SMPL_SHAPES.items():
        if key not in data:
            raise AssetFormatError(f"{source}: key {key!r} is missing, expected shape "
                                   f"{_expected(pattern, n_verts)} (keys present: {sorted(data)}).{hint}")
        value = data[key]
        if not isinstance(value, np.ndarray) or not np.issubdtype(value.dtype, np.number):
            raise AssetFormatError(f"{source}: key {key!r} is a {type(value).__name__}, "
                                   f"expected a numeric array of shape {_expected(pattern, n_verts)}.{hint}")
        if not _shape_ok(value.shape, pattern, n_verts):
            raise AssetFormatError(f"{source}: key {key!r} has shape {tuple(value.shape)}, "
                                   f"expected {_expected(pattern, n_verts)}.{hint}")
        if not np.isfinite(value).all():
            raise AssetFormatError(f"{source}: key {key!r} holds NaN or infinite values.{hint}")
    faces = data["f"]
    if faces.min() < 0 or faces.max() >= n_verts:
        raise AssetFormatError(f"{source}: key 'f' indexes vertices {faces.min()}..{faces.max()}, "
                               f"expected 0..{n_verts - 1}.{hint}")


def load_smpl_pkl(path: str | os.PathLike) -> dict[str, Any]:
    """Read an SMPL .pkl (v1.0 chumpy, v1.1 numpy) safely: arrays as numpy, strings as str."""
    path = Path(path)
    if not path.is_file():
        raise missing_asset("SMPL model file", path, SMPL_SETTING, SOURCES["smpl"])
    try:
        with open(path, "rb") as file:
            raw = _SmplUnpickler(file, path).load()
    except UnsafePickleError:
        raise
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, KeyError, AttributeError,
            IndexError, ImportError) as exc:
        raise AssetFormatError(f"{path}: not a readable SMPL pickle ({exc!r}). "
                               f"Get the model from: {SOURCES['smpl']}") from exc
    if not isinstance(raw, dict):
        check_smpl(raw, str(path))  # raises with the type found
    data = {}
    for key, value in raw.items():
        try:
            data[key] = _to_numpy(key, value, str(path))
        except AssetFormatError:
            if key in SMPL_SHAPES:
                raise
            logger.warning("%s: skipping key %r, which cannot be read without chumpy", path, key)
    check_smpl(data, str(path))
    return data


def load_joint_regressor_extra(path: str | os.PathLike, num_vertices: int = 6890) -> np.ndarray:
    """Read J_regressor_extra.npy: (9, V) float64 (row 3 regresses the head top)."""
    path = Path(path)
    source = SOURCES["joint_regressor_extra"]
    if not path.is_file():
        raise missing_asset("extra joint regressor", path, EXTRA_SETTING, source)
    try:
        array = np.load(path, allow_pickle=False)
    except (ValueError, OSError) as exc:
        raise AssetFormatError(f"{path}: not a readable .npy array ({exc}). Get it from: {source}") from exc
    expected = (9, num_vertices)
    if not isinstance(array, np.ndarray) or array.shape != expected:
        got = array.shape if isinstance(array, np.ndarray) else type(array).__name__
        raise AssetFormatError(f"{path}: extra joint regressor has shape {got}, expected {expected}. "
                               f"Get it from: {source}")
    if not np.issubdtype(array.dtype, np.number) or not np.isfinite(array).all():
        raise AssetFormatError(f"{path}: extra joint regressor must hold finite numbers, "
                               f"got dtype {array.dtype}. Get it from: {source}")
    return array.astype(np.float64)


def joint_regressor_30(j_regressor: np.ndarray, extra: np.ndarray) -> np.ndarray:
    """(24, V) SMPL regressor + (9, V) extra -> (30, V) float32 regressor of the 30-joint set.

    Rows 0-23: SMPL joints; 24-28: one-hot on FACE_VERTEX_IDS; 29: extra[HEAD_TOP_ROW].
    """
    j_regressor, extra = np.asarray(j_regressor, np.float64), np.asarray(extra, np.float64)
    if j_regressor.ndim != 2 or j_regressor.shape[0] != NUM_SMPL_JOINTS:
        raise ValueError(f"J_regressor has shape {j_regressor.shape}, expected (24, V)")
    n_verts = j_regressor.shape[1]
    if extra.shape != (9, n_verts):
        raise ValueError(f"extra joint regressor has shape {extra.shape}, expected (9, {n_verts})")
    if max(FACE_VERTEX_IDS) >= n_verts:
        raise ValueError(f"face vertex ids {FACE_VERTEX_IDS} need at least {max(FACE_VERTEX_IDS) + 1} "
                         f"vertices, got V={n_verts}")
    face = np.zeros((len(FACE_VERTEX_IDS), n_verts))
    face[np.arange(len(FACE_VERTEX_IDS)), FACE_VERTEX_IDS] = 1.0
    rows = [j_regressor, face, extra[HEAD_TOP_ROW:HEAD_TOP_ROW + 1]]
    return np.concatenate(rows).astype(np.float32)
