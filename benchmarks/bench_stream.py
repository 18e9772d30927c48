"""``stream process`` end to end beside each of its stages measured alone, and peak memory at 1x and 4x length.

    python benchmarks/bench_stream.py                        # quick: 8 people, 120 frames, 640x360, reduced model
    python benchmarks/bench_stream.py --model official --pose rtmo --repeat 3
    python benchmarks/bench_stream.py --runners local --rss none

Input: a synthetic crowd clip (``stream.demo.synth.write_synthetic_clip``: H.264, simulated COCO-17 detections),
cached under ``--work``. Model: ``reduced`` (small backbone, 128 px crops; seconds on a CPU) or ``official``
(the ResNet-50 3DCrowdNet at 256 px, same compute as the released network); both untrained stand-ins with
the stand-in body (speed does not depend on the weights). Pose: ``precomputed`` (the simulated detections)
or ``rtmo``: also times native RTMO-s, randomly initialised, on one pose batch. A random RTMO finds up to
2000 "people" per frame (its candidate cap), so its output is not fed on: tracking, mesh and the runners
still use the simulated detections, and the RTMO figure (network, decoding of those candidates, NMS) is an
upper bound on a trained RTMO-s's pose stage.

Stages alone, on the same decoded frames, each ``median_seconds`` over ``--repeat`` rounds after a warm-up:
decode (``FrameSource``), pose (``PoseStage`` in ``pose2d.batch_size`` batches), track (``TrackStage``),
crops (``MeshStage.crops`` per frame), mesh stage (``MeshStage.__call__`` on the passes ``MeshBatcher`` forms,
as ``run_local`` forms them), bare forward (the model alone on pre-made tensors of the same passes, timed pass
by pass right after the mesh stage's call, so drift on a shared machine hits both alike; also on full
``max_batch`` chunks of all crops, to show what the passes' remainders cost), writer (``StoreSink`` into a
fresh store).

End to end: ``run_local`` and ``run_ray`` (embedded Ray, its start-up timed apart). Rates are steady state:
frames (crops) stored between the first and the last progress callback over the time between them. Ratios: end
to end / slowest stage (goal >= 0.8), the sequential bound 1 / sum(1 / stage rate), and mesh stage / bare
forward (goal >= 0.9). The clip with people on its first frame only gives each runner's per-frame cost without
the model. Peak memory: each runner in a subprocess at 1x and 4x length (goal: flat): local, the child's
``VmHWM``; Ray, the peak summed RSS and PSS of the driver and every process under it (``memory.TreeSampler``).
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import torch

from memory import TreeSampler, peak_rss_self_kb
from stream_stages import measure_stages
from timing import Progress, sync

RUNNERS = ("local", "ray")
PIPELINE_STAGES = ("decode", "pose", "track", "crops", "mesh stage", "writer")


# -- inputs ----------------------------------------------------------------------------------------------
def clip_folder(args, frames: int) -> Path:
    w, h = args.size
    return Path(args.work) / f"clip_{args.people}p_{frames}f_{w}x{h}_s{args.seed}"


def ensure_clip(args, frames: int):
    """(video, detections JSON, generated now?) of the cached synthetic clip, written when missing."""
    folder = clip_folder(args, frames)
    video, dets = folder / "clip.mp4", folder / "detections_coco17.json"
    if (folder / "truth.npz").is_file() and video.is_file() and dets.is_file():
        return video, dets, False
    from nets.synth import CrowdConfig
    from stream.demo.synth import write_synthetic_clip
    w, h = args.size
    clip = write_synthetic_clip(folder, CrowdConfig(people=args.people, frames=frames, width=w, height=h,
                                                    seed=args.seed), noise="moderate", joint_sets=("coco17",))
    return clip.video, clip.detections["coco17"], True


def ensure_assets(args) -> dict:
    """Stand-in body files, an untrained checkpoint of ``--model``, and (``--pose rtmo``) a random RTMO-s."""
    from nets.body import BodyModel
    from nets.checkpoint import save_checkpoint
    from nets.model import CrowdNet
    from nets.standin import standin_body_files
    folder = Path(args.work) / "assets"
    folder.mkdir(parents=True, exist_ok=True)
    smpl, extra = standin_body_files(folder)
    ckpt = folder / f"{args.model}_untrained.pt"
    if not ckpt.is_file():
        from train.reduced import REDUCED_CONFIG
        torch.manual_seed(0)
        body = BodyModel.from_files(smpl, extra)
        model = CrowdNet(body, REDUCED_CONFIG) if args.model == "reduced" else CrowdNet(body)
        save_checkpoint(model, ckpt, standin=True, note="untrained: benchmark stand-in")
    assets = {"smpl": smpl, "joint_regressor_extra": extra, "checkpoint": ckpt}
    if args.pose == "rtmo":
        from nets.rtmo.model import RTMO, SIZES
        path = folder / "rtmo-s_coco17_random.pth"
        if not path.is_file():
            torch.manual_seed(0)
            torch.save({"state_dict": RTMO(dataclasses.replace(SIZES["s"], num_keypoints=17)).state_dict(),
                        "meta": {}}, path)
        assets["rtmo"] = path
    return assets


def make_config(args, video, dets, assets, output):
    """Every run downstream of the pose stage uses the simulated detections (a random RTMO is timed alone)."""
    from stream.config import load_pipeline_config
    return load_pipeline_config(None, [
        f"input={video}", f"output={output}", "pose2d.backend=precomputed", f"pose2d.poses={dets}",
        f"pose2d.device={args.device}", f"model.checkpoint={assets['checkpoint']}",
        f"body.smpl={assets['smpl']}", f"body.joint_regressor_extra={assets['joint_regressor_extra']}",
        f"model.max_batch={args.max_batch}", f"model.device={args.device}"])


# -- stages alone ----------------------------------------------------------------------------------------
# -- end to end --------------------------------------------------------------------------------------------
def empty_config(cfg, dets: Path, work: Path):
    """``cfg`` with detections on the first frame only: the runners' per-frame cost without the mesh model."""
    records = [r for r in json.loads(Path(dets).read_text()) if r["image_id"] == 0]
    path = work / f"{Path(dets).parent.name}_first_frame_only.json"
    path.write_text(json.dumps(records))
    return dataclasses.replace(cfg, output=str(work / "e2e_empty.zarr"),
                               pose2d=dataclasses.replace(cfg.pose2d, poses=str(path)))


