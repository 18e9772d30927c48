"""The store tests' data: deterministic people per frame, a writer with small flushes, comparing two stores
array by array, and a writer process to kill (used by the store and smoothing tests)."""
from __future__ import annotations

import json
import signal
import time
from pathlib import Path

import numpy as np
import zarr

from stream.store import StoreWriter
from stream.store.location import as_location, zarr_store

SOURCE = {"path": "clip.mp4", "fps": 25.0, "size": [320, 240], "frame_count": 100}
CAMERA = {"focal": 400.0, "principal_point": [160.0, 120.0]}
CONFIG = {"model": {"checkpoint": "snapshot_6.pth.tar", "max_batch": 32}, "pose2d": {"backend": "rtmo"}}
FINGERPRINTS = {"model": "ab12", "smpl": "cd34"}
FRAMES = 100


def frame_people(t: int) -> dict[str, np.ndarray]:
    """Deterministic people of frame t (stacked arrays): tracks come and go, one starts at frame 44."""
    ids = [i for i in range(6) if (t // (7 + 3 * i) + i) % 3 != 0]
    if t >= 44:
        ids.append(9)
    rng = np.random.default_rng(t)
    n = len(ids)
    return {"track_id": np.array(ids, np.int64), "smpl_pose": rng.normal(size=(n, 72)),
            "smpl_betas": rng.normal(size=(n, 10)), "cam_trans": rng.normal(size=(n, 3)),
            "joints3d": rng.normal(size=(n, 30, 3)), "keypoints2d": rng.normal(size=(n, 17, 3)) * 100,
            "bbox": rng.uniform(0, 300, size=(n, 4)), "score": rng.uniform(size=n)}


def no_people() -> dict[str, np.ndarray]:
    """A frame without people: every field with P = 0 rows."""
    return {k: v[:0] for k, v in frame_people(0).items()}


def create(path, **kwargs) -> StoreWriter:
    options = {"flush_frames": 8, "chunk_frames": 16, **kwargs}
    return StoreWriter.create(path, source=SOURCE, camera=CAMERA, joint_set="coco17", config=CONFIG,
                              fingerprints=FINGERPRINTS, **options)


def write(path, frames=range(FRAMES), writer=None, finish=True, **kwargs) -> Path | str:
    """Write ``frames`` to the store at ``path``; returns its location (a Path, or the URL)."""
    with (writer or create(path, **kwargs)) as w:
        for t in frames:
            w.add_frame(t, t / 25.0, frame_people(t))
        if finish:
            w.finish()
    return as_location(path)


def open_group(path) -> zarr.Group:
    """The root group of a store (a local path or a URL), read with plain zarr."""
    return zarr.open_group(zarr_store(as_location(path), read_only=True), mode="r")


def zarr_arrays(path) -> dict[str, np.ndarray]:
    """Every array of a store by its path, read with plain zarr."""
    root = open_group(path)
    return {name: node[:] for name, node in root.members(max_depth=None) if isinstance(node, zarr.Array)}


def assert_same_store(a, b):
    arrays_a, arrays_b = zarr_arrays(a), zarr_arrays(b)
    assert sorted(arrays_a) == sorted(arrays_b)
    for name in arrays_a:
        assert arrays_a[name].dtype == arrays_b[name].dtype, name
        np.testing.assert_array_equal(arrays_a[name], arrays_b[name], err_msg=name)
    root_a, root_b = open_group(a), open_group(b)
    assert root_a.attrs["progress"] == root_b.attrs["progress"]
    for track_id, group in root_a["tracks"].groups():
        assert group.attrs.asdict() == root_b[f"tracks/{track_id}"].attrs.asdict()


CHILD = """
import importlib.util, sys, time
spec = importlib.util.spec_from_file_location("store_data", sys.argv[1])
test = importlib.util.module_from_spec(spec)
spec.loader.exec_module(test)
writer = test.create(sys.argv[2], flush_frames=5)
print("started", flush=True)
for t in range(test.FRAMES):
    writer.add_frame(t, t / 25.0, test.frame_people(t))
    time.sleep(0.01)
print("not killed", flush=True)
"""


def kill_when_stored(child, path, frames: int) -> None:
    """SIGKILL the writer ``child`` (it prints "started") once its store holds ``frames`` frames."""
    try:
        assert child.stdout.readline().strip() == "started"
        deadline = time.monotonic() + 60
        while json.loads((path / "zarr.json").read_text())["attributes"]["progress"]["frames_done"] < frames:
            assert time.monotonic() < deadline and child.poll() is None
            time.sleep(0.005)
        child.send_signal(signal.SIGKILL)
    finally:
        child.wait()
    assert child.returncode == -signal.SIGKILL
