"""The sweep that chose the online One-Euro defaults (``SmoothingConfig.min_cutoff`` / ``beta``).

    python benchmarks/quality_sweep.py                  # TUNING_SEED clips of bench_quality, 300 frames
    python benchmarks/quality_sweep.py --work /tmp/qs   # keep the clips and raw stores there, reuse them

Each of bench_quality's clip specs (8 and 20 people, "moderate" and "heavy" detections) is made with
TUNING_SEED, never with the evaluation seed, and run once through the pipeline without smoothing. The filter is
then rerun over the stored raw rows (``quality_clips.refilter``: ``TrackSmoother`` frame by frame, as the pipeline
runs it; ``d_cutoff`` and ``max_gap_s`` at their defaults) for every (min_cutoff, beta) of the grid. Printed per
pair, as means over the clips: acceleration error over raw's, lag (frames), MPJPE, PA-MPJPE, peak fast-limb speed
ratio; and the worst clip's acceleration ratio and lag. The goal: acceleration error at most half of raw's
on every clip at a lag of at most 2 frames; the pair chosen meets it with the lowest mean MPJPE.

    python benchmarks/quality_sweep.py --offline        # the offline smoother's sigma instead (moderate clips)

``--offline`` reruns ``stream.smooth.offline.smooth_track`` over the stored raw tracks of the two moderate-noise
tuning clips for every ``smoothing.offline_sigma_s`` of its grid, and over the clips' truth with noise as strong as
the network's (``quality_clips.matched_noisy_truth``). Printed per sigma and clip: acceleration error over raw's, MPJPE
over raw's, the peak fast-limb speed ratio of the smoothed truth+noise (what smoothing keeps of the truth's fastest
moments; the network's own rows keep far less of them, whatever the smoothing), and the amplitude the kernel keeps
of a CLAP_HZ sine (``(1 + u) exp(-u)``, ``u = 2 pi^2 sigma^2 f^2``, stream/smooth/offline.py). The goals on both
clips: acceleration error at most 1/3 of raw's, MPJPE no worse than raw, peak ratio within 10 %, and a 3 Hz clap
kept at 90 % or more; the sigma chosen is the largest (most noise removed) that meets them all.
"""
from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from bench_quality import CLIPS, TUNING_SEED
from quality_clips import FPS, ClipSpec, FastJoints, demo_assets, offline_motions, online_motions, raw_motions
from quality_clips import read_clip, refilter, run_clip, write_clip

MIN_CUTOFFS = (0.25, 0.5, 1.0, 2.0, 3.0, 4.0, 6.0)   # Hz
BETAS = (0.0, 0.1, 0.3, 1.0, 3.0)
MAX_ACCEL_RATIO, MAX_LAG = 0.5, 2.0
OFFLINE_SIGMAS = (0.03, 0.035, 0.04, 0.045, 0.05, 0.0525, 0.055, 0.06, 0.07, 0.08)   # s
MAX_OFFLINE_ACCEL_RATIO, MAX_PEAK_ERROR = 1 / 3, 0.1
CLAP_HZ, MIN_CLAP_KEPT = 3.0, 0.9


def tuning_clips(frames: int, work: Path, reuse: bool, noises=("moderate", "heavy")) -> list[tuple]:
    """Per tuning clip of those ``noises``: (name, tracks, truth, who, raw scores, clip); ``reuse``: clips and
    stores already in ``work``."""
    from stream.demo.score import match_rows, score_motions

    out = []
    for spec in (s for s in CLIPS if s.noise in noises):
        spec = ClipSpec(spec.people, spec.noise, TUNING_SEED)
        clip = write_clip(work, spec, frames, reuse)
        tracks, truth = read_clip(run_clip(clip, work / f"{spec.name}-{frames}f.zarr", reuse=reuse), clip)
        who = match_rows(tracks, truth)
        out.append((spec.name, tracks, truth, who, score_motions(raw_motions(tracks, truth, who), truth), clip))
        raw = out[-1][4]
        print(f"  {spec.name}: raw accel {raw['accel_error_mm']:.1f} mm/frame², lag {raw['lag_frames']:.2f} frames, "
              f"MPJPE {raw['mpjpe_mm']:.1f} mm, peak speed {raw['peak_speed_ratio']:.2f}", flush=True)
    return out


def sweep(clips: list[tuple], joints: FastJoints) -> list[dict]:
    from stream.demo.score import score_motions

    rows = []
    for min_cutoff in MIN_CUTOFFS:
        for beta in BETAS:
            per_clip = []
            for _, tracks, truth, who, raw, _ in clips:
                smoothed = refilter(tracks, min_cutoff, beta)
                s = score_motions(online_motions(tracks, truth, joints, who, smoothed), truth)
                per_clip.append((s["accel_error_mm"] / raw["accel_error_mm"], s["lag_frames"], s["mpjpe_mm"],
                                 s["pa_mpjpe_mm"], s["peak_speed_ratio"]))
            a = np.array(per_clip)
            rows.append({"min_cutoff": min_cutoff, "beta": beta, "accel_ratio": a[:, 0].mean(),
                         "worst_ratio": a[:, 0].max(), "lag": a[:, 1].mean(), "worst_lag": a[:, 1].max(),
                         "mpjpe": a[:, 2].mean(), "pa_mpjpe": a[:, 3].mean(), "peak_speed": a[:, 4].mean()})
            r = rows[-1]
            print(f"{min_cutoff:>10.2f}{beta:>7.2f}{r['accel_ratio']:>9.2f}{r['worst_ratio']:>9.2f}{r['lag']:>7.2f}"
                  f"{r['worst_lag']:>7.2f}{r['mpjpe']:>8.1f}{r['pa_mpjpe']:>9.1f}{r['peak_speed']:>8.2f}", flush=True)
    return rows