def empty_rate(runner: str, cfg) -> float:
    """Frames/s of a run with (almost) no people. Ray: steady state between progress callbacks (one per frame).
    Local: one callback at the end, so frames over the wall time less the time ``Run`` takes to build."""
    from stream.pipeline import Run, run_local
    progress = Progress()
    if runner == "ray":
        from stream.pipeline.ray_driver import run_ray
        run_ray(cfg, overwrite=True, progress=progress)
        return progress.steady()[0]
    start = time.perf_counter()
    Run(cfg, overwrite=True)
    setup = time.perf_counter() - start
    start = time.perf_counter()
    summary = run_local(cfg, overwrite=True, progress=progress)
    return summary.processed / (time.perf_counter() - start - setup)


def end_to_end(runner: str, cfg, repeat: int, empty_cfg=None) -> dict:
    from stream.pipeline import run_local
    out = {"wall": [], "fps": [], "cps": [], "first": [], "startup": None, "resources": None, "empty_fps": None}
    if runner == "ray":    # Ray imported for the Ray runner only (the local run's memory is measured without it)
        from stream.pipeline.ray_driver import run_ray
        from stream.pipeline.ray_pools import worker_resources
        from stream.pipeline.ray_setup import init_ray, shutdown_ray
        start = time.perf_counter()
        init_ray(cfg.ray.address)
        out["startup"] = time.perf_counter() - start
    try:
        for _ in range(repeat):
            progress = Progress()
            start = time.perf_counter()
            summary = (run_local if runner == "local" else run_ray)(cfg, overwrite=True, progress=progress)
            sync()
            out["wall"].append(time.perf_counter() - start)
            out["first"].append(progress.first(start))
            fps, cps = progress.steady()
            out["fps"].append(fps)
            out["cps"].append(cps)
        out["resources"] = worker_resources(cfg) if runner == "ray" else None
        out["empty_fps"] = empty_rate(runner, empty_cfg) if empty_cfg is not None else None
    finally:
        if runner == "ray":
            shutdown_ray()
    medians = {k: statistics.median(out[k]) for k in ("wall", "fps", "cps", "first")}
    return {**out, **medians, "callbacks": len(progress.marks), "frames": summary.processed,
            "crops": summary.person_crops}


# -- peak memory ------------------------------------------------------------------------------------------
def child(args) -> None:
    """One end-to-end run for the memory figures; prints one JSON line."""
    video, dets, _ = ensure_clip(args, args.child_frames)
    cfg = make_config(args, video, dets, ensure_assets(args), Path(args.work) / f"rss_{args.child}.zarr")
    with TreeSampler() as sampler:
        result = end_to_end(args.child, cfg, 1)
    print(json.dumps({"maxrss_kb": peak_rss_self_kb(), "tree_rss_kb": sampler.peak_rss,
                      "tree_pss_kb": sampler.peak_pss, "processes": sampler.processes, "frames": result["frames"]}))


