"""Tracking benchmark: PoseTracker against the plain norfair centroid baseline on synthetic crowds.

    python benchmarks/bench_tracking.py                   # the fixed sequences, moderate and heavy noise
    python benchmarks/bench_tracking.py --noise moderate  # one setting
    python benchmarks/bench_tracking.py --tune            # the grid the defaults were chosen on (other seeds)

Sequences: ``nets.synth`` crowds from the stand-in body (300 frames, 640x360, 30 fps; people walk,
turn, stop and cross each other's paths), COCO-17 detections from ``simulate_detections``. Fixed set:
8 and 20 people, seeds 0 and 1 (crowd and noise). The defaults were tuned on seeds 100-111 only
(``--tune``: 2 sequences of 8 and 10 of 20 people).

Ground truth per frame: the people a detector could see, i.e. present in the image with at least
the noise setting's ``min_visible`` visible joints (the simulator's own rule; fully hidden people are
not counted: neither tracker emits people it does not see). Matching is motmetrics' CLEAR-MOT /
IDF1 accumulator over boxes: ground-truth box (whole projected body, clipped to the image) against
the box a tracker emits (the matched detection's), distance 1 - IoU, a match needs IoU >= 0.5.
IDSW_per_1k = ID switches per 1000 ground-truth person-frames. Needs the ``bench`` extra
(``pip install -e .[bench]``: motmetrics; its own ``iou_matrix`` does not run on numpy 2, so the IoU
matrix is computed here).

The last line reads
``ours IDF1=<x> MOTA=<x> IDSW_per_1k=<x> | baseline IDF1=<x> MOTA=<x> IDSW_per_1k=<x>`` over all fixed
sequences at the moderate setting.
"""
from __future__ import annotations

import argparse
import dataclasses
import logging
import sys
import time

import numpy as np

from nets.joints import joint_names
from trackers import CentroidTracker, PoseTracker, TrackerConfig
from trackers.distances import box_iou

SEQUENCES = ((8, 0), (8, 1), (20, 0), (20, 1))    # (people, seed): the reported set
TUNE_SEQUENCES = ((8, 100), (8, 101)) + tuple((20, seed) for seed in range(102, 112))
JOINT_SET = "coco17"
METRICS = ["idf1", "mota", "num_switches", "num_objects", "num_false_positives", "num_misses", "precision",
           "recall"]


def import_motmetrics():
    try:
        import motmetrics
    except ImportError:
        sys.exit("bench_tracking needs motmetrics: pip install -e '.[bench]'")
    return motmetrics


def make_crowds(specs, frames: int) -> list:
    """[(people, seed)] -> [(name, seed, crowd)] from the stand-in body."""
    from nets.body import BodyModel
    from nets.standin import make_standin_body
    from nets.synth import CrowdConfig, make_crowd

    body = BodyModel(*make_standin_body())
    crowds = []
    for people, seed in specs:
        start = time.perf_counter()
        crowd = make_crowd(body, CrowdConfig(people=people, frames=frames, fps=30, width=640, height=360, seed=seed))
        logging.info("generated %d people, seed %d in %.1f s", people, seed, time.perf_counter() - start)
        crowds.append((f"{people}p_s{seed}", seed, crowd))
    return crowds


def noise_for(name: str, seed: int):
    from nets.synth import NOISE_PRESETS

    return dataclasses.replace(NOISE_PRESETS[name], seed=seed)


def ground_truth(crowd, noise) -> tuple[np.ndarray, np.ndarray]:
    """-> ((T, N) bool person-frames a detector could see: present with >= min_visible visible joints,
    (T, N, 4) their xywh boxes)."""
    visible = (crowd.keypoints2d[JOINT_SET][..., 2] > 0).sum(axis=-1)
    return crowd.present & (visible >= noise.min_visible), crowd.boxes


def track(tracker, detections) -> tuple[list, float]:
    """Run a tracker over a sequence -> (per frame [(track_id, box)], seconds spent in update)."""
    out, seconds = [], 0.0
    for t, dets in enumerate(detections):
        start = time.perf_counter()
        people = tracker.update(dets.keypoints, dets.boxes, dets.scores, frame_index=t)
        seconds += time.perf_counter() - start
        out.append([(p.track_id, p.box) for p in people])
    return out, seconds