def clap_kept(sigma_s: float, hz: float = CLAP_HZ) -> float:
    """The amplitude of an ``hz`` sine that the offline kernel keeps inside a segment (module docstring)."""
    u = 2 * np.pi ** 2 * sigma_s ** 2 * hz ** 2
    return float((1 + u) * np.exp(-u))


def sweep_offline(clips: list[tuple], joints: FastJoints) -> list[dict]:
    """Per sigma of OFFLINE_SIGMAS: over ``clips``, the worst acceleration ratio and MPJPE ratio of the smoothed
    tracks, and the worst peak speed error of the smoothed truth+noise (the same noisy truth for every sigma)."""
    from stream.config import SmoothingConfig
    from stream.demo.score import score_motions
    from quality_clips import matched_noisy_truth, smoothed_truth_motions

    noisy = [matched_noisy_truth(clip, truth, joints, raw["accel_error_mm"], TUNING_SEED)
             for _, _, truth, _, raw, clip in clips]
    rows = []
    for sigma in OFFLINE_SIGMAS:
        per_clip, config = [], SmoothingConfig(offline_sigma_s=sigma)
        for (name, tracks, truth, who, raw, _), truth_tracks in zip(clips, noisy):
            s = score_motions(offline_motions(tracks, truth, joints, FPS, config, who), truth)
            alone = score_motions(smoothed_truth_motions(truth_tracks, truth, joints, config), truth)
            per_clip.append((s["accel_error_mm"] / raw["accel_error_mm"], s["mpjpe_mm"] / raw["mpjpe_mm"],
                             alone["peak_speed_ratio"]))
            print(f"{sigma:>8.4f}  {name:<18}{per_clip[-1][0]:>10.3f}{per_clip[-1][1]:>11.3f}{per_clip[-1][2]:>7.2f}"
                  f"{clap_kept(sigma):>7.2f}", flush=True)
        a = np.array(per_clip)
        rows.append({"sigma": sigma, "worst_accel_ratio": a[:, 0].max(), "worst_mpjpe_ratio": a[:, 1].max(),
                     "peaks": a[:, 2].round(3).tolist(), "worst_peak_error": np.abs(a[:, 2] - 1).max()})
    return rows


def choose_offline(rows: list[dict]) -> None:
    """Print the sigma of ``sweep_offline``'s rows that the module docstring's rule chooses."""
    ok = [r for r in rows if r["worst_accel_ratio"] <= MAX_OFFLINE_ACCEL_RATIO and r["worst_mpjpe_ratio"] <= 1.0
          and r["worst_peak_error"] <= MAX_PEAK_ERROR and clap_kept(r["sigma"]) >= MIN_CLAP_KEPT]
    if not ok:
        print("no sigma meets every goal on every clip")
        return
    best = max(ok, key=lambda r: r["sigma"])
    print(f"chosen: offline_sigma_s {best['sigma']} s (the largest meeting every goal: truth+noise peak ratios "
          f"{best['peaks']}, worst acceleration ratio {best['worst_accel_ratio']:.3f}, worst MPJPE / raw "
          f"{best['worst_mpjpe_ratio']:.3f}, {clap_kept(best['sigma']):.0%} of a {CLAP_HZ:g} Hz clap kept)")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--frames", type=int, default=300)
    ap.add_argument("--offline", action="store_true", help="sweep the offline smoother's sigma instead")
    ap.add_argument("--work", type=Path, default=None,
                    help="folder for clips and stores, reused when there (default: a temp folder)")
    args = ap.parse_args()
    from nets.body import BodyModel

    start = time.perf_counter()
    assets, _ = demo_assets()
    joints = FastJoints(BodyModel.from_files(assets["smpl"], assets["joint_regressor_extra"]))
    with tempfile.TemporaryDirectory() as tmp:
        work = args.work or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        print(f"tuning seed {TUNING_SEED}, {args.frames} frames per clip")
        clips = tuning_clips(args.frames, work, reuse=args.work is not None,
                             noises=("moderate",) if args.offline else ("moderate", "heavy"))
    if args.offline:
        print(f"{'sigma s':>8}  {'clip':<18}{'accel/raw':>10}{'MPJPE/raw':>11}{'peak':>7}{'clap':>7}")
        choose_offline(sweep_offline(clips, joints))
        print(f"wall time {time.perf_counter() - start:.0f} s")
        return
    print(f"{'min_cutoff':>10}{'beta':>7}{'accel/raw':>9}{'worst':>9}{'lag':>7}{'worst':>7}{'MPJPE':>8}{'PA-MPJPE':>9}"
          f"{'peak':>8}")
    rows = sweep(clips, joints)
    ok = [r for r in rows if r["worst_ratio"] <= MAX_ACCEL_RATIO and r["worst_lag"] <= MAX_LAG]
    if ok:
        best = min(ok, key=lambda r: r["mpjpe"])
        print(f"chosen: min_cutoff {best['min_cutoff']} Hz, beta {best['beta']} (accel/raw <= {MAX_ACCEL_RATIO} and "
              f"lag <= {MAX_LAG} frames on every clip; lowest mean MPJPE of the {len(ok)} pairs that do)")
    else:
        best = min((r for r in rows if r["worst_lag"] <= MAX_LAG), key=lambda r: r["accel_ratio"], default=None)
        print(f"no pair meets accel/raw <= {MAX_ACCEL_RATIO} at lag <= {MAX_LAG} on every clip; lowest accel "
              f"ratio at that lag: {best}")
    print(f"wall time {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
