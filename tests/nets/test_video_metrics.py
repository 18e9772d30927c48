"""nets.metrics on sequences: recall of visible person-frames, acceleration error, jitter, speeds, lag."""
import numpy as np
import pytest

from nets.metrics import (acceleration_error, betas_spread, consecutive_runs, depth_jitter, greedy_match,
                          joint_speeds, lag_frames, match_people_2d, match_poses_2d, peak_speed_ratio, recall_counts,
                          second_differences)


def walk(frames=60, joints=5, seed=0):
    """(T, J, 3) smooth joint paths in metres."""
    t = np.arange(frames)[:, None, None]
    phase = np.random.default_rng(seed).uniform(0, 2 * np.pi, (1, joints, 3))
    return 0.3 * np.sin(2 * np.pi * t / 30 + phase) + 0.01 * t


def test_acceleration_error_is_zero_for_identical_sequences_and_rigid_shifts():
    x = walk()
    assert np.all(acceleration_error(x, x) == 0) and len(acceleration_error(x, x)) == 58
    shifted = x + np.arange(60)[:, None, None] * np.array([0.1, 0, 0])    # moving at constant velocity
    np.testing.assert_allclose(acceleration_error(shifted, x), 0, atol=1e-12)


def test_acceleration_error_known_value():
    gt = np.zeros((5, 2, 3))
    pred = gt.copy()
    pred[2, :, 2] = 0.006                     # one frame 6 mm off in depth: accel -6, 12, -6 mm around it
    err = acceleration_error(pred, gt)
    np.testing.assert_allclose(err, [0.006, 0.012, 0.006])
    np.testing.assert_allclose(acceleration_error(pred, gt, root=0), 0)   # the whole body moved: root-aligned 0


def test_differences_only_across_consecutive_frames():
    x = np.array([0.0, 1.0, 4.0, 9.0, 100.0, 200.0, 300.0])
    frames = np.array([0, 1, 2, 3, 7, 8, 9])
    np.testing.assert_allclose(second_differences(x, frames), [2.0, 2.0, 0.0])   # t = 1, 2 and 8
    np.testing.assert_allclose(depth_jitter(-x, frames), [2.0, 2.0, 0.0])
    speeds = joint_speeds(np.stack([x, 0 * x, 0 * x], axis=-1)[:, None], frames)
    np.testing.assert_allclose(speeds[:, 0], [1, 3, 5, 100, 100])
    assert len(acceleration_error(np.zeros((2, 1, 3)), np.zeros((2, 1, 3)))) == 0
    assert [(s.start, s.stop) for s in consecutive_runs(frames)] == [(0, 4), (4, 7)]


def test_peak_speed_ratio_and_betas_spread():
    gt = np.linspace(0, 1, 101)
    assert peak_speed_ratio(0.5 * gt, gt) == pytest.approx(0.5)
    assert peak_speed_ratio(gt, gt, q=100) == 1.0
    spiky = gt + 10.0 * (gt < 0.5)           # noise spikes where the truth is slow do not count
    assert peak_speed_ratio(spiky, gt) == 1.0
    with pytest.raises(ValueError, match="pair up"):
        peak_speed_ratio(gt[:-1], gt)
    constant = np.ones((10, 10))
    steps = np.repeat([[0.0], [2.0]], 5, axis=0) * np.ones((1, 10))   # std 1 in every component
    assert betas_spread([constant, steps, np.zeros((1, 10))]) == pytest.approx(0.5)   # 1-row tracks left out
    assert np.isnan(betas_spread([np.zeros((1, 10))]))


@pytest.mark.parametrize("delay", [0, 2, 3, -1])
def test_lag_frames_finds_a_delay(delay):
    gt = walk(200)
    pred = np.roll(gt, delay, axis=0)[10:-10]
    noisy = pred + np.random.default_rng(1).normal(0, 0.05, pred.shape)
    assert lag_frames([(pred, gt[10:-10])]) == pytest.approx(delay, abs=0.02)
    assert lag_frames([(noisy, gt[10:-10])]) == pytest.approx(delay, abs=0.3)
    assert np.isnan(lag_frames([(np.zeros((20, 3)), np.zeros((20, 3)))]))


def test_greedy_match_is_one_to_one_and_thresholded():
    dist = np.array([[1.0, 0.5], [0.2, 3.0], [0.1, 9.0]])
    assert greedy_match(dist, 2.0).tolist() == [1, -1, 0]
    assert greedy_match(dist, 0.15).tolist() == [-1, -1, 0]
    assert greedy_match(np.zeros((2, 0)), 1.0).tolist() == [-1, -1]
    gt = np.zeros((1, 17, 2))
    assert match_people_2d(np.full((1, 17, 2), 30.0), gt).tolist() == [-1]     # 42 px apart, threshold 40
    assert match_people_2d(np.full((1, 17, 2), 20.0), gt).tolist() == [0]


def test_match_poses_2d_scales_with_the_person_and_counts_shared_joints():
    gt = np.zeros((2, 4, 3))
    gt[:, :, 2] = 1
    gt[0, :, 0], gt[1, :, 0] = 0.0, 100.0
    pred = gt[::-1].copy()
    pred[:, :, 0] += 8.0                        # 8 px off
    pred[1, 3] = (500.0, 500.0, 0.0)            # an unscored joint does not count
    assert match_poses_2d(pred, gt, np.array([40.0, 40.0])).tolist() == [1, 0]   # 8 / 40 < 0.25
    assert match_poses_2d(pred, gt, np.array([20.0, 40.0])).tolist() == [-1, 0]  # 8 / 20 >= 0.25
    hidden = gt.copy()
    hidden[0, :, 2] = 0                         # nothing visible in common: no match
    assert match_poses_2d(pred, hidden, np.array([40.0, 40.0])).tolist() == [-1, 0]


def test_recall_counts_visible_pairs_once():
    visible = np.array([[True, True, False], [True, False, False]])
    found = [(0, 0), (0, 0), (0, 2), (1, 0), (1, 1), (5, 0), (0, 7)]   # repeats, a hidden pair, out of range
    assert recall_counts(found, visible) == (2, 3)
    assert recall_counts([], visible) == (0, 3)
