"""nets.synth.noise: the simulated detections keep their stated rates and the 'none' preset is the truth."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from nets.config import ConfigError
from nets.joints import joint_names
from nets.synth import NOISE_PRESETS, CrowdConfig, NoiseConfig, make_crowd, simulate_detections
from nets.synth.noise import flip_index, truth_detections

RATES = NoiseConfig(miss_rate=0.2, drop_joint_rate=0.1, swap_lr_rate=0.1, false_positive_rate=0.5)
SEEDS = range(12)


@pytest.fixture(scope="module")
def crowd(standin_body):
    return make_crowd(standin_body, CrowdConfig(people=8, frames=30, width=320, height=180, seed=1))


@pytest.mark.parametrize("joint_set", ["coco17", "crowdpose14"])
def test_none_preset_is_the_visible_truth(crowd, joint_set):
    truth = crowd.keypoints2d[joint_set]
    for dets in simulate_detections(crowd, "none", joint_set):
        t = dets.frame
        expected = np.flatnonzero(crowd.present[t] & (truth[t, :, :, 2] > 0).any(-1))
        assert sorted(dets.truth.tolist()) == expected.tolist()
        for kpts, box, n in zip(dets.keypoints, dets.boxes, dets.truth):
            visible = truth[t, n, :, 2] > 0
            np.testing.assert_array_equal(kpts[visible, :2], truth[t, n, visible, :2])
            assert (kpts[visible, 2] == 1).all() and (kpts[~visible] == 0).all()
            np.testing.assert_array_equal(box, crowd.boxes[t, n])
    ordered = truth_detections(crowd, joint_set)
    assert all((d.truth == np.sort(d.truth)).all() for d in ordered)


def measure(crowd, noise, joint_set="coco17"):
    """Measured miss, drop, swap and false-positive rates over the seeds."""
    truth = crowd.keypoints2d[joint_set]
    flip = flip_index(joint_set)
    counts = dict.fromkeys(("detectable", "missed", "visible", "dropped", "detections", "swapped", "fp"), 0)
    frames = 0
    for seed in SEEDS:
        for dets in simulate_detections(crowd, dataclasses.replace(noise, seed=seed), joint_set):
            t = dets.frame
            detectable = crowd.present[t] & ((truth[t, :, :, 2] > 0).sum(-1) >= noise.min_visible)
            real = dets.truth >= 0
            counts["detectable"] += detectable.sum()
            counts["missed"] += detectable.sum() - real.sum()
            counts["fp"] += (~real).sum()
            frames += 1
            for kpts, n in zip(dets.keypoints[real], dets.truth[real]):
                visible = truth[t, n, :, 2] > 0
                kept = kpts[:, 2] > 0
                swapped = not np.array_equal(kpts[kept, :2], truth[t, n, kept, :2])
                if swapped:
                    np.testing.assert_array_equal(kpts[kept, :2], truth[t, n, flip][kept, :2])
                    visible = visible[flip]
                counts["detections"] += 1
                counts["swapped"] += swapped
                counts["visible"] += visible.sum()
                counts["dropped"] += (visible & ~kept).sum()
    return {"miss": counts["missed"] / counts["detectable"], "drop": counts["dropped"] / counts["visible"],
            "swap": counts["swapped"] / counts["detections"], "fp_per_frame": counts["fp"] / frames,
            "samples": counts}


def test_rates_hold_over_seeded_draws(crowd):
    measured = measure(crowd, RATES)
    n = measured["samples"]
    assert n["detectable"] > 2000 and n["visible"] > 20000
    # tolerances: about 4 standard errors of each rate at these sample sizes
    assert abs(measured["miss"] - RATES.miss_rate) < 0.035, measured
    assert abs(measured["drop"] - RATES.drop_joint_rate) < 0.01, measured
    assert abs(measured["swap"] - RATES.swap_lr_rate) < 0.03, measured
    assert abs(measured["fp_per_frame"] - RATES.false_positive_rate) < 0.12, measured


def test_jitter_scales_with_the_person(crowd):
    noise = NoiseConfig(jitter=0.02)
    truth = crowd.keypoints2d["coco17"]
    scale = crowd.camera.K[1, 1] * 1.7 / crowd.joints3d[..., 0, 2]
    errors = []
    for dets in simulate_detections(crowd, noise, "coco17"):
        for kpts, n in zip(dets.keypoints, dets.truth):
            kept = kpts[:, 2] > 0
            errors.append(((kpts[kept, :2] - truth[dets.frame, n, kept, :2]) / scale[dets.frame, n]).ravel())
    errors = np.concatenate(errors)
    assert len(errors) > 5000
    assert abs(errors.std() - 0.02) < 0.002 and abs(errors.mean()) < 0.002


def test_moderate_preset_scores_and_guessed_occluded_joints(crowd):
    moderate = dataclasses.replace(NOISE_PRESETS["moderate"], swap_lr_rate=0.0)  # joints stay in place
    truth = crowd.keypoints2d["crowdpose14"]
    occluded_scores, visible_scores = [], []
    for dets in simulate_detections(crowd, moderate, "crowdpose14"):
        assert dets.keypoints.dtype == np.float32 and dets.keypoints.shape[1:] == (14, 3)
        np.testing.assert_allclose(dets.scores, dets.keypoints[:, :, 2].mean(axis=1), rtol=1e-6)
        for kpts, n in zip(dets.keypoints, dets.truth):
            if n < 0:
                assert (kpts[:, 2] <= moderate.false_positive_score[1]).all()
                continue
            visible = truth[dets.frame, n, :, 2] > 0
            scored = kpts[:, 2] > 0
            occluded_scores.append(kpts[~visible & scored, 2])
            visible_scores.append(kpts[visible & scored, 2])
    occluded_scores, visible_scores = np.concatenate(occluded_scores), np.concatenate(visible_scores)
    assert len(occluded_scores) > 50 and len(visible_scores) > 1000
    assert occluded_scores.min() >= moderate.occluded_score[0] - 1e-6
    assert occluded_scores.max() <= moderate.occluded_score[1] + 1e-6
    assert visible_scores.min() >= moderate.visible_score[0] - 1e-6


def test_output_order_is_shuffled_and_seeded(crowd):
    first = simulate_detections(crowd, NoiseConfig(seed=5), "coco17")
    again = simulate_detections(crowd, NoiseConfig(seed=5), "coco17")
    other = simulate_detections(crowd, NoiseConfig(seed=6), "coco17")
    assert all(np.array_equal(a.truth, b.truth) and np.array_equal(a.keypoints, b.keypoints)
               for a, b in zip(first, again))
    assert any(not np.array_equal(d.truth, np.sort(d.truth)) for d in first)
    assert any(not np.array_equal(a.truth, b.truth) for a, b in zip(first, other))


def test_flip_index_pairs_left_and_right():
    names = joint_names("crowdpose14")
    flip = flip_index("crowdpose14")
    assert [names[i] for i in flip[:2]] == ["R_Shoulder", "L_Shoulder"]
    assert names[flip[names.index("Neck")]] == "Neck" and (flip[flip] == np.arange(14)).all()


@pytest.mark.parametrize("change, message", [
    ({"miss_rate": 1.5}, "miss_rate"), ({"jitter": -1.0}, "jitter"), ({"occluded": "hide"}, "occluded"),
    ({"visible_score": (0.9, 0.2)}, "visible_score"), ({"false_positive_rate": -0.1}, "false_positive_rate"),
])
def test_bad_noise_config_names_the_field(change, message):
    with pytest.raises(ConfigError, match=message):
        NoiseConfig(**change)


def test_unknown_preset_lists_the_presets(crowd):
    with pytest.raises(ConfigError, match="heavy.*moderate.*none"):
        simulate_detections(crowd, "loud", "coco17")
