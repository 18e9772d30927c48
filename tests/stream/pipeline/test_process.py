"""``stream process`` without Ray: stages, the local runner, resume and bad inputs (stream.pipeline.local)."""
import json
import shutil
import subprocess
import sys

import numpy as np
import pytest
import torch

from stream.source.frames import FrameSourceError, FrameSourceNotFoundError
from stream.pipeline.local import run_local
from stream.pipeline.setup import Run
from stream.pipeline.track import TrackStage
from stream.pose2d.precomputed import read_poses_file
from stream_helpers import interrupt_after, pipeline_overrides, remux_mpegts
from store_compare import FIELDS, assert_same_store, read_tracks
from stream.store import open_store
from stream.store.layout import StoreExistsError, StoreMismatchError

def test_local_run_stores_every_frame_and_one_track_per_person(reference_store, pipeline_clip):
    from stream.demo.run import score_store

    with open_store(reference_store) as store:
        assert store.frames_done == pipeline_clip.frames
        assert store.complete and store.errors == []
        times, n_people = store.frames()
        np.testing.assert_allclose(times, np.arange(pipeline_clip.frames) / pipeline_clip.fps, atol=1e-6)
        rows = 0
        for t in store.track_ids():
            track = store.track(t)
            lengths = {k: len(getattr(track, k)) for k in FIELDS}
            assert len(set(lengths.values())) == 1, lengths
            rows += lengths["frame"]
        assert rows == n_people.sum() > 0
    scores = score_store(reference_store, pipeline_clip.truth)
    truth = np.load(pipeline_clip.truth)
    seen = int((truth["present"].sum(0) >= 5).sum())         # people in view for at least 5 frames
    assert seen - 1 <= scores["tracks"] <= seen + 2, (scores, seen)
    assert scores["id_purity"] >= 0.95, scores


def test_stored_values_follow_the_camera_convention(reference_store, reduced_assets):
    from nets.body import BodyModel

    body = BodyModel.from_files(reduced_assets["smpl"], reduced_assets["joint_regressor_extra"])
    for track in read_tracks(reference_store).values():
        with torch.no_grad():
            out = body(torch.from_numpy(track["smpl_pose"].reshape(-1, 72)), torch.from_numpy(track["smpl_betas"]),
                       torch.from_numpy(track["cam_trans"]))
        np.testing.assert_allclose(out.joints.numpy(), track["joints3d"], atol=1e-4)


def test_local_run_equals_the_stages_run_frame_by_frame(reference_store, pipeline_config, pipeline_clip):
    """The runner groups crops of several frames per forward; one frame per forward gives the same store."""
    run = Run(pipeline_config())
    tracker = TrackStage(run.tracker_config, run.joint_set)
    dets = read_poses_file(pipeline_clip.detections["coco17"])[1]
    frames, tracked = {}, []
    for batch in run.frames():
        poses = run.pose([f.bgr for f in batch], [f.index for f in batch])
        for frame, p in zip(batch, poses):
            frames[frame.index] = frame
            tracked += tracker(frame.index, p)
    tracked += tracker.flush()
    assert [index for index, _ in tracked] == sorted(frames)     # every frame handed back once, in order
    for index, people in tracked:
        frame = frames[index]
        for person in people:     # the stored 2D pose is the detection the tracker matched
            assert person.frame_index == index
            np.testing.assert_array_equal(person.keypoints, dets[index].keypoints[person.detection_index])
        camera = run.camera(frame.bgr.shape[1], frame.bgr.shape[0])
        run.sink.open(frame.bgr.shape[1], frame.bgr.shape[0], camera)
        run.sink.add(index, frame.time, run.mesh(run.mesh.crops(index, frame.bgr, people, camera)))
    run.sink.close(finished=True)
    assert_same_store(reference_store, run.sink.path)


def test_interrupted_run_resumes_to_the_uninterrupted_store(reference_store, pipeline_config, pipeline_clip, tmp_path):
    cfg = pipeline_config(f"output={tmp_path / 'cut.zarr'}")

    interrupt_after(cfg, 16)
    with open_store(tmp_path / "cut.zarr") as store:
        assert 16 <= store.frames_done < pipeline_clip.frames and not store.complete
        done = store.frames_done
    resumed = run_local(cfg, resume=True)
    assert resumed.processed == pipeline_clip.frames - done
    assert_same_store(reference_store, resumed.store)


def test_existing_store_needs_resume_or_overwrite_and_the_same_setup(reference_store, pipeline_config, tmp_path):
    copy = tmp_path / "copy.zarr"
    shutil.copytree(reference_store, copy)
    with pytest.raises(StoreExistsError, match="--resume"):
        run_local(pipeline_config(f"output={copy}"))
    with pytest.raises(StoreMismatchError, match="tracker.distance_threshold"):
        run_local(pipeline_config(f"output={copy}", "tracker.distance_threshold=0.5"), resume=True)
    assert run_local(pipeline_config(f"output={copy}"), resume=True).processed == 0     # complete: nothing to do
    empty = tmp_path / "nobody.json"
    empty.write_text("[]")
    again = run_local(pipeline_config(f"output={copy}", f"pose2d.poses={empty}"), overwrite=True)
    assert again.tracks == 0 and again.frames == 36


