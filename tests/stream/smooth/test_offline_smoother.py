"""Offline smoothing of one track (stream.smooth.offline.smooth_track): exact on constant, constant-velocity and
constant-acceleration motion, less noise, gaps filled or split, one body shape."""
from __future__ import annotations

import numpy as np
import pytest

from nets.rotations import axis_angle_to_matrix, axis_angle_to_quaternion, quaternion_multiply, quaternion_to_axis_angle
from stream.config import SmoothingConfig
from stream.smooth.offline import OfflineSmoothingError, smooth_track

FPS = 30.0
CONFIG = SmoothingConfig(offline_extend_s=0.0)   # offline_sigma_s 0.0525, offline_max_gap_s 1.0; ends not extended
RNG = np.random.default_rng(7)
BASE_POSE = RNG.uniform(-1.0, 1.0, size=(24, 3))  # angles < pi
BASE_TRANS = np.array([0.3, -0.1, 4.0])
OMEGA = RNG.uniform(-4.0, 4.0, size=(24, 3))      # rad/s per axis: up to 7 rad/s, a fast limb


def smooth(frames, pose, trans=None, betas=None, config=CONFIG):
    frames = np.asarray(frames)
    trans = np.broadcast_to(BASE_TRANS, (len(frames), 3)) if trans is None else trans
    betas = np.zeros((len(frames), 10)) if betas is None else betas
    return smooth_track(frames, pose, trans, betas, fps=FPS, config=config)


def turning(frames, world: bool = False) -> np.ndarray:
    """(T, 24, 3) poses: BASE_POSE turning at the constant angular velocity OMEGA (in the joint's own frame, or
    in the parent's with ``world``), sampled at ``frames``."""
    step = axis_angle_to_quaternion(OMEGA * (np.asarray(frames)[:, None, None] / FPS))
    base = axis_angle_to_quaternion(BASE_POSE)[None]
    return quaternion_to_axis_angle(quaternion_multiply(step, base) if world else quaternion_multiply(base, step))


