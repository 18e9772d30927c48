"""Resuming a store: after a crash mid-flush, a crashed resume, a killed writer process; refusals of other setups."""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import zarr

import store_data
from store_data import (CHILD, CONFIG, FINGERPRINTS, FRAMES, assert_same_store, create, frame_people, kill_when_stored,
                        write)
from stream.store import StoreMismatchError, StoreWriter, open_store


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> Path:
    """An uninterrupted 100-frame store."""
    return write(tmp_path_factory.mktemp("ref") / "ref.zarr")


class Crash(BaseException):
    """Stands for the writer process dying: nothing after it runs, no exit handler flushes."""


@pytest.mark.parametrize("crash_after", [0, 3, 20, "before_progress"])
def test_resume_after_a_crash_mid_flush_equals_an_uninterrupted_run(tmp_path, monkeypatch, reference, crash_after):
    """The flush of frames 40..47 dies after `crash_after` array appends; resume and write the rest."""
    path = tmp_path / "out.zarr"
    writer = create(path)
    for t in range(40):
        writer.add_frame(t, t / 25.0, frame_people(t))
    calls = []

    def die(*args):
        raise Crash()

    def counting(self, array, rows, _append=StoreWriter._append):
        if len(calls) == crash_after:
            raise Crash()
        calls.append(array.path)
        return _append(self, array, rows)

    if crash_after == "before_progress":
        monkeypatch.setattr(StoreWriter, "_sync", die)
    else:
        monkeypatch.setattr(StoreWriter, "_append", counting)
    with pytest.raises(Crash):
        for t in range(40, FRAMES):
            writer.add_frame(t, t / 25.0, frame_people(t))
    monkeypatch.undo()
    del writer

    store = open_store(path)  # the reader sees exactly the first 40 frames
    ref = open_store(reference)
    assert store.frames_done == 40 and not store.complete and 9 not in store.track_ids()
    if crash_after != 0:  # the dead flush left rows past the commit point, which the reader leaves out
        assert zarr.open_group(path, mode="r")["tracks/0/frame"].shape[0] > len(store.track(0))
    for track in store:
        full = ref.track(track.track_id)
        np.testing.assert_array_equal(track.smpl_pose, full.smpl_pose[full.frame < 40])

    leftover = path / "tracks" / "0" / "frame" / "c" / "2.5f3a.partial"  # as zarr's interrupted writes leave
    leftover.write_bytes(b"half")
    writer = StoreWriter.resume(path, config=CONFIG, fingerprints=FINGERPRINTS, flush_frames=8)
    assert writer.frames_done == 40 and writer.next_frame == 40 and not leftover.exists()
    copy = tmp_path / "copy.zarr"  # truncation also cleared the rows past the end inside the last chunk
    shutil.copytree(path, copy)
    frame = zarr.open_group(copy, mode="r+")["tracks/0/frame"]
    rows = frame.shape[0]
    frame.resize((rows + 16,))
    assert (frame[rows:] == -1).all()

    root = zarr.open_group(path, mode="r")
    for name, array in root.members(max_depth=None):  # no chunk file is left past any array's end
        if isinstance(array, zarr.Array):
            last = -(-array.shape[0] // array.chunks[0])
            assert all(int(c.name) < last for c in (path / name / "c").glob("*")), name

    write(path, range(40, FRAMES), writer=writer)
    assert_same_store(path, reference)
    assert open_store(path).attrs["resumes"] == [{"frames_done": 40, "forced": []}]


@pytest.mark.parametrize("crash_after", [1, 6, 30])
def test_a_resume_that_crashes_can_be_resumed(tmp_path, monkeypatch, reference, crash_after):
    import stream.store.write

    path = write(tmp_path / "out.zarr", range(61), finish=False)  # frames 56..60 buffered and flushed on exit
    root = zarr.open_group(path, mode="r+")
    root.attrs["progress"] = {"frames_done": 37, "complete": False}  # as if the last flushes never committed
    calls = []
    real = stream.store.write._truncate

    def truncate(*args):
        if len(calls) == crash_after:
            raise Crash()
        calls.append(args)
        real(*args)

    monkeypatch.setattr(stream.store.write, "_truncate", truncate)
    with pytest.raises(Crash):
        StoreWriter.resume(path, config=CONFIG, fingerprints=FINGERPRINTS)
    monkeypatch.undo()
    writer = StoreWriter.resume(path, config=CONFIG, fingerprints=FINGERPRINTS, flush_frames=8)
    assert writer.frames_done == 37
    write(path, range(37, FRAMES), writer=writer)
    assert_same_store(path, reference)


def test_resume_after_killing_the_writer_process(tmp_path, reference):
    path = tmp_path / "out.zarr"
    child = subprocess.Popen([sys.executable, "-c", CHILD, store_data.__file__, str(path)], stdout=subprocess.PIPE, text=True,
                             cwd=Path(__file__).resolve().parents[3])
    kill_when_stored(child, path, 24)
    writer = StoreWriter.resume(path, config=CONFIG, fingerprints=FINGERPRINTS, flush_frames=8)
    assert 24 <= writer.frames_done < FRAMES
    write(path, range(writer.frames_done, FRAMES), writer=writer)
    assert_same_store(path, reference)


def test_resume_with_a_different_config_names_the_key(tmp_path):
    path = write(tmp_path / "out.zarr", range(10), finish=False)
    other = {**CONFIG, "model": {**CONFIG["model"], "max_batch": 64}}
    with pytest.raises(StoreMismatchError, match=r"config\.model\.max_batch: stored 32, given 64.*force=True"):
        StoreWriter.resume(path, config=other, fingerprints=FINGERPRINTS)


def test_resume_with_other_weights_names_the_fingerprint(tmp_path):
    path = write(tmp_path / "out.zarr", range(10), finish=False)
    with pytest.raises(StoreMismatchError, match=r"fingerprints\.model"):
        StoreWriter.resume(path, config=CONFIG, fingerprints={**FINGERPRINTS, "model": "ffff"})


def test_forced_resume_continues_and_is_recorded(tmp_path):
    path = write(tmp_path / "out.zarr", range(10), finish=False)
    other = {**CONFIG, "pose2d": {"backend": "precomputed"}}
    writer = StoreWriter.resume(path, config=other, fingerprints=FINGERPRINTS, force=True)
    write(path, range(10, 20), writer=writer)
    store = open_store(path)
    assert store.frames_done == 20 and store.attrs["config"] == other
    assert "config.pose2d.backend" in store.attrs["resumes"][0]["forced"][0]


def test_resume_missing_store(tmp_path):
    with pytest.raises(FileNotFoundError, match="missing.zarr"):
        StoreWriter.resume(tmp_path / "missing.zarr", config=CONFIG, fingerprints=FINGERPRINTS)


def test_recorded_errors_are_kept(tmp_path):
    path = tmp_path / "out.zarr"
    with create(path) as writer:
        for t in range(12):
            writer.add_frame(t, t / 25.0, frame_people(t))
        writer.record_error("truncated input: no frame after 12")
    store = open_store(path)
    assert store.errors == [{"frame": 12, "message": "truncated input: no frame after 12"}]
    assert store.frames_done == 12 and not store.complete
