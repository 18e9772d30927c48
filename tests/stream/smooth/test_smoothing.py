"""Online One-Euro smoothing per track (stream.smooth.online) and its arrays in the store and the exports."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import zarr

from stream.config import SmoothingConfig
from stream.export import NotSmoothedError, track_motion
from stream.export.run import export_store as export_tracks
from nets.rotations import axis_angle_to_matrix
from stream.smooth.online import SmoothingInputError, TrackSmoother
from stream.store import StoreInputError, StoreWriter, info_lines, open_store
from store_data import (CAMERA, CONFIG, FINGERPRINTS, FRAMES, SOURCE, assert_same_store, frame_people,
                        kill_when_stored)

FPS = 30.0
BASE_POSE = np.random.default_rng(7).uniform(-1.0, 1.0, size=(24, 3))   # angles < pi: one axis-angle each
BASE_TRANS = np.array([0.3, -0.1, 4.0])


def run(smoother: TrackSmoother, times, poses, trans=None, track_id: int = 1):
    """Feed one track's samples; returns smoothed poses (T, 24, 3) and translations (T, 3)."""
    trans = np.broadcast_to(BASE_TRANS, (len(times), 3)) if trans is None else trans
    out = [smoother.update(track_id, t, p, x) for t, p, x in zip(times, poses, trans)]
    return np.array([p for p, _ in out]), np.array([x for _, x in out])


