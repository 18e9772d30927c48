"""PoseTracker behaviour on hand-made detections: occlusion, crossings, crowds, IDs, closed tracks."""
from __future__ import annotations

import numpy as np
import pytest

from nets.joints import joint_names
from trackers import COCO17, CentroidTracker, ClosedTrack, PoseTracker, TrackerConfig
from trackers.distances import COCO_SIGMAS, DEFAULT_SIGMA


def run(tracker, frames, make_frame):
    """Feed [[(cx, top, height), ...] per frame] -> list per frame of {detection index: track ID}."""
    return [{p.detection_index: p.track_id for p in tracker.update(*make_frame(people))} for people in frames]


def walk(x0, speed, top=60.0, height=120.0):
    return lambda f: (x0 + speed * f, top, height)


@pytest.mark.parametrize("gap", [1, 15, 60, TrackerConfig().max_gap_frames])
def test_identity_survives_full_occlusion(gap, make_frame):
    """Person A walks behind nobody-in-particular: absent from the detections for ``gap`` frames."""
    a, b = walk(80, 2.0), walk(500, -1.0, top=40, height=140)
    frames = [[a(f), b(f)] if not 20 <= f < 20 + gap else [b(f)] for f in range(20 + gap + 10)]
    ids = run(PoseTracker(), frames, make_frame)
    before, after = ids[19], ids[-1]
    assert after == before == {0: 1, 1: 2}


def test_identity_lost_after_the_stated_window(make_frame):
    """One frame longer than ``max_gap_frames`` and the person comes back as a new track."""
    gap = TrackerConfig().max_gap_frames + 1
    a = walk(80, 1.0)
    frames = [[a(f)] if not 20 <= f < 20 + gap else [] for f in range(20 + gap + 10)]
    ids = run(PoseTracker(), frames, make_frame)
    assert ids[19] == {0: 1} and ids[-1] == {0: 2}


@pytest.mark.parametrize("hide_back_person", [False, True])
def test_crossing_people_keep_their_ids(hide_back_person, make_frame):
    """A walks right, B walks left along the same line; they pass through each other at frame 50."""
    a, b = walk(100, 4.0, top=50, height=130), walk(500, -4.0, top=55, height=125)
    frames = []
    for f in range(100):
        people = [a(f), b(f)]
        if hide_back_person and 44 <= f < 57:   # B behind A: not detected while they overlap
            people = people[:1]
        frames.append(people)
    ids = run(PoseTracker(), frames, make_frame)
    assert ids[10] == {0: 1, 1: 2}
    assert ids[-1] == {0: 1, 1: 2}
    assert all(d.get(0, 1) == 1 and d.get(1, 2) == 2 for d in ids)


def test_birth_delay_confirms_on_the_stated_frame(make_frame):
    ids = run(PoseTracker(TrackerConfig(birth_delay=3)), [[walk(100, 1.0)(f)] for f in range(6)], make_frame)
    assert [len(d) for d in ids] == [0, 0, 0, 1, 1, 1]


def test_empty_frames(make_frame):
    tracker = PoseTracker()
    assert tracker.update(np.zeros((0, 17, 3)), np.zeros((0, 4)), np.zeros(0)) == []
    assert tracker.update([], [], []) == []
    a = walk(100, 2.0)
    for f in range(2, 10):
        people = tracker.update(*make_frame([a(f)]))
    assert [p.track_id for p in people] == [1]
    for _ in range(5):
        assert tracker.update([], [], []) == []
    people = tracker.update(*make_frame([a(15)]))
    assert [p.track_id for p in people] == [1]


def test_skipped_frame_indices_count_as_empty_frames(make_frame):
    tracker = PoseTracker()
    for f in range(10):
        tracker.update(*make_frame([(100 + 2 * f, 60, 120)]), frame_index=f)
    people = tracker.update(*make_frame([(100 + 2 * 30, 60, 120)]), frame_index=30)
    assert tracker.frame_index == 30
    people += tracker.update(*make_frame([(100 + 2 * 31, 60, 120)]), frame_index=31)
    assert {p.track_id for p in people} == {1}
    assert people[-1].frame_index == 31


def test_a_crowd_of_120_people(make_frame):
    rng = np.random.default_rng(0)
    cx = np.repeat(np.arange(12) * 90.0 + 50, 10)
    top = np.tile(np.arange(10) * 150.0, 12)
    speed = rng.uniform(-2, 2, size=(120, 2))
    tracker = PoseTracker()
    for f in range(12):
        people = tracker.update(*make_frame([(x + vx * f, y + vy * f, 110) for x, y, (vx, vy)
                                             in zip(cx, top, speed)]))
    assert len(people) == 120
    assert sorted(p.track_id for p in people) == list(range(1, 121))
    assert sorted(p.detection_index for p in people) == list(range(120))
    # detection i keeps the ID it got on confirmation
    first = {p.detection_index: p.track_id for p in people}
    people = tracker.update(*make_frame([(x + vx * 12, y + vy * 12, 110) for x, y, (vx, vy)
                                         in zip(cx, top, speed)]))
    assert {p.detection_index: p.track_id for p in people} == first


def test_output_is_the_matched_detection(make_frame):
    tracker = PoseTracker(TrackerConfig(birth_delay=0))
    kpts, boxes, scores = make_frame([(100, 50, 120), (300, 40, 140)])
    scores = np.array([0.8, 0.6])
    people = tracker.update(kpts, boxes, scores)
    assert [p.detection_index for p in people] == [0, 1]
    for p in people:
        np.testing.assert_array_equal(p.keypoints, kpts[p.detection_index])
        np.testing.assert_array_equal(p.box, boxes[p.detection_index])
        assert p.score == scores[p.detection_index]