def angle_between(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Rotation angle (radians) between axis-angles a and b, elementwise over (..., 3)."""
    rel = np.swapaxes(axis_angle_to_matrix(a), -1, -2) @ axis_angle_to_matrix(b)
    return np.arccos(np.clip((np.trace(rel, axis1=-2, axis2=-1) - 1) / 2, -1.0, 1.0))


def test_a_constant_track_comes_back_exactly_filled_frames_too():
    frames = np.r_[0:10, 15:25]
    pose = np.repeat(BASE_POSE[None].astype(np.float32), len(frames), 0)
    trans = np.repeat(BASE_TRANS[None].astype(np.float32), len(frames), 0)
    out = smooth(frames, pose, trans)
    np.testing.assert_array_equal(out["frame"], np.arange(25))
    np.testing.assert_array_equal(out["smpl_pose"], np.repeat(pose[:1], 25, 0))
    np.testing.assert_array_equal(out["cam_trans"], np.repeat(trans[:1], 25, 0))
    assert out["smpl_pose"].dtype == np.float32 and out["frame"].dtype == np.int32


@pytest.mark.parametrize("world", [False, True])
def test_constant_angular_velocity_and_linear_translation_pass_unchanged(world):
    """Every frame, the first and last included, and the frames filled in a gap of 6 (the slerp of a constant
    angular velocity is on it): within 2e-6 rad and 1e-6 m (float32 rounding)."""
    frames = np.r_[0:20, 26:60]
    dense = np.arange(60)
    trans = BASE_TRANS + np.outer(dense / FPS, [1.5, -0.5, 2.0])      # m/s
    out = smooth(frames, turning(frames, world), trans[frames])
    np.testing.assert_array_equal(out["frame"], dense)
    assert angle_between(out["smpl_pose"], turning(dense, world)).max() < 2e-6
    np.testing.assert_allclose(out["cam_trans"], trans, atol=1e-6)


def test_constant_acceleration_passes_unchanged():
    """A translation at constant acceleration and a joint whose angle about one axis grows quadratically (the
    local parabola fits both exactly): every frame, the first and last included, within float32 rounding."""
    frames = np.arange(60)
    t = frames / FPS
    trans = BASE_TRANS + np.outer(t, [1.5, -0.5, 2.0]) + np.outer(t ** 2, [2.0, 1.0, -3.0])     # m/s, m/s^2 / 2
    axis = np.array([0.6, 0.0, 0.8])
    pose = np.repeat(BASE_POSE[None], len(frames), 0)
    pose[:, 5] = axis * (-1.0 + 0.5 * t + 1.5 * t ** 2)[:, None]          # -1 rad to 1.6 rad, up to 6.5 rad/s
    out = smooth(frames, pose, trans)
    assert angle_between(out["smpl_pose"], pose).max() < 2e-6
    np.testing.assert_allclose(out["cam_trans"], trans, atol=2e-6)


def noisy_track(frames, rng):
    """Truth and noisy samples: four joints turning, the others still, 0.05 rad of white noise per axis; the
    body moving at constant speed with 1 cm of noise per axis."""
    truth_pose = np.repeat(BASE_POSE[None], len(frames), 0)
    truth_pose[:, :4] = turning(frames)[:, :4]
    truth_trans = BASE_TRANS + np.outer(frames / FPS, [1.0, 0.0, 0.5])
    noise = axis_angle_to_quaternion(rng.normal(0, 0.05, (len(frames), 24, 3)))
    noisy_pose = quaternion_to_axis_angle(quaternion_multiply(axis_angle_to_quaternion(truth_pose), noise))
    return truth_pose, truth_trans, noisy_pose, truth_trans + rng.normal(0, 0.01, (len(frames), 3))


def squared_errors(frames, rng) -> np.ndarray:
    """(4, T): squared rotation error (mean over joints) and translation error, raw then smoothed."""
    truth_pose, truth_trans, noisy_pose, noisy_trans = noisy_track(frames, rng)
    out = smooth(frames, noisy_pose, noisy_trans)
    return np.stack([(angle_between(noisy_pose, truth_pose) ** 2).mean(-1),
                     (angle_between(out["smpl_pose"], truth_pose) ** 2).mean(-1),
                     ((noisy_trans - truth_trans) ** 2).sum(-1), ((out["cam_trans"] - truth_trans) ** 2).sum(-1)])


def test_noise_variance_drops_as_the_kernel_predicts():
    """Inside a track the squared error to the truth drops by 90 % of the factor the kernel predicts or more, for
    rotations and translation: white noise of variance s^2 leaves s^2 * 27 / (32 sqrt(pi) sigma fps) (the module
    docstring), a drop of 3.3 at 0.0525 s and 30 fps (measured 3.2 and 3.3)."""
    predicted = 32 * np.sqrt(np.pi) * CONFIG.offline_sigma_s * FPS / 27
    raw_rot, out_rot, raw_x, out_x = squared_errors(np.arange(600), np.random.default_rng(0))[:, 10:-10].mean(-1)
    assert raw_rot > 0.9 * predicted * out_rot and raw_x > 0.9 * predicted * out_x


def test_noise_variance_drops_at_the_track_ends_too():
    """On the first and last 3 frames of 200 tracks of 20 frames, the squared error drops by more than 1.5
    (measured 1.9 and 1.9): the local parabola keeps the ends unbiased and still averages."""
    rng = np.random.default_rng(1)
    errors = np.mean([squared_errors(np.arange(20), rng)[:, np.r_[0:3, 17:20]].mean(-1) for _ in range(200)], 0)
    raw_rot, out_rot, raw_x, out_x = errors
    assert raw_rot > 1.5 * out_rot and raw_x > 1.5 * out_x


def test_fast_motion_keeps_most_of_its_amplitude_without_lag():
    """A joint swinging +-1 rad at 2 Hz (a kick) comes back as 98 % of the same wave, at 3 Hz (a clap) as 92 %
    ((1 + u) exp(-u), u = 2 pi^2 sigma^2 f^2: 98 % and 91 %), in phase (within 0.01 rad of the scaled wave)."""
    frames = np.arange(150)
    for hz, kept in ((2.0, 0.95), (3.0, 0.88)):
        pose = np.repeat(BASE_POSE[None], 150, 0)
        wave = np.sin(2 * np.pi * hz * frames / FPS)
        pose[:, 18] = [0.0, 0.0, 1.0] * wave[:, None]
        out = smooth(frames, pose)["smpl_pose"][:, 18, 2].astype(np.float64)[10:-10]
        gain = out @ wave[10:-10] / (wave[10:-10] @ wave[10:-10])
        assert kept < gain < 1.0
        np.testing.assert_allclose(out, gain * wave[10:-10], atol=0.01)


def test_gaps_are_filled_and_flagged_and_a_long_gap_splits_the_track():
    """Sightings 1 s apart (30 frames at 30 fps) are one segment; 31 frames apart, two, smoothed apart."""
    frames = np.r_[0:10, 39:49, 80:90]
    out = smooth(frames, turning(frames))
    np.testing.assert_array_equal(out["frame"], np.r_[0:49, 80:90])
    np.testing.assert_array_equal(out["observed"], np.isin(out["frame"], frames))
    assert (~out["observed"]).sum() == 29
    moved = turning(frames)
    moved[20:] += 0.3                                                 # the last segment only
    other = smooth(frames, moved)
    np.testing.assert_array_equal(other["smpl_pose"][:49], out["smpl_pose"][:49])
    assert not np.allclose(other["smpl_pose"][49:], out["smpl_pose"][49:])


def test_max_gap_zero_splits_at_every_gap_and_sigma_zero_only_fills():
    frames = np.r_[0:5, 8:12]
    pose = RNG.normal(0, 0.5, (9, 24, 3)).astype(np.float32)
    split = smooth(frames, pose, config=SmoothingConfig(offline_max_gap_s=0.0, offline_extend_s=0.0))
    np.testing.assert_array_equal(split["frame"], frames)
    filled = smooth(frames, pose, config=SmoothingConfig(offline_sigma_s=0.0, offline_extend_s=0.0))
    np.testing.assert_array_equal(filled["frame"], np.arange(12))
    assert angle_between(filled["smpl_pose"][filled["observed"]], pose).max() < 1e-6   # sightings as given


def test_segment_ends_are_extended_within_the_video_at_their_velocity():
    """0.1 s at 30 fps = 3 frames before and after each segment, not before frame 0 nor past ``last_frame``;
    constant (angular) velocity goes on exactly, the new frames are not observed."""
    frames = np.r_[1:20, 60:75]
    velocity = np.array([0.01, -0.02, 0.03])
    trans = BASE_TRANS + velocity * frames[:, None]
    pose = turning(frames)
    config = SmoothingConfig(offline_extend_s=0.1)
    out = smooth_track(frames, pose, trans, np.zeros((len(frames), 10)), fps=FPS, config=config, last_frame=76)
    np.testing.assert_array_equal(out["frame"], np.r_[0:23, 57:77])
    np.testing.assert_array_equal(out["observed"], np.isin(out["frame"], frames))
    np.testing.assert_allclose(out["cam_trans"], BASE_TRANS + velocity * out["frame"][:, None], atol=1e-5)
    assert angle_between(out["smpl_pose"], turning(out["frame"])).max() < 1e-5
    unbounded = smooth_track(frames, pose, trans, np.zeros((len(frames), 10)), fps=FPS, config=config)
    assert unbounded["frame"][-1] == 77
    same = smooth(frames, pose, trans)                                   # extend 0: the sightings' span only
    np.testing.assert_array_equal(out["smpl_pose"][out["frame"] == 5], same["smpl_pose"][same["frame"] == 5])


def test_extension_does_not_run_into_the_previous_segment():
    frames = np.r_[0:5, 8:12]
    config = SmoothingConfig(offline_max_gap_s=0.0, offline_extend_s=0.1)
    out = smooth_track(frames, turning(frames), np.zeros((9, 3)), np.zeros((9, 10)), fps=FPS, config=config)
    np.testing.assert_array_equal(out["frame"], np.r_[0:15])
    single = smooth_track([4], turning([4]), [BASE_TRANS], np.zeros((1, 10)), fps=FPS, config=config)
    np.testing.assert_array_equal(single["frame"], np.r_[1:8])            # one sighting: held both ways
    assert angle_between(single["smpl_pose"], np.repeat(turning([4]), 7, 0)).max() < 1e-6
    np.testing.assert_allclose(single["cam_trans"], np.broadcast_to(BASE_TRANS, (7, 3)), atol=1e-6)


@pytest.mark.parametrize("frames", [np.array([7]), np.array([3, 4]), np.array([0, 1, 2, 60])])
def test_single_frames_and_short_tracks(frames):
    pose = RNG.normal(0, 0.5, (len(frames), 24, 3))
    trans = RNG.normal(0, 1.0, (len(frames), 3))
    out = smooth(frames, pose, trans)
    np.testing.assert_array_equal(out["frame"], frames)              # nothing to fill: 60 is a new segment
    last = out["smpl_pose"][-1:], out["cam_trans"][-1:]
    assert angle_between(last[0], pose[-1:]).max() < 1e-6 and np.abs(last[1] - trans[-1:]).max() < 1e-6
    if len(frames) == 2:                                              # a line through two samples: both kept
        assert angle_between(out["smpl_pose"], pose).max() < 1e-5


def test_one_robust_body_shape_per_track():
    frames = np.r_[0:20, 100:110]
    betas = RNG.normal(0, 0.1, (30, 10)) + np.arange(10)
    betas[5] = 100.0                                                  # a wild frame
    out = smooth(frames, turning(frames), betas=betas)
    assert np.ptp(out["smpl_betas"], axis=0).max() == 0.0 and len(out["smpl_betas"]) == len(out["frame"])
    np.testing.assert_allclose(out["smpl_betas"][0], np.median(betas, axis=0), atol=1e-6)
    assert np.abs(out["smpl_betas"][0] - np.arange(10)).max() < 0.1


def test_rotations_through_pi_and_flipped_axis_angles():
    """A joint turning through pi at constant speed, every other frame given as the other axis-angle of the
    same rotation (angle - 2 pi, its quaternion's sign flipped): unchanged, the same as the plain input."""
    frames = np.arange(40)
    angles = np.linspace(2.6, 3.8, 40)
    natural = np.repeat(BASE_POSE[None], 40, 0)
    natural[:, 0] = [0.0, 0.0, 1.0] * np.where(angles > np.pi, angles - 2 * np.pi, angles)[:, None]
    flipped = natural.copy()
    flipped[::2, 0] = [0.0, 0.0, 1.0] * (angles[::2, None] - 2 * np.pi)
    out_a, out_b = smooth(frames, natural)["smpl_pose"], smooth(frames, flipped)["smpl_pose"]
    assert angle_between(out_a, natural).max() < 2e-6 and angle_between(out_b, natural).max() < 2e-6


@pytest.mark.parametrize("frames, pose, fps, match", [
    (np.array([0, 2, 1]), np.zeros((3, 24, 3)), FPS, "strictly increasing"),
    (np.arange(3), np.zeros((3, 23, 3)), FPS, r"\(T, 24, 3\)"),
    (np.arange(3), np.full((3, 24, 3), np.nan), FPS, "NaN"),
    (np.arange(3), np.zeros((3, 24, 3)), 0.0, "fps = 0.0"),
])
def test_bad_input(frames, pose, fps, match):
    with pytest.raises(OfflineSmoothingError, match=match):
        smooth_track(frames, pose, np.zeros((3, 3)), np.zeros((3, 10)), fps=fps, config=CONFIG)
