"""PoseTracker on a small generated crowd (nets.synth) with simulated detector noise."""
from __future__ import annotations

from collections import defaultdict

import numpy as np
import pytest

from nets.joints import joint_names
from trackers import PoseTracker


@pytest.fixture(scope="module")
def crowd():
    from nets.body import BodyModel
    from nets.standin import make_standin_body
    from nets.synth import CrowdConfig, make_crowd

    body = BodyModel(*make_standin_body())
    return make_crowd(body, CrowdConfig(people=6, frames=120, seed=7))


@pytest.mark.parametrize("noise", ["none", "moderate"])
def test_each_track_follows_one_person(crowd, noise):
    from nets.synth import simulate_detections

    tracker = PoseTracker(joint_names=joint_names("coco17"))
    people_of_track = defaultdict(set)
    tracks_of_person = defaultdict(set)
    emitted = 0
    for t, dets in enumerate(simulate_detections(crowd, noise, "coco17")):
        for person in tracker.update(dets.keypoints, dets.boxes, dets.scores, frame_index=t):
            truth = int(dets.truth[person.detection_index])
            people_of_track[person.track_id].add(truth)
            tracks_of_person[truth].add(person.track_id)
            emitted += 1
    real = {track: people - {-1} for track, people in people_of_track.items()}
    assert all(len(people) == 1 for people in real.values()), real          # no track switches person
    assert all(len(tracks) == 1 for person, tracks in tracks_of_person.items() if person >= 0), \
        dict(tracks_of_person)                                               # nobody changes track
    assert all(real.values())                       # no track made of false positives only
    false = sum(1 for people in people_of_track.values() if -1 in people)
    assert false <= 2                               # a track may pick up a stray false positive once
    detected = sum(len(d) for d in simulate_detections(crowd, noise, "coco17"))
    assert emitted >= 0.9 * detected                         # births cost a few frames per person only


def test_occlusion_in_the_sequence(crowd):
    """The sequence does contain people hidden behind others (else the test above proves little)."""
    from nets.synth import occlusion_summary

    assert occlusion_summary(crowd)["by_others"] > 0.02
    assert np.isin(crowd.occluder, crowd.ids).any()