def accumulate(mm, crowd, noise, tracks):
    """motmetrics accumulator of one sequence: IoU >= 0.5 between ground-truth and emitted boxes."""
    seen, boxes = ground_truth(crowd, noise)
    acc = mm.MOTAccumulator(auto_id=True)
    for t, people in enumerate(tracks):
        gt = np.flatnonzero(seen[t])
        gt_xyxy = np.concatenate([boxes[t, gt, :2], boxes[t, gt, :2] + boxes[t, gt, 2:]], axis=1)
        hyp = np.array([b for _, b in people], np.float64).reshape(-1, 4)
        hyp_xyxy = np.concatenate([hyp[:, :2], hyp[:, :2] + hyp[:, 2:]], axis=1)
        dist = 1.0 - box_iou(gt_xyxy, hyp_xyxy)
        dist[dist > 0.5] = np.nan
        acc.update(crowd.ids[gt].tolist(), [i for i, _ in people], dist)
    return acc


def occlusion_lines(crowds) -> list[str]:
    """Per sequence and over all (weighted by present person-frames): how much of the crowd is hidden."""
    from nets.synth import occlusion_summary

    lines, total, weights = [], {}, 0
    for name, _, crowd in crowds:
        s = occlusion_summary(crowd)
        weight = int(crowd.present.sum())
        weights += weight
        for key, value in s.items():
            total[key] = total.get(key, 0.0) + value * weight
        lines.append(_occlusion_line(f"{name} ({crowd.people} people, {crowd.frames} frames)", s))
    lines.append(_occlusion_line("all", {key: value / max(weights, 1) for key, value in total.items()}))
    return lines


def _occlusion_line(label: str, s: dict) -> str:
    return (f"{label:32s} person-frames with >=50% of keypoints occluded: {100 * s['heavily_occluded']:4.1f}%  "
            f"fully hidden: {100 * s['fully_hidden']:3.1f}%  joints hidden by others: {100 * s['by_others']:4.1f}%")


def evaluate(mm, crowds, noise_name: str, trackers: dict) -> dict:
    """{tracker name: factory} -> {tracker name: (summary DataFrame with OVERALL, ms per frame)}."""
    from nets.synth import simulate_detections

    results = {}
    for label, factory in trackers.items():
        accs, names, seconds, frames = [], [], 0.0, 0
        for name, seed, crowd in crowds:
            noise = noise_for(noise_name, seed)
            detections = simulate_detections(crowd, noise, JOINT_SET)
            tracks, spent = track(factory(), detections)
            accs.append(accumulate(mm, crowd, noise, tracks))
            names.append(name)
            seconds += spent
            frames += crowd.frames
        summary = mm.metrics.create().compute_many(accs, metrics=METRICS, names=names, generate_overall=True)
        results[label] = (summary, 1000 * seconds / frames)
    return results


def figures(row) -> tuple[float, float, float]:
    return float(row["idf1"]), float(row["mota"]), 1000.0 * float(row["num_switches"]) / float(row["num_objects"])


def print_table(noise_name: str, results: dict) -> None:
    print(f"\n== noise: {noise_name} ==")
    print(f"{'sequence':10s} {'tracker':9s} {'IDF1':>6s} {'MOTA':>6s} {'IDSW':>5s} {'IDSW/1k':>8s} {'FP':>5s} "
          f"{'FN':>5s} {'prec':>6s} {'recall':>6s} {'GT':>6s}")
    labels = list(results)
    for seq in results[labels[0]][0].index:
        for label in labels:
            row = results[label][0].loc[seq]
            idf1, mota, per_k = figures(row)
            print(f"{seq:10s} {label:9s} {idf1:6.3f} {mota:6.3f} {int(row['num_switches']):5d} {per_k:8.2f} "
                  f"{int(row['num_false_positives']):5d} {int(row['num_misses']):5d} {row['precision']:6.3f} "
                  f"{row['recall']:6.3f} {int(row['num_objects']):6d}")
    for label in labels:
        print(f"{label}: {results[label][1]:.2f} ms per frame in update()")


