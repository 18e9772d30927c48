"""The Zarr store: values round-trip, appends in blocks, frames in order, resume equals an uninterrupted run."""
from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
import zarr
from typer.testing import CliRunner

from stream.cli.app import app
from stream.store import (CAMERA_CONVENTION, FrameOrderError, StoreExistsError,
                          StoreFormatError, StoreInputError, StoreMismatchError, StoreNotFoundError, StoreWriter,
                          open_store)

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


def write(path, frames=range(FRAMES), writer=None, finish=True, **kwargs) -> Path:
    with (writer or create(path, **kwargs)) as w:
        for t in frames:
            w.add_frame(t, t / 25.0, frame_people(t))
        if finish:
            w.finish()
    return Path(path)


def zarr_arrays(path) -> dict[str, np.ndarray]:
    """Every array of a store by its path, read with plain zarr."""
    root = zarr.open_group(path, mode="r")
    return {name: node[:] for name, node in root.members(max_depth=None) if isinstance(node, zarr.Array)}


def assert_same_store(a, b):
    arrays_a, arrays_b = zarr_arrays(a), zarr_arrays(b)
    assert sorted(arrays_a) == sorted(arrays_b)
    for name in arrays_a:
        assert arrays_a[name].dtype == arrays_b[name].dtype, name
        np.testing.assert_array_equal(arrays_a[name], arrays_b[name], err_msg=name)
    root_a, root_b = zarr.open_group(a, mode="r"), zarr.open_group(b, mode="r")
    assert root_a.attrs["progress"] == root_b.attrs["progress"]
    for track_id, group in root_a["tracks"].groups():
        assert group.attrs.asdict() == root_b[f"tracks/{track_id}"].attrs.asdict()


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> Path:
    """An uninterrupted 100-frame store."""
    return write(tmp_path_factory.mktemp("ref") / "ref.zarr")


# -- round trip -------------------------------------------------------------------------------------

def test_round_trip_values_and_dtypes(tmp_path):
    path = tmp_path / "out.zarr"
    with create(path) as writer:
        for t in range(40):
            writer.add_frame(t, t / 25.0, frame_people(t))
        writer.finish()
    store = open_store(path)
    assert (len(store), store.frames_done, store.complete, store.fps) == (40, 40, True, 25.0)
    time_, n_people = store.frames()
    assert time_.dtype == np.float64 and n_people.dtype == np.int16
    np.testing.assert_array_equal(n_people, [len(frame_people(t)["track_id"]) for t in range(40)])
    expected = {}
    for t in range(40):
        people = frame_people(t)
        for i, track_id in enumerate(people["track_id"].tolist()):
            expected.setdefault(track_id, []).append((t, {k: v[i] for k, v in people.items()}))
    assert store.track_ids() == sorted(expected)
    for track in store:
        rows = expected[track.track_id]
        np.testing.assert_array_equal(track.frame, [t for t, _ in rows])
        np.testing.assert_array_equal(track.time, [t / 25.0 for t, _ in rows])
        assert (track.first_frame, track.last_frame, len(track)) == (rows[0][0], rows[-1][0], len(rows))
        assert track.frame.dtype == np.int32 and track.smpl_pose.shape == (len(rows), 24, 3)
        for name in ("smpl_pose", "smpl_betas", "cam_trans", "joints3d", "keypoints2d", "bbox", "score"):
            value = getattr(track, name)
            assert value.dtype == np.float32, name
            want = np.array([r[name] for _, r in rows], np.float32).reshape(value.shape)
            np.testing.assert_array_equal(value, want, err_msg=name)


def test_attrs_hold_source_camera_config_and_convention(tmp_path):
    store = open_store(write(tmp_path / "out.zarr", range(5)))
    assert store.source == {**SOURCE, "size": [320, 240]}
    assert store.camera["focal"] == [400.0, 400.0] and store.camera["convention"] == CAMERA_CONVENTION
    assert store.attrs["config"] == CONFIG and store.attrs["fingerprints"] == FINGERPRINTS
    assert store.attrs["joint_set"] == "coco17" and store.attrs["num_keypoints"] == 17
    assert store.attrs["crowdmesh_version"]


def test_plain_zarr_reads_the_arrays(tmp_path):
    path = write(tmp_path / "out.zarr", range(30))
    root = zarr.open_group(path, mode="r")
    track = open_store(path).track(1)
    np.testing.assert_array_equal(root["tracks/1/smpl_pose"][:], track.smpl_pose)
    np.testing.assert_array_equal(root["tracks/1/frame"][:], track.frame)
    assert root["frames/time"].shape == (30,) and root["tracks/1/keypoints2d"].shape[1:] == (17, 3)
    assert root.attrs["progress"] == {"frames_done": 30, "complete": True}
    assert root["tracks/1"].attrs["first_frame"] == int(track.frame[0])