def angle_between(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Rotation angle (radians) from axis-angle a to axis-angle b, elementwise over (..., 3)."""
    rel = np.swapaxes(axis_angle_to_matrix(a), -1, -2) @ axis_angle_to_matrix(b)
    return np.arccos(np.clip((np.trace(rel, axis1=-2, axis2=-1) - 1) / 2, -1.0, 1.0))


def about_z(angles) -> np.ndarray:
    """(T,) angles -> (T, 24, 3) poses: joint 0 rotated about z by the angle, the others BASE_POSE."""
    poses = np.repeat(BASE_POSE[None], len(angles), 0)
    poses[:, 0] = [0.0, 0.0, 1.0] * np.asarray(angles)[:, None]
    return poses


# -- the filter ---------------------------------------------------------------------------------------

def test_first_sample_passes_through_unchanged():
    pose = BASE_POSE.astype(np.float32)
    pose[3] = [0.0, 4.0, 0.0]   # an angle past pi stays as given
    out_pose, out_trans = TrackSmoother(beta=0.5).update(5, 2.0, pose, BASE_TRANS.astype(np.float32))
    np.testing.assert_array_equal(out_pose, pose)
    np.testing.assert_array_equal(out_trans, BASE_TRANS.astype(np.float32))


def test_a_constant_signal_is_returned():
    times = np.arange(60) / FPS
    poses, trans = run(TrackSmoother(min_cutoff=0.5, beta=1.0), times, np.repeat(BASE_POSE[None], 60, 0))
    np.testing.assert_allclose(poses, np.repeat(BASE_POSE[None], 60, 0), atol=1e-6)
    np.testing.assert_allclose(trans, np.broadcast_to(BASE_TRANS, (60, 3)), atol=1e-6)


@pytest.mark.parametrize("beta", [0.0, 0.3])
def test_jitter_on_a_still_pose_is_reduced(beta):
    """Noise of 0.02 rad per axis (0.01 m) at 30 fps, min_cutoff 1 Hz: the std of the frame-to-frame angle
    (and translation step) drops by more than 5 (measured: 7.8 and 8.0 with beta 0, 7.2 and 7.8 with 0.3)."""
    factor = 5.0
    rng = np.random.default_rng(0)
    times = np.arange(300) / FPS
    noisy = BASE_POSE + rng.normal(scale=0.02, size=(300, 24, 3))
    trans_noisy = BASE_TRANS + rng.normal(scale=0.01, size=(300, 3))
    poses, trans = run(TrackSmoother(min_cutoff=1.0, beta=beta), times, noisy, trans_noisy)
    raw_steps, smooth_steps = angle_between(noisy[:-1], noisy[1:]), angle_between(poses[:-1], poses[1:])
    assert smooth_steps[30:].std() * factor < raw_steps[30:].std()
    assert np.diff(trans, axis=0)[30:].std() * factor < np.diff(trans_noisy, axis=0)[30:].std()
    assert angle_between(poses[30:], BASE_POSE).mean() < angle_between(noisy[30:], BASE_POSE).mean() / 2


def test_beta_reduces_the_lag_on_a_fast_ramp():
    """Joint 0 turns at 4 rad/s and the body moves at 2 m/s: with beta > 0 the output follows closer."""
    times = np.arange(20) / FPS
    poses, trans = about_z(4.0 * times), BASE_TRANS + np.outer(2.0 * times, [1.0, 0.0, 0.0])
    lags = {}
    for beta in (0.0, 1.0):
        out_pose, out_trans = run(TrackSmoother(min_cutoff=1.0, beta=beta), times, poses, trans)
        lags[beta] = (angle_between(out_pose[10:, 0], poses[10:, 0]).mean(),
                      np.linalg.norm(out_trans[10:] - trans[10:], axis=-1).mean())
    assert lags[1.0][0] < 0.5 * lags[0.0][0] and lags[1.0][1] < 0.5 * lags[0.0][1]


def test_equivalent_axis_angles_and_the_pi_crossing_make_no_jump():
    """A rotation turning through pi (its axis-angle flips there), given half the time as the other
    axis-angle of the same rotation (angle - 2 pi: the quaternion's sign flips): same output, no jump."""
    times = np.arange(40) / FPS
    angles = np.linspace(2.6, 3.8, 40)
    natural = about_z(np.where(angles > np.pi, angles - 2 * np.pi, angles))
    flipped = natural.copy()
    flipped[::2, 0] = [0.0, 0.0, 1.0] * (angles[::2, None] - 2 * np.pi)
    out_a, _ = run(TrackSmoother(min_cutoff=1.0, beta=0.5), times, natural)
    out_b, _ = run(TrackSmoother(min_cutoff=1.0, beta=0.5), times, flipped)
    np.testing.assert_allclose(axis_angle_to_matrix(out_a), axis_angle_to_matrix(out_b), atol=1e-6)
    steps = angle_between(out_b[:-1, 0], out_b[1:, 0])
    assert steps.max() < 1.5 * (angles[1] - angles[0])


def test_frame_times_set_the_filter_not_the_frame_count():
    """A step in translation sampled at 30 fps, at 60 fps and at irregular times (11 to 33 ms apart): at
    every sample the response is 1 - exp(-2 pi fc (t - t0)) of the time since the step, within 0.045
    (measured: 0.036, 0.018, 0.027), however it was sampled. Counting frames instead of seconds would put
    the 60 fps response at t = 0.3 s near 0.02 instead of 0.85."""
    rng = np.random.default_rng(3)
    for times in (np.arange(0, 0.6, 1 / 30), np.arange(0, 0.6, 1 / 60), np.cumsum(rng.uniform(1 / 90, 1 / 30, 30))):
        trans = np.zeros((len(times), 3))
        trans[1:, 0] = 1.0
        _, out = run(TrackSmoother(min_cutoff=1.0, beta=0.0), times, np.repeat(BASE_POSE[None], len(times), 0),
                     trans)
        expected = 1 - np.exp(-2 * np.pi * (times[1:] - times[0]))
        np.testing.assert_allclose(out[1:, 0], expected, atol=0.045)


def test_tracks_are_filtered_independently():
    rng = np.random.default_rng(1)
    times = np.arange(30) / FPS
    a, b = BASE_POSE + rng.normal(scale=0.05, size=(2, 30, 24, 3))
    together = TrackSmoother(beta=0.5)
    outs = [together.smooth_frame(t, {"track_id": np.array([1, 2]), "smpl_pose": np.stack([a[n], b[n]]),
                                      "cam_trans": np.stack([BASE_TRANS, -BASE_TRANS])}) for n, t in enumerate(times)]
    alone_a, _ = run(TrackSmoother(beta=0.5), times, a, track_id=1)
    alone_b, _ = run(TrackSmoother(beta=0.5), times, b, np.broadcast_to(-BASE_TRANS, (30, 3)), track_id=2)
    np.testing.assert_array_equal(np.array([o["smooth_smpl_pose"][0] for o in outs]), alone_a)
    np.testing.assert_array_equal(np.array([o["smooth_smpl_pose"][1] for o in outs]), alone_b)
    assert outs[0]["smpl_pose"] is not None and len(together) == 2


def test_a_track_back_after_a_gap_restarts_and_stale_tracks_are_forgotten():
    smoother = TrackSmoother(min_cutoff=1.0, max_gap_s=0.5)
    smoother.update(1, 0.0, BASE_POSE, BASE_TRANS)
    moved = BASE_TRANS + 1.0
    _, near = smoother.update(1, 0.2, BASE_POSE, moved)                # within the gap: filtered
    assert np.abs(near - moved).max() > 0.1
    _, later = smoother.update(1, 1.0, BASE_POSE, moved + 1.0)         # 0.8 s later: passes through
    np.testing.assert_array_equal(later, (moved + 1.0).astype(np.float32))
    smoother.update(2, 1.0, BASE_POSE, BASE_TRANS)
    smoother.update(3, 1.6, BASE_POSE, BASE_TRANS)                     # tracks 1 and 2 not seen for 0.6 s
    assert len(smoother) == 1


def test_from_config_and_bad_input():
    smoother = TrackSmoother.from_config(SmoothingConfig(enabled=True, min_cutoff=2.0, beta=0.1, d_cutoff=1.5))
    assert (smoother.min_cutoff, smoother.beta, smoother.d_cutoff) == (2.0, 0.1, 1.5)
    with pytest.raises(SmoothingInputError, match="min_cutoff"):
        TrackSmoother(min_cutoff=0.0)
    with pytest.raises(SmoothingInputError, match=r"\(P, 24, 3\)"):
        smoother.smooth_frame(0.0, {"track_id": [1], "smpl_pose": np.zeros((1, 23, 3)), "cam_trans": np.zeros((1, 3))})


# -- the store ----------------------------------------------------------------------------------------

def smoother() -> TrackSmoother:
    return TrackSmoother(min_cutoff=1.0, beta=0.3, d_cutoff=1.0)


def create_smoothed(path, **kwargs) -> StoreWriter:
    options = {"flush_frames": 8, "chunk_frames": 16, **kwargs}
    return StoreWriter.create(path, source=SOURCE, camera=CAMERA, joint_set="coco17", config=CONFIG,
                              fingerprints=FINGERPRINTS, smoothing=smoother().describe(), **options)


def write_smoothed(path, frames=range(FRAMES), writer=None, filt=None, finish=True) -> tuple[Path, dict]:
    """The test_store crowd through a smoother into a smoothed store; returns the path and what was given."""
    filt = filt or smoother()
    given = {}
    with (writer or create_smoothed(path)) as w:
        for t in frames:
            people = filt.smooth_frame(t / 25.0, frame_people(t))
            w.add_frame(t, t / 25.0, people)
            for i, track_id in enumerate(people["track_id"].tolist()):
                given.setdefault(track_id, []).append({k: v[i] for k, v in people.items()})
        if finish:
            w.finish()
    return Path(path), given


@pytest.fixture(scope="module")
def smoothed_reference(tmp_path_factory) -> Path:
    return write_smoothed(tmp_path_factory.mktemp("smoothed") / "ref.zarr")[0]


def test_store_keeps_raw_and_smoothed_values(tmp_path):
    path, given = write_smoothed(tmp_path / "out.zarr")
    store = open_store(path)
    assert store.smoothed and store.attrs["smoothing"] == smoother().describe()
    for track in store:
        rows = given[track.track_id]
        for name in ("smpl_pose", "cam_trans", "smooth_smpl_pose", "smooth_cam_trans"):
            value = getattr(track, name)
            assert value.dtype == np.float32, name
            want = np.array([r[name] for r in rows], np.float32).reshape(value.shape)
            np.testing.assert_array_equal(value, want, err_msg=name)
        assert not np.array_equal(track.smooth_smpl_pose[1:], track.smpl_pose[1:])
    arrays = zarr.open_group(path, mode="r")["tracks/0"]
    assert arrays["smooth_smpl_pose"].shape[1:] == (24, 3) and arrays["smooth_cam_trans"].shape[1:] == (3,)
    assert any("one_euro" in line for line in info_lines(store))


def test_a_store_without_smoothing_has_no_smoothed_arrays(tmp_path):
    path = tmp_path / "raw.zarr"
    with StoreWriter.create(path, source=SOURCE, camera=CAMERA, joint_set="coco17", config=CONFIG,
                            fingerprints=FINGERPRINTS) as writer:
        writer.add_frame(0, 0.0, frame_people(0))
        with pytest.raises(StoreInputError, match="without smoothing"):
            writer.add_frame(1, 0.04, smoother().smooth_frame(0.04, frame_people(1)))
    store = open_store(path)
    track = next(iter(store))
    assert not store.smoothed and track.smooth_smpl_pose is None and track.smooth_cam_trans is None
    assert "smooth_smpl_pose" not in zarr.open_group(path, mode="r")[f"tracks/{track.track_id}"]
    assert any("off (no online-smoothed" in line for line in info_lines(store))


def test_a_smoothed_store_requires_the_smoothed_values(tmp_path):
    with create_smoothed(tmp_path / "out.zarr") as writer, pytest.raises(StoreInputError, match="smooth_cam_trans"):
        writer.add_frame(0, 0.0, frame_people(0))


CHILD = """
import importlib.util, sys, time
sys.path.insert(0, sys.argv[3])
spec = importlib.util.spec_from_file_location("smoothing_test", sys.argv[1])
test = importlib.util.module_from_spec(spec)
spec.loader.exec_module(test)
writer = test.create_smoothed(sys.argv[2], flush_frames=5)
filt = test.smoother()
print("started", flush=True)
for t in range(test.FRAMES):
    writer.add_frame(t, t / 25.0, filt.smooth_frame(t / 25.0, test.frame_people(t)))
    time.sleep(0.01)
print("not killed", flush=True)
"""


def test_resume_after_killing_a_smoothing_writer_equals_an_uninterrupted_run(tmp_path, smoothed_reference):
    """The killed run's filter state is rebuilt by ``replay`` from the store's raw values."""
    path = tmp_path / "out.zarr"
    here = Path(__file__).resolve()
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(here), str(path), str(here.parents[1] / "store")],
                             stdout=subprocess.PIPE, text=True, cwd=here.parents[3])
    kill_when_stored(child, path, 24)
    writer = StoreWriter.resume(path, config=CONFIG, fingerprints=FINGERPRINTS, flush_frames=8)
    assert 24 <= writer.frames_done < FRAMES
    filt = smoother()
    filt.replay(open_store(path))
    write_smoothed(path, range(writer.frames_done, FRAMES), writer=writer, filt=filt)
    assert_same_store(path, smoothed_reference)


