"""The Zarr store: values round-trip, appends in blocks, frames in order, refusals, stores that are not ours."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import zarr

from store_data import CONFIG, FINGERPRINTS, SOURCE, create, frame_people, no_people, write
from stream.store import (CAMERA_CONVENTION, FrameOrderError, StoreExistsError, StoreFormatError, StoreInputError,
                          StoreNotFoundError, open_store)


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
