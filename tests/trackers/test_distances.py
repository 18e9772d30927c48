"""The detection-to-track distance against hand-computed values, and the re-identification rule."""
from __future__ import annotations

import math

import numpy as np
import pytest
from norfair import Detection, Tracker

from trackers import PoseTracker, TrackerConfig
from trackers.distances import COCO_SIGMAS, PoseDistance, box_iou, joint_sigmas, to_points
from nets.joints import COCO17


def track_of(kpts, box, threshold=0.3):
    """A real norfair TrackedObject made from one detection."""
    tracker = Tracker("euclidean", distance_threshold=1.0, initialization_delay=0, detection_threshold=threshold)
    points, scores = to_points(kpts, box)
    (obj,) = tracker.update([Detection(points, scores=scores)])
    return obj


def detection_of(kpts, box):
    points, scores = to_points(kpts, box)
    return Detection(points, scores=scores)


SIGMAS = joint_sigmas(COCO17, 17)


def distance(**kwargs):
    args = dict(keypoint_threshold=0.3, min_common=4, sigma_scale=1.0, size_tolerance=0.0, min_box_iou=0.2,
                threshold=0.8) | kwargs
    return PoseDistance(SIGMAS, **args)


def test_box_iou_hand_computed():
    a = np.array([[0, 0, 10, 10]])
    b = np.array([[5, 5, 15, 15], [10, 0, 20, 10], [0, 0, 10, 10], [2, 2, 2, 2]])
    np.testing.assert_allclose(box_iou(a, b), [[25 / 175, 0.0, 1.0, 0.0]])


def test_same_pose_is_distance_zero(make_frame):
    kpts, boxes, _ = make_frame([(100, 50, 120)])
    d = distance().get_distances([track_of(kpts[0], boxes[0])], [detection_of(kpts[0], boxes[0])])
    assert d.shape == (1, 1) and d[0, 0] == pytest.approx(0.0)


def test_shifted_pose_is_one_minus_oks(make_frame):
    kpts, boxes, _ = make_frame([(100, 50, 120)])
    obj = track_of(kpts[0], boxes[0])
    moved = kpts[0].copy()
    moved[:, 0] += 6.0
    moved[:, 2] = np.linspace(0.4, 1.0, 17)       # scores weight the joints
    area = boxes[0, 2] * boxes[0, 3]
    sim = np.exp(-36.0 / (2 * area * (2 * SIGMAS * 1.5) ** 2))
    expected = 1 - (moved[:, 2] * sim).sum() / moved[:, 2].sum()
    got = distance(sigma_scale=1.5).get_distances([obj], [detection_of(moved, boxes[0] + [6, 0, 0, 0])])
    assert got[0, 0] == pytest.approx(expected, rel=1e-9)
    assert COCO_SIGMAS["L_Hip"] == SIGMAS[COCO17.index("L_Hip")]


def test_box_height_mismatch_scales_the_similarity(make_frame):
    kpts, boxes, _ = make_frame([(100, 50, 120)])
    obj = track_of(kpts[0], boxes[0])
    taller = boxes[0] + np.array([0, 0, 0, 0.15 * boxes[0, 3]])   # same joints, box 15% taller
    got = distance(size_tolerance=0.1).get_distances([obj], [detection_of(kpts[0], taller)])
    assert got[0, 0] == pytest.approx(1 - math.exp(-0.5 * (math.log(1.15) / 0.1) ** 2))
    assert distance(size_tolerance=0.0).get_distances([obj], [detection_of(kpts[0], taller)])[0, 0] == \
        pytest.approx(0.0)


def test_only_joints_seen_in_both_count(make_frame):
    kpts, boxes, _ = make_frame([(100, 50, 120)])
    track_kpts = kpts[0].copy()
    track_kpts[:8, 2] = 0.0                             # the track never saw joints 0-7
    obj = track_of(track_kpts, boxes[0])
    det = kpts[0].copy()
    det[:8, :2] += 500.0                                # wild joints the track cannot compare
    det[15:, 2] = 0.1                                   # and two ankles the detection did not see
    got = distance().get_distances([obj], [detection_of(det, boxes[0])])
    assert got[0, 0] == pytest.approx(0.0)


def test_too_few_shared_joints_fall_back_to_box_iou(make_frame):
    kpts, boxes, _ = make_frame([(100, 50, 120)])
    obj = track_of(kpts[0], boxes[0])
    det = kpts[0].copy()
    det[3:, 2] = 0.0                                    # 3 joints seen < min_common = 4
    box = boxes[0] + np.array([boxes[0, 2] / 2, 0, 0, 0])   # half a box to the right: IoU = 1/3
    got = distance().get_distances([obj], [detection_of(det, box)])
    assert got[0, 0] == pytest.approx(1 - 1 / 3)          # (1 - IoU) * 0.8 / (1 - 0.2)
    det[:, 2] = 0.0                                       # no joint at all: the box alone
    got = distance(min_box_iou=0.5).get_distances([obj], [detection_of(det, box)])
    assert got[0, 0] == pytest.approx((1 - 1 / 3) * 0.8 / 0.5)


def test_matrix_is_detections_by_tracks(make_frame):
    kpts, boxes, _ = make_frame([(100, 50, 120), (400, 50, 120), (700, 50, 120)])
    objs = [track_of(kpts[i], boxes[i]) for i in range(2)]
    dets = [detection_of(kpts[i], boxes[i]) for i in (2, 1, 0)]
    d = distance().get_distances(objs, dets)
    assert d.shape == (3, 2)
    np.testing.assert_allclose(d, [[1, 1], [1, 0], [0, 1]], atol=1e-9)
    assert distance().get_distances(objs, []).shape == (0, 2)


def reappear(make_frame, where, height=120.0, gap=60, config=None):
    """Walk right at 2 px/frame, vanish for ``gap`` frames, reappear at ``where(f)`` -> IDs before, after."""
    tracker = PoseTracker(config)
    before = after = None
    for f in range(30 + gap + 10):
        if f < 30:
            before = tracker.update(*make_frame([(100 + 2 * f, 50, 120)]))
        elif f < 30 + gap:
            tracker.update([], [], [])
        else:
            after = tracker.update(*make_frame([(where(f), 50, height)]))
    return [p.track_id for p in before], [p.track_id for p in after]


def test_reid_where_the_walk_leads(make_frame):
    assert reappear(make_frame, lambda f: 100 + 2 * f) == ([1], [1])


def test_reid_where_the_person_stopped_within_tolerance(make_frame):
    # vanished at x = 158 walking 2 px/frame; the prediction drifts on about 5 frames' worth (velocity
    # decay 0.8) and the tolerance after 60 frames is (0.5 + 0.02 * 61) x 112 px (box height) = 193 px
    assert reappear(make_frame, lambda f: 160) == ([1], [1])


def test_no_reid_far_from_the_prediction(make_frame):
    assert reappear(make_frame, lambda f: 100 + 2 * f + 400) == ([1], [2])


def test_no_reid_at_a_different_size(make_frame):
    assert reappear(make_frame, lambda f: 100 + 2 * f, height=200) == ([1], [2])


def test_no_reid_when_disabled(make_frame):
    config = TrackerConfig(reid_window=0)
    assert reappear(make_frame, lambda f: 100 + 2 * f, config=config) == ([1], [2])
    assert config.max_gap_frames == config.hit_counter_max
