"""Recall, accuracy and smoothness of ``stream process`` on synthetic crowds: raw, online and offline motion.

    python benchmarks/bench_quality.py                 # 4 clips x 300 frames: about 4 minutes on 2 CPU cores
    python benchmarks/bench_quality.py --quick         # smoke run: 2 clips x 40 frames, under 2 minutes
    python benchmarks/bench_quality.py --work /tmp/q   # keep the clips and stores there, reuse them next time

Clips (``quality_clips``): the demo's 320x240 synthetic crowds at 30 fps, 8 and 20 people, with "moderate" and
"heavy" simulated COCO-17 detections, through the real pipeline (``run_local``, the shipped synthetic-domain
weights, the stand-in body) with ``smoothing.enabled=true`` and the ``SmoothingConfig`` defaults. Crowd and noise
come from EVALUATION_SEED; the One-Euro defaults were chosen on TUNING_SEED clips (``quality_sweep.py``), a
different crowd and different noise.

Rows per clip: raw (the stored network outputs), online (the store's One-Euro ``smooth_*`` values), offline
(``stream.smooth.offline.smooth_track`` on each stored track with the ``SmoothingConfig`` defaults; its filled
frames count toward recall). Columns (``stream.demo.score``): recall of visible person-frames, MPJPE and
PA-MPJPE (mm, pelvis-centred, matched rows), acceleration error (mm/frame², pelvis-centred joints), z jitter
(mean |second difference| of the pelvis depth, mm/frame²; the truth's own is printed per clip), betas spread
(mean over tracks of the std of the shape), peak speed (the speed of wrists and ankles kept at the truth's
fastest 1 % of moments: below 1 is motion lost), lag (frames behind the truth, wrists and ankles).

Two more rows per clip isolate the offline smoother from the network: "truth+noise" is the truth's own SMPL
parameters with per-frame random rotations of every joint and translation noise (``quality_clips.noisy_truth``),
scaled to the acceleration error of the clip's raw rows; "its offline" is ``smooth_track`` on those tracks.
Their peak speed says what smoothing keeps of claps and kicks; the raw row's says what the network keeps.
"""
from __future__ import annotations

import argparse
import importlib.util
import tempfile
import time
from pathlib import Path

import numpy as np

from quality_clips import ClipSpec, FastJoints, offline_motions, online_motions, raw_motions, read_clip, run_clip
from quality_clips import FPS, matched_noisy_truth, smoother_alone, write_clip

EVALUATION_SEED = 2024   # the clips scored here
TUNING_SEED = 7          # the clips quality_sweep.py chose the One-Euro defaults on
CLIPS = tuple(ClipSpec(people, noise, EVALUATION_SEED) for people in (8, 20) for noise in ("moderate", "heavy"))
QUICK_CLIPS = tuple(ClipSpec(8, noise, EVALUATION_SEED) for noise in ("moderate", "heavy"))
QUICK_FRAMES = 40
OFFLINE_MISSING = "n/a (stream/smooth/offline.py missing)"
COLUMNS = (("recall", "recall %", 100.0, ".1f"), ("mpjpe_mm", "MPJPE", 1.0, ".1f"),
           ("pa_mpjpe_mm", "PA-MPJPE", 1.0, ".1f"), ("accel_error_mm", "accel", 1.0, ".1f"),
           ("z_jitter_mm", "z jitter", 1.0, ".1f"), ("betas_spread", "betas sd", 1.0, ".3f"),
           ("peak_speed_ratio", "peak speed", 1.0, ".2f"), ("lag_frames", "lag", 1.0, ".2f"))


def have_offline() -> bool:
    return importlib.util.find_spec("stream.smooth.offline") is not None