def test_predicted_people_are_flagged_when_asked(make_frame):
    tracker = PoseTracker(TrackerConfig(emit_predicted=True))
    for f in range(10):
        tracker.update(*make_frame([(100 + 2 * f, 60, 120)]))
    (person,) = tracker.update([], [], [])
    assert person.track_id == 1 and person.detection_index == -1 and person.score == 0.0
    assert np.all(person.keypoints[:, 2] == 0)
    assert abs(person.box[0] + person.box[2] / 2 - (100 + 2 * 10)) < 3  # predicted on along the walk


def test_two_trackers_number_independently(make_frame):
    first, second = PoseTracker(), PoseTracker()
    for f in range(5):
        a = first.update(*make_frame([(100 + f, 60, 120), (300, 60, 120), (500, 60, 120)]))
        b = second.update(*make_frame([(200 + f, 60, 120)]))
    assert [p.track_id for p in a] == [1, 2, 3]
    assert [p.track_id for p in b] == [1]
    third = PoseTracker(TrackerConfig(first_id=0, birth_delay=0))
    assert [p.track_id for p in third.update(*make_frame([(100, 60, 120)]))] == [0]


def test_closed_tracks_report_their_frames(make_frame):
    config = TrackerConfig()
    tracker = PoseTracker(config)
    a, b = walk(100, 2.0), walk(500, -2.0)
    closed = []
    for f in range(200):
        people = [a(f)] if f < 30 else []
        people.append(b(f))
        tracker.update(*make_frame(people))
        closed += tracker.pop_closed()
        if f == 30 + config.max_gap_frames - 1:
            assert closed == []          # still re-identifiable
    assert closed == [ClosedTrack(1, config.birth_delay, 29)]
    assert tracker.pop_closed() == []
    assert tracker.open_tracks == {2: (config.birth_delay, 199)}
    assert tracker.finish() == [ClosedTrack(2, config.birth_delay, 199)]
    assert tracker.open_tracks == {}


def test_baseline_has_the_same_interface(make_frame):
    tracker = CentroidTracker()
    for f in range(10):
        people = tracker.update(*make_frame([(100 + 2 * f, 60, 120), (400, 60, 120)]))
    assert [p.track_id for p in people] == [1, 2]
    assert [p.detection_index for p in people] == [0, 1]


def test_joint_names_choose_the_oks_sigmas(make_frame):
    """The caller's joint names set the per-joint sigmas; without names a 17-keypoint pose is COCO's order."""
    assert COCO17 == joint_names("coco17")

    def kappa2(tracker, kpts, boxes, scores):
        tracker.update(kpts, boxes, scores)
        return tracker._tracker.distance_function.kappa2

    scale = TrackerConfig().oks_sigma_scale
    coco = kappa2(PoseTracker(), *make_frame([(100, 50, 120)]))
    np.testing.assert_array_equal(coco, (2.0 * np.array([COCO_SIGMAS[n] for n in COCO17]) * scale) ** 2)
    np.testing.assert_array_equal(kappa2(PoseTracker(joint_names=joint_names("coco17")),
                                         *make_frame([(100, 50, 120)])), coco)
    kpts, boxes, scores = make_frame([(100, 50, 120)])
    crowdpose = kappa2(PoseTracker(joint_names=joint_names("crowdpose14")), kpts[:, :14], boxes, scores)
    assert crowdpose[0] == coco[5] and crowdpose[-1] == (2.0 * DEFAULT_SIGMA * scale) ** 2   # L_Shoulder, Neck
    unnamed = kappa2(PoseTracker(), kpts[:, :14], boxes, scores)
    np.testing.assert_array_equal(unnamed, np.full(14, (2.0 * DEFAULT_SIGMA * scale) ** 2))


def births_per_frame(tracker, frames, make_frame) -> list[list[tuple[int, int]]]:
    """Feed the frames; per frame the (frame_index, track ID) of ``pop_births``."""
    out = []
    for f, people in enumerate(frames):
        tracker.update(*make_frame(people), f)
        out.append([(p.frame_index, p.track_id) for p in tracker.pop_births()])
    return out


@pytest.mark.parametrize("backfill, expected", [(0, []), (1, [(2, 1)]), (3, [(0, 1), (1, 1), (2, 1)]),
                                                (5, [(0, 1), (1, 1), (2, 1)])])
def test_backfill_hands_back_a_new_tracks_tentative_frames(backfill, expected, make_frame):
    a = walk(100, 1.0)
    tracker = PoseTracker(TrackerConfig(birth_delay=3), backfill=backfill)
    births = births_per_frame(tracker, [[a(f)] for f in range(6)], make_frame)
    assert births == [[], [], [], expected, [], []]
    first = expected[0][0] if expected else 3
    assert tracker.open_tracks == {1: (first, 5)}


def test_backfill_gives_a_reidentified_person_their_old_id(make_frame):
    """Back after more than ``hit_counter_max`` frames hidden: a new tentative track, merged into the old one
    on confirmation; its tentative frame comes back under the old ID."""
    gap = TrackerConfig().hit_counter_max + 10
    a, b = walk(80, 1.0), walk(400, -1.0, top=40, height=140)
    frames = [[a(f), b(f)] if not 20 <= f < 20 + gap else [b(f)] for f in range(20 + gap + 5)]
    tracker = PoseTracker(backfill=1)
    births = births_per_frame(tracker, frames, make_frame)
    back = 20 + gap
    assert births[back + 1] == [(back, 1)]
    assert sum(births, []) == [(0, 1), (0, 2), (back, 1)]


def test_backfill_must_be_a_frame_count():
    with pytest.raises(ValueError, match="backfill"):
        PoseTracker(backfill=-1)
