"""Bad detections and bad settings stop with a ValueError that says what was received and expected."""
from __future__ import annotations

import numpy as np
import pytest

from nets.joints import joint_names
from trackers import PoseTracker, TrackerConfig, TrackerInputError


@pytest.fixture
def tracker(make_frame):
    tracker = PoseTracker()
    tracker.update(*make_frame([(100, 50, 120), (300, 50, 120)]))
    return tracker


def test_nan_keypoints(tracker, make_frame):
    kpts, boxes, scores = make_frame([(100, 50, 120), (300, 50, 120)])
    kpts[1, 4, 0] = np.nan
    with pytest.raises(TrackerInputError, match=r"keypoints: person 1 has NaN or inf"):
        tracker.update(kpts, boxes, scores)


def test_inf_box(tracker, make_frame):
    kpts, boxes, scores = make_frame([(100, 50, 120)])
    boxes[0, 2] = np.inf
    with pytest.raises(ValueError, match=r"boxes: person 0 has NaN or inf"):
        tracker.update(kpts, boxes, scores)


def test_keypoints_without_scores(tracker, make_frame):
    kpts, boxes, scores = make_frame([(100, 50, 120)])
    with pytest.raises(ValueError, match=r"expected shape \(N, K, 3\).*got \(1, 17, 2\)"):
        tracker.update(kpts[:, :, :2], boxes, scores)


def test_boxes_of_wrong_width(tracker, make_frame):
    kpts, boxes, scores = make_frame([(100, 50, 120)])
    with pytest.raises(ValueError, match=r"boxes: expected shape \(1, 4\).*got \(1, 3\)"):
        tracker.update(kpts, boxes[:, :3], scores)


def test_mismatched_people_counts(tracker, make_frame):
    kpts, boxes, scores = make_frame([(100, 50, 120), (300, 50, 120)])
    with pytest.raises(ValueError, match=r"scores: expected shape \(2,\).*got \(1,\)"):
        tracker.update(kpts, boxes, scores[:1])


def test_joint_count_changes(tracker, make_frame):
    kpts, boxes, scores = make_frame([(100, 50, 120)])
    with pytest.raises(ValueError, match=r"K=14 joints.*first frame had K=17"):
        tracker.update(kpts[:, :14], boxes, scores)


def test_negative_box_size(tracker, make_frame):
    kpts, boxes, scores = make_frame([(100, 50, 120)])
    boxes[0, 3] = -5
    with pytest.raises(ValueError, match=r"negative size"):
        tracker.update(kpts, boxes, scores)


def test_non_numeric_keypoints(tracker):
    with pytest.raises(ValueError, match=r"keypoints: expected a numeric array"):
        tracker.update(np.array([["a", "b", "c"]]), np.zeros((1, 4)), np.zeros(1))


def test_frame_index_goes_backwards(tracker, make_frame):
    with pytest.raises(ValueError, match=r"frame_index: got 0, expected more than the previous frame 0"):
        tracker.update(*make_frame([(100, 50, 120)]), frame_index=0)


def test_joint_names_do_not_fit(make_frame):
    with pytest.raises(ValueError, match=r"K=17 joints per person, but 14 joint names were given \(L_Shoulder, "):
        PoseTracker(joint_names=joint_names("crowdpose14")).update(*make_frame([(100, 50, 120)]))


def test_joint_set_name_instead_of_names():
    with pytest.raises(TypeError, match=r"joint_names: expected the names \(str\) of the K keypoints in order, "
                                        r"got 'coco17'"):
        PoseTracker(joint_names="coco17")


def test_a_bad_input_changes_nothing(tracker, make_frame):
    kpts, boxes, scores = make_frame([(100, 50, 120), (300, 50, 120)])
    bad = kpts.copy()
    bad[0, 0, 0] = np.nan
    with pytest.raises(ValueError):
        tracker.update(bad, boxes, scores)
    assert tracker.frame_index == 0
    tracker.update(kpts, boxes, scores)
    assert [p.track_id for p in tracker.update(kpts, boxes, scores)] == [1, 2]


def test_config_birth_delay_must_be_below_hit_counter_max():
    with pytest.raises(ValueError, match=r"TrackerConfig.hit_counter_max = 5: expected an int > birth_delay \(6\)"):
        TrackerConfig(birth_delay=6, hit_counter_max=5)


def test_config_unknown_kalman_filter():
    with pytest.raises(ValueError, match=r"TrackerConfig.kalman = 'ekf': expected one of"):
        TrackerConfig(kalman="ekf")


def test_config_negative_threshold():
    with pytest.raises(ValueError, match=r"TrackerConfig.distance_threshold = -1"):
        TrackerConfig(distance_threshold=-1)


def test_config_for_fps_keeps_seconds():
    base = TrackerConfig()
    doubled = base.for_fps(60)
    assert doubled.hit_counter_max == 2 * base.hit_counter_max
    assert doubled.reid_window == 2 * base.reid_window
    assert doubled.max_gap_frames / 60 == pytest.approx(base.max_gap_frames / 30)