@pytest.mark.parametrize("done", [1, 37, 64])
def test_replay_rebuilds_the_filter_state(tmp_path, smoothed_reference, done):
    """Stopping at any frame, replaying and continuing gives the uninterrupted smoothed values bit for bit."""
    path, _ = write_smoothed(tmp_path / "out.zarr", range(done), finish=False)
    writer = StoreWriter.resume(path, config=CONFIG, fingerprints=FINGERPRINTS, flush_frames=8)
    filt = smoother()
    filt.replay(open_store(path))
    write_smoothed(path, range(done, FRAMES), writer=writer, filt=filt)
    assert_same_store(path, smoothed_reference)


# -- export -------------------------------------------------------------------------------------------

def test_export_uses_the_smoothed_values(export_body, smoothed_reference, tmp_path):
    store = open_store(smoothed_reference)
    raw, smooth, auto = (track_motion(store, 0, export_body, values=v) for v in ("raw", "online", "auto"))
    track = store.track(0)
    np.testing.assert_array_equal(raw.poses, track.smpl_pose.astype(np.float64))
    np.testing.assert_array_equal(smooth.poses, track.smooth_smpl_pose.astype(np.float64))
    assert not np.allclose(raw.trans, smooth.trans)
    np.testing.assert_array_equal(auto.poses, smooth.poses)          # no offline values: the online ones


def test_export_smoothed_from_a_store_without_smoothing(export_body, export_store, tmp_path):
    with pytest.raises(NotSmoothedError, match="no smoothed values"):
        export_tracks(export_store, export_body, "bvh", tmp_path / "bvh", values="smoothed")