def test_zero_people_frames_are_recorded(tmp_path):
    path = tmp_path / "empty.zarr"
    with create(path) as writer:
        for t in range(20):
            writer.add_frame(t, t / 25.0, no_people())
        writer.finish()
    store = open_store(path)
    assert len(store) == 20 and store.track_ids() == [] and list(store) == []
    np.testing.assert_array_equal(store.frames()[1], np.zeros(20))


def test_appends_in_blocks_without_rewriting_full_chunks(tmp_path):
    """One person in every frame: full chunk files are never written again; memory holds <= flush_frames."""
    path = tmp_path / "out.zarr"
    folder = path / "tracks" / "0" / "smpl_pose" / "c"
    seen: dict[str, tuple[int, int]] = {}
    with create(path, flush_frames=5, chunk_frames=16) as writer:
        for t in range(200):
            people = frame_people(t)
            one = {k: v[:1] for k, v in people.items()} | {"track_id": np.array([0])}
            writer.add_frame(t, t / 25.0, one)
            assert writer.buffered <= 5
            if writer.buffered == 0:  # just flushed
                files = {p.parent.parent.name: p.stat() for p in folder.glob("*/0/0")}
                assert len(files) == -(-writer.frames_done // 16)
                for name, stat in files.items():
                    if name in seen and int(name) < writer.frames_done // 16 - 1:
                        assert (stat.st_ino, stat.st_mtime_ns) == seen[name], f"full chunk {name} rewritten"
                    seen[name] = (stat.st_ino, stat.st_mtime_ns)
        writer.finish()
    assert len(open_store(path).track(0)) == 200


def test_fsync_syncs_the_flushed_chunks_before_the_progress(tmp_path, monkeypatch):
    import stream.store.write

    opened = []
    real = stream.store.write._fsync
    monkeypatch.setattr(stream.store.write, "_fsync", lambda p: opened.append(Path(p)) or real(p))
    path = write(tmp_path / "out.zarr", range(16), fsync=True, flush_frames=8, chunk_frames=16)
    chunk = path / "tracks" / "1" / "smpl_pose" / "c" / "0" / "0" / "0"
    assert chunk in opened and chunk.parent in opened
    first_progress = opened.index(path / "zarr.json")
    assert opened.index(chunk) < first_progress and opened.index(path / "frames" / "time" / "c" / "0") < first_progress


# -- validation -------------------------------------------------------------------------------------

@pytest.mark.parametrize("index", [2, 0, -1])
def test_frames_out_of_order_are_refused(tmp_path, index):
    with create(tmp_path / "out.zarr") as writer:
        writer.add_frame(0, 0.0, frame_people(0))
        with pytest.raises(FrameOrderError, match="expected frame 1"):
            writer.add_frame(index, 0.1, frame_people(1))


def test_no_frames_after_finish(tmp_path):
    writer = create(tmp_path / "out.zarr")
    writer.finish()
    with pytest.raises(FrameOrderError, match="complete"):
        writer.add_frame(0, 0.0, no_people())


def test_bad_pose_shape_names_the_field(tmp_path):
    people = frame_people(3) | {"smpl_pose": np.zeros((len(frame_people(3)["track_id"]), 23, 3))}
    with create(tmp_path / "out.zarr") as writer, pytest.raises(StoreInputError, match="smpl_pose has shape"):
        writer.add_frame(0, 0.0, people)


def test_repeated_track_id_is_refused(tmp_path):
    people = {k: np.concatenate([v, v[:1]]) for k, v in frame_people(3).items()}
    with create(tmp_path / "out.zarr") as writer, pytest.raises(StoreInputError, match="repeats"):
        writer.add_frame(0, 0.0, people)


def test_people_as_a_list_are_refused_naming_the_form(tmp_path):
    people = frame_people(3)
    rows = [{k: v[i] for k, v in people.items()} for i in range(len(people["track_id"]))]
    with create(tmp_path / "out.zarr") as writer, pytest.raises(StoreInputError, match="expected a dict of stacked"):
        writer.add_frame(0, 0.0, rows)


def test_create_refuses_an_existing_store(tmp_path):
    path = write(tmp_path / "out.zarr", range(3))
    with pytest.raises(StoreExistsError, match="resume"):
        create(path)


def test_overwrite_replaces_a_store(tmp_path):
    path = write(tmp_path / "out.zarr", range(30))
    write(path, range(5), overwrite=True)
    assert len(open_store(path)) == 5


def test_overwrite_leaves_other_folders_alone(tmp_path):
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep")
    with pytest.raises(StoreExistsError, match="not a crowdmesh store"):
        create(tmp_path / "mine", overwrite=True)
    assert (tmp_path / "mine" / "notes.txt").read_text() == "keep"


def test_open_missing_store(tmp_path):
    with pytest.raises(StoreNotFoundError, match="does not exist"):
        open_store(tmp_path / "missing.zarr")


def test_open_non_store_folder(tmp_path):
    with pytest.raises(StoreFormatError, match="not a Zarr v3 group"):
        open_store(tmp_path)


def test_open_zarr_group_that_is_not_a_store(tmp_path):
    zarr.open_group(tmp_path / "other.zarr", mode="w")
    with pytest.raises(StoreFormatError, match="not a crowdmesh store"):
        open_store(tmp_path / "other.zarr")


# -- crash and resume -------------------------------------------------------------------------------

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


CHILD = """
import importlib.util, sys, time
spec = importlib.util.spec_from_file_location("store_test", sys.argv[1])
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


def test_resume_after_killing_the_writer_process(tmp_path, reference):
    path = tmp_path / "out.zarr"
    child = subprocess.Popen([sys.executable, "-c", CHILD, __file__, str(path)], stdout=subprocess.PIPE, text=True,
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


# -- synthetic crowds and `stream info` -------------------------------------------------------------

@pytest.fixture(scope="module")
def standin_body():
    from nets.body import BodyModel
    from nets.standin import make_standin_body

    return BodyModel(*make_standin_body())


@pytest.fixture(scope="module")
def crowd(standin_body):
    from nets.synth import CrowdConfig, make_crowd

    return make_crowd(standin_body, CrowdConfig(people=4, frames=30, width=160, height=96, seed=1))


@pytest.fixture(scope="module")
def crowd_store(crowd, tmp_path_factory) -> Path:
    from stream.demo.synth import store_from_crowd

    return store_from_crowd(crowd, tmp_path_factory.mktemp("crowd") / "crowd.zarr")


def test_store_from_crowd_has_one_track_per_present_person(crowd, crowd_store):
    store = open_store(crowd_store)
    present = [n for n in range(crowd.people) if crowd.present[:, n].any()]
    assert store.track_ids() == [int(crowd.ids[n]) for n in present]
    assert store.complete and len(store) == crowd.frames and store.fps == crowd.fps
    for n in present:
        track = store.track(int(crowd.ids[n]))
        np.testing.assert_array_equal(track.frame, np.flatnonzero(crowd.present[:, n]))
        np.testing.assert_array_equal(track.keypoints2d, crowd.keypoints2d["coco17"][track.frame, n])
    np.testing.assert_array_equal(store.frames()[1], crowd.present.sum(1))


def test_cam_trans_places_the_body_in_the_camera_frame(crowd, crowd_store, standin_body):
    """body(smpl_pose, smpl_betas).vertices + cam_trans is the camera-frame mesh (CAMERA_CONVENTION)."""
    track = open_store(crowd_store).track(int(crowd.ids[1]))
    rows = [0, len(track) // 2, len(track) - 1]
    with torch.no_grad():
        out = standin_body(torch.from_numpy(track.smpl_pose[rows].reshape(-1, 72)),
                           torch.from_numpy(track.smpl_betas[rows]))
    vertices = out.vertices.numpy() + track.cam_trans[rows, None]
    joints = out.joints.numpy() + track.cam_trans[rows, None]
    for i, row in enumerate(rows):
        np.testing.assert_allclose(vertices[i], crowd.vertices(int(track.frame[row]))[1], atol=1e-5)
        np.testing.assert_allclose(joints[i], track.joints3d[row], atol=1e-5)


def test_store_from_crowd_min_visible_drops_hidden_frames(crowd, tmp_path):
    from stream.demo.synth import store_from_crowd

    store = open_store(store_from_crowd(crowd, tmp_path / "c.zarr", joint_set="crowdpose14", min_visible=8))
    visible = (crowd.keypoints2d["crowdpose14"][..., 2] > 0).sum(-1) >= 8
    for track in store:
        n = int(np.flatnonzero(crowd.ids == track.track_id)[0])
        np.testing.assert_array_equal(track.frame, np.flatnonzero(crowd.present[:, n] & visible[:, n]))


def test_stream_info_summarises_tracks_and_frames(crowd, crowd_store):
    res = CliRunner().invoke(app, ["info", str(crowd_store), "--top", "2"])
    assert res.exit_code == 0, res.output
    tracks = open_store(crowd_store).summaries()
    assert f"{len(tracks)} tracks" in res.output and f"{crowd.frames} of {crowd.frames} done, complete" in res.output
    longest = max(tracks, key=lambda s: (s.length, -s.track_id))
    assert f"{longest.track_id:>7} {longest.first_frame:>7} {longest.last_frame:>7} {longest.length:>7}" in res.output
    assert "(2 longest)" in res.output and "errors:  none" in res.output


def test_stream_info_bad_path_exits_2(tmp_path):
    res = CliRunner().invoke(app, ["info", str(tmp_path / "nope.zarr")])
    assert res.exit_code == 2 and "does not exist" in res.output
