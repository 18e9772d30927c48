"""stream.demo.score: stored tracks vs a synthetic crowd's truth (recall, accuracy, smoothness) on stores whose
answers are known: the truth itself, the truth with rows left out, delayed or shaken."""
from __future__ import annotations

import numpy as np
import pytest

from stream.demo.score import fill_who, load_truth, score_motions, score_store, track_motions
from stream.store import open_store


@pytest.fixture(scope="module")
def crowd():
    from nets.body import BodyModel
    from nets.standin import make_standin_body
    from nets.synth import CrowdConfig, make_crowd

    return make_crowd(BodyModel(*make_standin_body()), CrowdConfig(people=4, frames=40, width=160, height=96, seed=3))


@pytest.fixture(scope="module")
def truth_path(crowd, tmp_path_factory):
    path = tmp_path_factory.mktemp("truth") / "truth.npz"
    np.savez(path, **crowd.arrays(), joint_sets=np.array(sorted(crowd.keypoints2d)))
    return path


def store_of(crowd, tmp_path_factory, min_visible=0):
    from stream.demo.synth import store_from_crowd

    return store_from_crowd(crowd, tmp_path_factory.mktemp("store") / "truth.zarr", min_visible=min_visible)


def tracks_of(path):
    with open_store(path) as store:
        return [store.track(i) for i in store.track_ids()]


def visible_count(crowd, at_least=1):
    return int((crowd.present & ((crowd.keypoints2d["coco17"][..., 2] > 0).sum(-1) >= at_least)).sum())


def test_the_truth_scores_perfectly(crowd, truth_path, tmp_path_factory):
    s = score_store(store_of(crowd, tmp_path_factory), truth_path)
    assert s["visible"] == visible_count(crowd) and s["found"] == s["visible"] and s["recall"] == 1.0
    assert s["mpjpe_mm"] == pytest.approx(0, abs=1e-3) and s["pa_mpjpe_mm"] == pytest.approx(0, abs=1e-3)
    assert s["accel_error_mm"] == pytest.approx(0, abs=1e-3) and s["accel_frames"] > 0
    assert s["z_jitter_mm"] == pytest.approx(s["z_jitter_truth_mm"], abs=1e-3)
    assert s["peak_speed_ratio"] == pytest.approx(1.0, abs=1e-4) and s["lag_frames"] == pytest.approx(0, abs=1e-6)
    assert s["betas_spread"] == 0 and s["id_purity"] == 1.0 and s["tracks"] == s["people"] == 4


def test_rows_left_out_lower_recall_by_their_count(crowd, truth_path, tmp_path_factory):
    s = score_store(store_of(crowd, tmp_path_factory, min_visible=8), truth_path)
    assert (s["found"], s["visible"]) == (visible_count(crowd, 8), visible_count(crowd))
    assert s["recall"] == pytest.approx(visible_count(crowd, 8) / visible_count(crowd))


def test_delayed_and_shaken_joints(crowd, truth_path, tmp_path_factory):
    tracks = tracks_of(store_of(crowd, tmp_path_factory))
    truth = load_truth(truth_path)
    delayed = []
    for t in tracks:   # each row two frames late: the joints of the frame two before (the first frames repeat)
        index = np.searchsorted(t.frame, t.frame - 2).clip(0)
        delayed.append(t.joints3d[index])
    s = score_motions(track_motions(tracks, truth, delayed), truth)
    assert s["lag_frames"] == pytest.approx(2.0, abs=0.2) and s["recall"] == 1.0
    rng = np.random.default_rng(0)
    shaken = [t.joints3d + rng.normal(0, 0.01, t.joints3d.shape) for t in tracks]
    s = score_motions(track_motions(tracks, truth, shaken), truth)
    # pelvis-centred noise: N(0, 2 x 10² mm²) per coordinate, its second difference N(0, 6 x 200 mm²), whose
    # 3D length averages sqrt(1200) sqrt(8 / pi) = 55.3 mm on the 29 joints other than the pelvis
    assert s["accel_error_mm"] == pytest.approx(55.3 * 29 / 30, rel=0.05)
    assert s["peak_speed_ratio"] > 1 and s["mpjpe_mm"] > 5


def test_filled_frames_take_the_person_around_them():
    who = fill_who(np.arange(9), np.array([0, 1, 4, 6]), np.array([3, 3, 3, 5]))
    assert who.tolist() == [3, 3, 3, 3, 3, -1, 5, 5, 5]          # extended after frame 6: its person
    assert fill_who(np.arange(4), np.array([2, 3]), np.array([-1, 4])).tolist() == [-1, -1, -1, 4]
    visible = np.ones((8, 6), bool)
    visible[0, 3] = visible[7, 5] = False                            # out of view: an extended row is not theirs
    who = fill_who(np.arange(9), np.array([1, 4, 6]), np.array([3, 3, 5]), visible)
    assert who.tolist() == [-1, 3, 3, 3, 3, -1, 5, -1, -1]         # frame 8: past the clip


def test_filled_recall_counts_the_rows_the_offline_pass_fills(crowd, truth_path, tmp_path_factory):
    from stream.config import SmoothingConfig
    from stream.demo.score import filled_recall
    from stream.smooth.offline import smooth_store

    import dataclasses

    from stream.demo.synth import store_from_crowd

    present = crowd.present.copy()
    first = int(np.flatnonzero(present[:, 0])[10])
    present[first:first + 4, 0] = False          # four frames of person 0 not stored: a gap inside its track
    path = store_from_crowd(dataclasses.replace(crowd, present=present), tmp_path_factory.mktemp("gap") / "g.zarr")
    raw = score_store(path, truth_path)
    assert filled_recall(path, truth_path) == (raw["found"], raw["visible"])    # no offline values yet
    summary = smooth_store(path, SmoothingConfig())
    found, visible = filled_recall(path, truth_path)
    assert summary.filled == 4 and visible == raw["visible"]
    assert found == raw["found"] + 4 <= visible