def test_missing_and_non_video_inputs_are_named(pipeline_config, tmp_path):
    with pytest.raises(FrameSourceNotFoundError, match="nope.mp4"):
        run_local(pipeline_config(f"input={tmp_path / 'nope.mp4'}"))
    text = tmp_path / "notes.mp4"
    text.write_text("not a video\n" * 100)
    with pytest.raises(FrameSourceError, match="notes.mp4"):
        run_local(pipeline_config(f"input={text}"))
    assert not (tmp_path / "out.zarr").exists()


def test_truncated_mp4_with_its_index_at_the_end_is_refused_by_name(pipeline_config, pipeline_clip, tmp_path):
    data = pipeline_clip.video.read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(FrameSourceError, match="cut.mp4"):   # nothing decodable without the index
        run_local(pipeline_config(f"input={cut}"))
    assert not (tmp_path / "out.zarr").exists()


def test_truncated_video_keeps_the_decodable_frames_and_records_the_error(pipeline_config, pipeline_clip, tmp_path):
    """A Matroska copy cut at 2/3: its header says how long it should be, so the cut is detected."""
    mkv = remux_mpegts(pipeline_clip.video, tmp_path / "clip.mkv", format="matroska")
    data = mkv.read_bytes()
    cut = tmp_path / "cut.mkv"
    cut.write_bytes(data[: len(data) * 2 // 3])
    summary = run_local(pipeline_config(f"input={cut}"))
    assert 0 < summary.frames < pipeline_clip.frames
    assert summary.errors and "cut.mkv" in summary.errors[0]["message"]
    assert summary.errors[0]["frame"] == summary.frames
    with open_store(summary.store) as store:
        assert store.complete and store.frames_done == summary.frames


def test_truncated_stream_file_keeps_its_frames(pipeline_config, pipeline_clip, tmp_path):
    """An MPEG-TS copy cut in the middle: the frames before the cut are stored (a cut stream cannot be told from
    a shorter one, so no error is recorded)."""
    ts = tmp_path / "clip.ts"
    remux_mpegts(pipeline_clip.video, ts)
    data = ts.read_bytes()
    cut = tmp_path / "cut.ts"
    cut.write_bytes(data[: len(data) * 2 // 3])
    summary = run_local(pipeline_config(f"input={cut}"))
    assert 0 < summary.frames < pipeline_clip.frames
    with open_store(summary.store) as store:
        assert store.complete
        assert store.frames_done == summary.frames


def test_video_without_people_gives_a_valid_empty_store(pipeline_config, pipeline_clip, tmp_path):
    empty = tmp_path / "nobody.json"
    empty.write_text(json.dumps([]))
    summary = run_local(pipeline_config(f"pose2d.poses={empty}"))
    assert summary.frames == pipeline_clip.frames and summary.tracks == 0 and summary.person_crops == 0
    with open_store(summary.store) as store:
        assert store.complete and store.frames()[1].sum() == 0


@pytest.mark.parametrize("size", [(1, 1), (33, 17)])
def test_tiny_and_odd_size_frames(pipeline_config, tmp_path, size):
    import cv2

    folder = tmp_path / f"frames_{size[0]}x{size[1]}"
    folder.mkdir()
    w, h = size
    people = {}
    for i in range(4):
        cv2.imwrite(str(folder / f"{i}.png"), np.full((h, w, 3), 40 * i, np.uint8))
        kpts = np.stack([np.linspace(0, w - 1, 17), np.linspace(0, h - 1, 17), np.ones(17)], 1)
        people[f"{i}.png"] = [kpts.tolist()]
    poses = tmp_path / "poses.json"
    poses.write_text(json.dumps(people))
    summary = run_local(pipeline_config(f"input={folder}", f"pose2d.poses={poses}"))
    assert summary.frames == 4
    with open_store(summary.store) as store:
        assert store.source["size"] == [w, h] and store.camera["principal_point"] == [(w - 1) / 2, (h - 1) / 2]
        for t in store.track_ids():
            assert np.isfinite(store.track(t).cam_trans).all()


def test_mesh_rows_are_the_cropped_people_in_the_image_camera(pipeline_config, pipeline_clip):
    """Rows come straight from the crops: each carries the tracked person it was cropped from (weak poses have
    no crop and no row); translation and joints move into the image's camera."""
    from stream.pipeline.setup import load_mesh_stage
    from stream.source.frames import FrameSource
    from trackers.core import TrackedPerson

    stage = load_mesh_stage(pipeline_config(), "coco17")
    bgr = next(iter(FrameSource(str(pipeline_clip.video)))).bgr
    kpts = np.stack([np.linspace(60, 100, 17), np.linspace(40, 160, 17), np.ones(17)], 1).astype(np.float32)
    people = [TrackedPerson(4, np.zeros((17, 3), np.float32), np.array([1, 2, 3, 4], np.float32), 0.0, -1, 3),
              TrackedPerson(7, kpts, np.array([60, 40, 40, 120], np.float32), 0.8, 0, 3),
              TrackedPerson(9, kpts + [150, 20, 0], np.array([210, 60, 40, 120], np.float32), 0.6, 1, 3)]
    camera = (500.0, (159.5, 119.5))
    crops = stage.crops(3, bgr, people, camera)
    rows = stage(crops)
    assert rows["track_id"].tolist() == [7, 9]
    np.testing.assert_array_equal(rows["keypoints2d"], np.stack([people[1].keypoints, people[2].keypoints]))
    np.testing.assert_array_equal(rows["bbox"], np.stack([people[1].box, people[2].box]))
    np.testing.assert_allclose(rows["score"], [0.8, 0.6], rtol=1e-6)
    with torch.inference_mode():
        out = stage.model(*(torch.as_tensor(crops[k]) for k in ("img", "joints", "joints_mask", "crop_bbox")))
    joints = (out.joint_cam + (out.mesh_cam_render - out.smpl_mesh_cam)[:, :1]).numpy()
    # depth scales with focal / crop focal; joints move with the translation
    np.testing.assert_allclose(rows["cam_trans"][:, 2], out.cam_trans[:, 2].numpy() * 500 / stage.model.config.focal,
                               rtol=1e-5)
    np.testing.assert_allclose(rows["joints3d"] - rows["cam_trans"][:, None],
                               joints - out.cam_trans.numpy()[:, None], atol=1e-5)


def test_plain_zarr_reads_the_store(reference_store, pipeline_clip):
    import zarr

    root = zarr.open_group(reference_store, mode="r")
    assert int(root.attrs["progress"]["frames_done"]) == pipeline_clip.frames
    assert sorted(int(k) for k in root["tracks"].group_keys()) == sorted(read_tracks(reference_store))


def test_live_input_from_stdin(pipeline_clip, reduced_assets, reference_store, tmp_path):
    """A video piped to stdin (MPEG-TS) gives the same people as the file (times restart at 0)."""
    ts = tmp_path / "clip.ts"
    remux_mpegts(pipeline_clip.video, ts)
    out = tmp_path / "live.zarr"
    overrides = pipeline_overrides(pipeline_clip, reduced_assets, out)[1:]
    with open(ts, "rb") as stdin:
        result = subprocess.run([sys.executable, "-m", "stream", "process", "-", *overrides, "--no-ray",
                                 "--no-progress"], stdin=stdin, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    with open_store(out) as live, open_store(reference_store) as ref:
        assert live.frames_done == ref.frames_done and live.source["kind"] == "live"
        np.testing.assert_allclose(live.frames()[0] - live.frames()[0][0], ref.frames()[0] - ref.frames()[0][0],
                                   atol=1e-3)
        np.testing.assert_array_equal(live.frames()[1], ref.frames()[1])


def test_smoothing_keeps_raw_values_and_resumes_exactly(reference_store, pipeline_config, tmp_path):
    """smoothing.enabled: raw arrays equal the unsmoothed run's, smoothed ones beside them; an interrupted
    smoothed run resumes (the filters replay the stored raw values) to the uninterrupted store."""
    cfg = pipeline_config("smoothing.enabled=true", "smoothing.min_cutoff=0.5", f"output={tmp_path / 'full.zarr'}")
    full = run_local(cfg)
    assert_same_store(reference_store, full.store)                       # raw values untouched
    with open_store(full.store) as store:
        tracks = [store.track(t) for t in store.track_ids()]
    moved = [np.abs(t.smooth_cam_trans - t.cam_trans).max() for t in tracks if len(t) > 3]
    assert moved and max(moved) > 0
    for t in tracks:
        np.testing.assert_array_equal(t.smooth_smpl_pose[0], t.smpl_pose[0])   # a track's first sample passes

    cut = pipeline_config("smoothing.enabled=true", "smoothing.min_cutoff=0.5", f"output={tmp_path / 'cut.zarr'}")
    interrupt_after(cut, 16)
    resumed = run_local(cut, resume=True)
    with open_store(full.store) as a, open_store(resumed.store) as b:
        for t in a.track_ids():
            np.testing.assert_allclose(a.track(t).smooth_smpl_pose, b.track(t).smooth_smpl_pose, atol=1e-5)
            np.testing.assert_allclose(a.track(t).smooth_cam_trans, b.track(t).smooth_cam_trans, atol=1e-5)


def test_cli_names_a_bad_input_and_exits_2(tmp_path):
    from typer.testing import CliRunner

    from stream.cli.app import app

    text = tmp_path / "notes.mp4"
    text.write_text("not a video\n")
    for path, expected in ((tmp_path / "nope.mp4", "does not exist"), (text, "could not be opened as a video")):
        result = CliRunner().invoke(app, ["process", str(path), "--no-ray"])
        assert result.exit_code == 2 and expected in result.output and str(path) in result.output