def summary_line(results: dict) -> str:
    ours = figures(results["ours"][0].loc["OVERALL"])
    base = figures(results["baseline"][0].loc["OVERALL"])
    return (f"ours IDF1={ours[0]:.3f} MOTA={ours[1]:.3f} IDSW_per_1k={ours[2]:.2f} | "
            f"baseline IDF1={base[0]:.3f} MOTA={base[1]:.3f} IDSW_per_1k={base[2]:.2f}")


# The tuning grid: one factor at a time around the defaults, plus the baseline's distance threshold.
TUNE_GRID = {
    "distance_threshold": (0.7, 0.9),
    "oks_sigma_scale": (1.5, 3.0),
    "size_tolerance": (0.0, 0.15, 0.2),
    "min_box_iou": (0.1, 0.35),
    "min_common_keypoints": (4, 6),
    "birth_delay": (2, 3),
    "hit_counter_max": (8, 20),
    "pointwise_hit_counter_max": (4,),
    "lost_velocity_decay": (0.9, 1.0),
    "reid_window": (0, 45, 150),
    "reid_position_tolerance": (0.3, 0.8),
    "reid_position_growth": (0.01, 0.04),
    "reid_size_ratio": (1.25,),
    "kalman_r": (4.0,),
    "keypoint_threshold": (0.2, 0.4),
}


def tune(mm, frames: int) -> None:
    crowds = make_crowds(TUNE_SEQUENCES, frames)
    print(f"tuning on {', '.join(n for n, _, _ in crowds)} (moderate noise)")
    print("\n".join(occlusion_lines(crowds)))
    base = TrackerConfig()
    settings = {"defaults": base}
    for field, values in TUNE_GRID.items():
        for value in values:
            if getattr(base, field) != value:
                settings[f"{field}={value}"] = dataclasses.replace(base, **{field: value})
    names = joint_names(JOINT_SET)
    trackers = {label: (lambda c=c: PoseTracker(c, joint_names=names)) for label, c in settings.items()}
    trackers["baseline (defaults)"] = CentroidTracker
    for threshold in (10, 15, 35, 50, 80):
        trackers[f"baseline threshold={threshold}px"] = lambda th=threshold: CentroidTracker(distance_threshold=th)
    for delay in (3, None):
        trackers[f"baseline initialization_delay={delay}"] = lambda d=delay: CentroidTracker(initialization_delay=d)
    results = evaluate(mm, crowds, "moderate", trackers)
    print(f"{'setting':36s} {'IDF1':>6s} {'MOTA':>6s} {'IDSW/1k':>8s}")
    for label, (summary, _) in results.items():
        idf1, mota, per_k = figures(summary.loc["OVERALL"])
        print(f"{label:36s} {idf1:6.3f} {mota:6.3f} {per_k:8.2f}")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--noise", nargs="+", default=["heavy", "moderate"], choices=["none", "moderate", "heavy"],
                        help="noise presets to run; the summary line is for 'moderate' (default: heavy moderate)")
    parser.add_argument("--frames", type=int, default=300)
    parser.add_argument("--tune", action="store_true", help="print the tuning grid on the tuning seeds instead")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    mm = import_motmetrics()
    if args.tune:
        tune(mm, args.frames)
        return
    config = TrackerConfig()
    print("ours: PoseTracker(TrackerConfig()) =", config)
    print("baseline: CentroidTracker() = norfair, box centre, Euclidean distance < 20 px, hit_counter_max 15, "
          "initialization_delay 1, no re-identification (threshold and delay tuned like ours)")
    print(f"re-identification: an ID survives {config.max_gap_frames} frames without detection "
          f"({config.max_gap_frames / 30:.1f} s at 30 fps)")
    crowds = make_crowds(SEQUENCES, args.frames)
    print("\n".join(occlusion_lines(crowds)))
    trackers = {"ours": lambda: PoseTracker(config, joint_names=joint_names(JOINT_SET)), "baseline": CentroidTracker}
    last = None
    noises = sorted(args.noise, key=lambda n: n == "moderate")   # moderate last: its line ends the output
    for noise_name in noises:
        results = evaluate(mm, crowds, noise_name, trackers)
        print_table(noise_name, results)
        print(f"{noise_name}: {summary_line(results)}")
        if noise_name == "moderate":
            last = summary_line(results)
    if last is not None:
        print(last)


if __name__ == "__main__":
    main()