def peak_memory(args, runner: str, frames: int) -> dict:
    cmd = [sys.executable, __file__, "--child", runner, "--child-frames", str(frames),
           "--people", str(args.people), "--size", f"{args.size[0]}x{args.size[1]}", "--model", args.model,
           "--pose", args.pose, "--max-batch", str(args.max_batch), "--device", args.device, "--seed",
           str(args.seed), "--work", str(args.work), "--threads", str(args.threads)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"memory run {runner} {frames} frames failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


# -- report -------------------------------------------------------------------------------------------------
def load_average() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def report_stages(args, st: dict) -> dict:
    """Print the stages alone; -> rates and the references the runners are compared with."""
    n, crops, sec = st["frames"], st["crops"], st["seconds"]
    print(f"\nstages alone ({n} frames, {st['people']} poses, {crops} person crops = {crops / n:.2f} per frame; "
          f"{st['forwards']} forward passes in the runner's passes, {st['full_forwards']} in full batches; "
          f"{st['threads']} torch threads on {st['device']})")
    rtmo_key = "pose, rtmo-s random (1 batch)"
    if rtmo_key in sec:
        sec[rtmo_key] *= n / st["rtmo_frames"]   # per clip, like the others
    rate = {k: n / s for k, s in sec.items()}
    for key, s in sec.items():
        cps = f"  {crops / s:9.1f} crops/s" if key not in ("decode", "pose", "track", rtmo_key) else ""
        print(f"  {key:40s} {s:8.3f} s  {rate[key]:9.1f} frames/s{cps}")
    if rtmo_key in sec:
        print(f"  ({rtmo_key}: {st['rtmo_frames']} frames timed, scaled to the clip; random weights found "
              f"{st['rtmo_people'] / st['rtmo_frames']:.0f} people per frame; not fed to the later stages)")
    slowest = min(PIPELINE_STAGES, key=lambda k: rate[k])
    bound = 1.0 / sum(1.0 / rate[k] for k in PIPELINE_STAGES)
    print(f"  slowest stage: {slowest} ({rate[slowest]:.1f} frames/s); sequential bound 1/sum(1/rate) = "
          f"{bound:.1f} frames/s ({bound / rate[slowest]:.2f} x slowest)")
    print(f"  mesh stage / bare forward (same passes): {sec['bare forward'] / sec['mesh stage']:.2f}  (goal >= 0.9)")
    print(f"  bare forward runner passes / full batches: {sec['bare forward, full batches'] / sec['bare forward']:.2f}")
    one, t1, ray_slowest = f"mesh stage, {st['ray_threads']} thread(s)", f"{st['ray_threads']} thread(s)", slowest
    if one in sec:
        print(f"  at the Ray mesh worker's {t1}: mesh stage {rate[one]:.1f} frames/s "
              f"({sec['mesh stage'] / sec[one]:.2f} x the {st['threads']}-thread rate); mesh stage / bare forward "
              f"{sec[f'bare forward, {t1}'] / sec[one]:.2f}")
        ray_slowest = min((k if k != "mesh stage" else one for k in PIPELINE_STAGES), key=lambda k: rate[k])
    # a Ray mesh worker crops (MeshWorker.meshes -> MeshStage.crops) and runs the model, one after the other
    mesh_worker = 1.0 / (1.0 / rate["crops"] + 1.0 / rate[one if one in rate else "mesh stage"])
    print(f"  crops + mesh stage in one process (what one Ray mesh worker does): {mesh_worker:.1f} frames/s")
    return {"rate": rate, "local": slowest, "ray": ray_slowest, "bound": bound, "mesh_worker": mesh_worker,
            "mesh/bare": sec["bare forward"] / sec["mesh stage"]}


def report_end_to_end(runner: str, r: dict, ref: dict) -> None:
    extra = f"; Ray start-up {r['startup']:.1f} s (not in the wall time)" if r["startup"] is not None else ""
    res = (f"; pools: {r['resources']['pose']} pose, {r['resources']['mesh']} mesh worker(s), "
           f"{r['resources']['threads']} torch thread(s) each") if r["resources"] else ""
    print(f"\nend to end, {runner}: {r['frames']} frames, {r['crops']} crops, wall {r['wall']:.2f} s "
          f"({r['frames'] / r['wall']:.1f} frames/s with model loading){extra}{res}")
    print(f"  first pass stored after {r['first']:.2f} s; steady state after it ({r['callbacks']} progress "
          f"callbacks): {r['fps']:.1f} frames/s, {r['cps']:.1f} crops/s")
    if r["empty_fps"] is not None:
        print(f"  same clip, people on frame 0 only (no mesh work): {r['empty_fps']:.1f} frames/s steady state = "
              f"{1000 / r['empty_fps']:.1f} ms per frame of {runner} runner overhead (decode, tracker, store, calls)")
    slowest = ref[runner]
    print(f"  / slowest stage ({slowest}: {ref['rate'][slowest]:.1f} frames/s): {r['fps'] / ref['rate'][slowest]:.2f}"
          "  (goal >= 0.8)" + (f";  / sequential bound: {r['fps'] / ref['bound']:.2f}" if runner == "local" else
                               f";  / crops + mesh stage: {r['fps'] / ref['mesh_worker']:.2f}"))


def report_memory(args, runner: str) -> None:
    m1, m4 = peak_memory(args, runner, args.frames), peak_memory(args, runner, 4 * args.frames)
    if runner == "local":
        print(f"  local: peak RSS (VmHWM) {m1['maxrss_kb'] / 1024:.0f} MiB at 1x, {m4['maxrss_kb'] / 1024:.0f} MiB "
              f"at 4x: 4x/1x = {m4['maxrss_kb'] / m1['maxrss_kb']:.2f}  (goal ~1.0)")
        return
    print(f"  ray ({m1['processes']} processes): summed RSS {m1['tree_rss_kb'] / 1024:.0f} -> "
          f"{m4['tree_rss_kb'] / 1024:.0f} MiB (4x/1x = {m4['tree_rss_kb'] / m1['tree_rss_kb']:.2f}), summed PSS "
          f"{m1['tree_pss_kb'] / 1024:.0f} -> {m4['tree_pss_kb'] / 1024:.0f} MiB (4x/1x = "
          f"{m4['tree_pss_kb'] / m1['tree_pss_kb']:.2f}); driver peak RSS {m1['maxrss_kb'] / 1024:.0f} -> "
          f"{m4['maxrss_kb'] / 1024:.0f} MiB")


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--frames", type=int, default=120)
    ap.add_argument("--people", type=int, default=8)
    ap.add_argument("--size", default="640x360", help="WIDTHxHEIGHT (even)")
    ap.add_argument("--model", choices=("reduced", "official"), default="reduced")
    ap.add_argument("--pose", choices=("precomputed", "rtmo"), default="precomputed")
    ap.add_argument("--max-batch", type=int, default=32, help="model.max_batch")
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu", help="model and pose device")
    ap.add_argument("--threads", type=int, default=0,
                    help="torch threads of this process (stages alone, run_local); 0 = torch's default")
    ap.add_argument("--repeat", type=int, default=1, help="rounds after the warm-up; medians are reported")
    ap.add_argument("--runners", nargs="+", choices=RUNNERS, default=list(RUNNERS))
    ap.add_argument("--rss", nargs="*", choices=RUNNERS, default=list(RUNNERS),
                    help="runners whose peak memory is measured at 1x and 4x the clip (none: --rss)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--work", default="/tmp/crowdmesh_bench_stream", help="cache of clips, assets and stores")
    ap.add_argument("--child", choices=RUNNERS, help=argparse.SUPPRESS)
    ap.add_argument("--child-frames", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args()
    args.size = tuple(int(v) for v in args.size.lower().split("x"))
    return args


def main():
    args = parse_args()
    logging.basicConfig(level=logging.ERROR)
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.child:
        return child(args)
    began = time.perf_counter()
    print(f"load average {load_average()} | {os.cpu_count()} CPUs, torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads, device {args.device}")
    video, dets, made = ensure_clip(args, args.frames)
    assets, work = ensure_assets(args), Path(args.work)
    cfg = make_config(args, video, dets, assets, work / "e2e.zarr")
    cached = "generated" if made else "cached"
    print(f"clip: {args.people} people, {args.frames} frames, {args.size[0]}x{args.size[1]} ({cached} in "
          f"{clip_folder(args, args.frames)}); model {args.model} (untrained stand-in), pose {args.pose}, "
          f"max_batch {args.max_batch}, pose batch {cfg.pose2d.batch_size}, median of {args.repeat} after a warm-up")
    ref = report_stages(args, measure_stages(args, cfg, video, work, assets))
    summary = [f"slowest {ref['local']} {ref['rate'][ref['local']]:.1f} f/s", f"mesh/bare {ref['mesh/bare']:.2f}"]
    for runner in args.runners:
        r = end_to_end(runner, cfg, args.repeat, empty_config(cfg, dets, work) if args.pose == "precomputed" else None)
        report_end_to_end(runner, r, ref)
        summary.append(f"{runner} {r['fps']:.1f} f/s = x{r['fps'] / ref['rate'][ref[runner]]:.2f} of slowest")
    if args.rss:
        print(f"\npeak memory, one subprocess per run ({args.frames} and {4 * args.frames} frames):")
        ensure_clip(args, 4 * args.frames)
    for runner in args.rss:
        report_memory(args, runner)
    print(f"\nload average {load_average()} | total {time.perf_counter() - began:.0f} s")
    print(" | ".join(summary))


if __name__ == "__main__":
    main()