def score_clip(spec: ClipSpec, frames: int, work: Path, joints: FastJoints, reuse: bool = False) -> dict:
    """One clip written, run with online smoothing, and scored as raw, online and offline motion; ``reuse``:
    the clip and store already in ``work``."""
    from stream.demo.score import match_rows, score_motions

    clip = write_clip(work, spec, frames, reuse)
    store = run_clip(clip, work / f"{spec.name}-{frames}f.zarr", smoothing={"enabled": True}, reuse=reuse)
    tracks, truth = read_clip(store, clip)
    who = match_rows(tracks, truth)
    scores = {"raw": score_motions(raw_motions(tracks, truth, who), truth),
              "online": score_motions(online_motions(tracks, truth, joints, who), truth),
              "offline": (score_motions(offline_motions(tracks, truth, joints, FPS, who=who), truth)
                          if have_offline() else None)}
    if have_offline():
        noisy = matched_noisy_truth(clip, truth, joints, scores["raw"]["accel_error_mm"], spec.seed)
        scores.update(smoother_alone(noisy, truth, joints))
    return scores


def print_header() -> None:
    print(f"{'clip':<22}{'motion':<12}" + "".join(f"{title:>11}" for _, title, _, _ in COLUMNS))


def print_rows(name: str, scores: dict) -> None:
    for variant, s in scores.items():
        label = name if variant == "raw" else ""
        if s is None:
            print(f"{label:<22}{variant:<12}{OFFLINE_MISSING:>11}")
            continue
        cells = "".join(f"{s[key] * factor:>11{fmt}}" for key, _, factor, fmt in COLUMNS)
        print(f"{label:<22}{variant:<12}{cells}")


def print_means(results: dict) -> None:
    """Per motion, the mean of each column over the clips."""
    print(f"{'mean over clips':<22}")
    for variant in ("raw", "online", "offline", "truth+noise", "its offline"):
        rows = [r[variant] for r in results.values() if r.get(variant) is not None]
        if not rows:
            print(f"{'':<22}{variant:<12}{OFFLINE_MISSING:>11}")
            continue
        cells = "".join(f"{np.mean([r[key] for r in rows]) * factor:>11{fmt}}" for key, _, factor, fmt in COLUMNS)
        print(f"{'':<22}{variant:<12}{cells}")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help=f"2 clips of 8 people x {QUICK_FRAMES} frames")
    ap.add_argument("--frames", type=int, default=300, help="frames per clip (full run)")
    ap.add_argument("--work", type=Path, default=None,
                    help="folder for clips and stores, reused when there (default: a temp folder)")
    args = ap.parse_args()
    from nets.body import BodyModel
    from stream.config import SmoothingConfig
    from quality_clips import demo_assets

    start = time.perf_counter()
    clips, frames = (QUICK_CLIPS, QUICK_FRAMES) if args.quick else (CLIPS, args.frames)
    assets, checkpoint = demo_assets()
    joints = FastJoints(BodyModel.from_files(assets["smpl"], assets["joint_regressor_extra"]))
    smoothing = SmoothingConfig()
    print(f"evaluation seed {EVALUATION_SEED} (One-Euro defaults tuned on seed {TUNING_SEED}); {frames} frames "
          f"per clip at {FPS:g} fps; weights {checkpoint.name}; online One-Euro min_cutoff {smoothing.min_cutoff} Hz, "
          f"beta {smoothing.beta}, d_cutoff {smoothing.d_cutoff} Hz"
          + (f"; offline sigma {smoothing.offline_sigma_s} s, max gap {smoothing.offline_max_gap_s} s, ends extended "
             f"{smoothing.offline_extend_s} s"
             if have_offline() else f"; offline {OFFLINE_MISSING}"))
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        work = args.work or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        print_header()
        for spec in clips:
            clip_start = time.perf_counter()
            results[spec.name] = scores = score_clip(spec, frames, work, joints, reuse=args.work is not None)
            print_rows(spec.name, scores)
            raw = scores["raw"]
            print(f"{'':<22}(truth z jitter {raw['z_jitter_truth_mm']:.1f} mm/frame², {raw['visible']} visible "
                  f"person-frames, {raw['tracks']} tracks for {raw['people']} people; "
                  f"{time.perf_counter() - clip_start:.0f} s)")
    print_means(results)
    print(f"wall time {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
