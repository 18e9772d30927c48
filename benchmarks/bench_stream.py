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

- decode: ``FrameSource`` iteration;  pose: ``PoseStage`` in ``pose2d.batch_size`` batches;
- track: ``TrackStage`` over those poses;  crops: ``MeshStage.jobs`` per frame;
- mesh stage: ``MeshStage.__call__`` on the runner's groups (whole frames gathered while they fit in
  ``max_batch`` crops, as ``run_local`` gathers them), with ``concat_jobs``/``split_rows`` as the runner does;
- bare forward: the model alone on pre-made tensors of the same forward passes (``torch.no_grad``, no numpy),
  timed group by group right after the mesh stage's call on that group (paired, so drift on a shared machine
  hits both alike); also on full ``max_batch`` chunks of all crops, to show what the groups' remainders cost;
- writer: ``StoreSink.add`` of the precomputed rows into a fresh store (open, add, finish).

End to end: ``run_local`` (one process) and ``run_ray`` (embedded Ray started with ``stream.pipeline.ray_setup.init_ray``,
as ``run_ray`` would; its start-up is timed apart). Rates are steady state: frames (crops) stored between the
first and the last progress callback over the time between them, so loading models, Ray actors and the
first group are left out; the wall time with them is printed too. Ratios: end to end / slowest stage
(goal >= 0.8), the sequential bound 1 / sum(1 / stage rate) that ``run_local`` can at best reach, and
mesh stage / bare forward (goal >= 0.9). The same clip with people on its first frame only gives each
runner's per-frame cost without the model (decode, tracking, store, and Ray's calls).

Peak memory: each runner in a subprocess on the clip and on a 4x longer one (goal: flat). Local: the child's
peak RSS (``VmHWM``; ``ru_maxrss`` would carry the parent's peak over fork + exec). Ray: the peak over time
of the summed RSS, and of the summed PSS (shared pages split between processes; the object store is shared
memory), of the driver and every process under it (GCS, raylet, workers), sampled from /proc every 0.2 s.
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch

from memory import TreeSampler, peak_rss_self_kb
from timing import median_seconds, sync

RUNNERS = ("local", "ray")


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
    from nets.standin import write_standin_body
    folder = Path(args.work) / "assets"
    folder.mkdir(parents=True, exist_ok=True)
    smpl, extra = folder / "standin_smpl_neutral.pkl", folder / "standin_J_regressor_extra.npy"
    if not (smpl.is_file() and extra.is_file()):
        smpl, extra = write_standin_body(folder)
    ckpt = folder / f"{args.model}_untrained.pt"
    if not ckpt.is_file():
        from train.reduced import REDUCED_CONFIG
        torch.manual_seed(0)
        body = BodyModel.from_files(smpl, extra)
        model = CrowdNet(body, REDUCED_CONFIG) if args.model == "reduced" else CrowdNet(body)
        save_checkpoint(model, ckpt, standin=True, note="untrained: benchmark stand-in")
    assets = {"smpl": smpl, "joint_regressor_extra": extra, "checkpoint": ckpt}
    if args.pose == "rtmo":
        from dataclasses import replace

        from nets.rtmo.model import RTMO, SIZES
        path = folder / "rtmo-s_coco17_random.pth"
        if not path.is_file():
            torch.manual_seed(0)
            torch.save({"state_dict": RTMO(replace(SIZES["s"], num_keypoints=17)).state_dict(), "meta": {}}, path)
        assets["rtmo"] = path
    return assets


def make_config(args, video, dets, assets, output):
    from stream.config import load_pipeline_config
    # --pose rtmo: a random RTMO finds up to 2000 "people" per frame (its candidate cap), so it is timed alone
    # (measure_stages) and every run downstream of the pose stage uses the simulated detections
    return load_pipeline_config(None, [
        f"input={video}", f"output={output}", "pose2d.backend=precomputed", f"pose2d.poses={dets}",
        f"pose2d.device={args.device}", f"model.checkpoint={assets['checkpoint']}",
        f"body.smpl={assets['smpl']}", f"body.joint_regressor_extra={assets['joint_regressor_extra']}",
        f"model.max_batch={args.max_batch}", f"model.device={args.device}"])


# -- stages alone ----------------------------------------------------------------------------------------
def runner_groups(jobs: list[dict], max_batch: int) -> list[list[int]]:
    """Frame positions per mesh call as ``run_local`` gathers them: whole frames while they fit in
    ``max_batch`` crops (a frame with more people goes alone and is split into ``max_batch`` passes)."""
    groups, group, count = [], [], 0
    for i, j in enumerate(jobs):
        n = len(j["track_id"])
        if group and count + n > max_batch:
            groups.append(group)
            group, count = [], 0
        group.append(i)
        count += n
    if group:
        groups.append(group)
    return groups


def forward_tensors(jobs: dict, max_batch: int, device) -> list[tuple]:
    """The model inputs of ``MeshStage.__call__``'s forward passes over ``jobs``, made beforehand."""
    n = len(jobs["track_id"])
    return [tuple(torch.from_numpy(np.ascontiguousarray(jobs[k][s:s + max_batch])).to(device)
                  for k in ("img", "joints", "joints_mask", "bbox")) for s in range(0, n, max_batch)]


def measure_stages(args, cfg, video, workdir: Path, assets: dict) -> dict:
    """{stage: seconds over the clip} plus the counts; every stage on the same frames."""
    from stream.source.frames import FrameSource
    from stream.pipeline.local import StoreSink, load_mesh_stage, load_pose_stage
    from stream.mesh.stage import TrackStage, concat_jobs, split_rows

    source = FrameSource(str(video))
    pose = load_pose_stage(cfg)
    mesh = load_mesh_stage(cfg, pose.joint_set)
    state: dict = {}

    def decode():
        state["frames"] = list(FrameSource(str(video)))

    def poses():
        frames, size, out = state["frames"], cfg.pose2d.batch_size, []
        for s in range(0, len(frames), size):
            batch = frames[s:s + size]
            out += pose([f.bgr for f in batch], [f.index for f in batch])
        state["poses"] = out

    def track():
        stage = TrackStage(cfg.tracker.for_fps(source.fps), pose.joint_set)
        state["people"] = [stage(f.index, p)[0] for f, p in zip(state["frames"], state["poses"])]

    def crops():
        state["jobs"] = [mesh.jobs(f.index, f.bgr, people) for f, people in zip(state["frames"], state["people"])]
        state["groups"] = runner_groups(state["jobs"], cfg.model.max_batch)
        grouped = [concat_jobs([state["jobs"][i] for i in g]) for g in state["groups"]]
        state["tensors"] = [t for g in grouped for t in forward_tensors(g, cfg.model.max_batch, mesh.device)]
        state["full"] = forward_tensors(concat_jobs(state["jobs"]), cfg.model.max_batch, mesh.device)

    def mesh_stage():   # the warm-up's rows feed the writer; the timed figure is ``paired``'s
        if "rows" in state:
            return
        rows = []
        for g in state["groups"]:
            out = mesh(concat_jobs([state["jobs"][i] for i in g]))
            rows += split_rows(out, [state["frames"][i].index for i in g])
        state["rows"] = rows

    def bare(key):
        def fn():
            with torch.no_grad():
                for img, joints, mask, bbox in state[key]:
                    mesh.model(img, joints, mask, bbox=bbox)
        return fn

    def writer():
        h, w = state["frames"][0].bgr.shape[:2]
        sink = StoreSink(workdir / "writer_stage.zarr", cfg=cfg, fingerprints={"benchmark": "bench_stream"},
                         source={"path": str(video), "kind": "video", "fps": source.fps, "size": None,
                                 "frame_count": len(state["frames"])}, joint_set=pose.joint_set, overwrite=True)
        sink.open(w, h)
        for f, people, rows in zip(state["frames"], state["people"], state["rows"]):
            sink.add(f, people, rows)
        sink.close(finished=True)

    def paired(suffix: str):
        """Mesh stage and bare forward alternated group by group, so the machine's drift hits both alike."""
        def fn():
            spent = {"mesh stage" + suffix: 0.0, "bare forward" + suffix: 0.0}
            rows, t = [], 0
            for g in state["groups"]:
                jobs = concat_jobs([state["jobs"][i] for i in g])
                passes = state["tensors"][t:t + -(-len(jobs["track_id"]) // cfg.model.max_batch)]
                t += len(passes)
                start = time.perf_counter()
                out = mesh(jobs)
                rows += split_rows(out, [state["frames"][i].index for i in g])
                sync()
                middle = time.perf_counter()
                with torch.no_grad():
                    for img, joints, mask, bbox in passes:
                        mesh.model(img, joints, mask, bbox=bbox)
                sync()
                spent["mesh stage" + suffix] += middle - start
                spent["bare forward" + suffix] += time.perf_counter() - middle
            state["rows"] = rows
            return spent
        return fn

    runs = {"decode": decode, "pose": poses, "track": track, "crops": crops, "mesh stage": mesh_stage,
            "bare forward, full batches": bare("full"), "writer": writer}
    if args.pose == "rtmo":   # the network's real cost; on one pose batch, its output is not used downstream
        from stream.pose2d.base import make_backend
        from stream.mesh.stage import PoseStage
        rtmo = PoseStage(make_backend("rtmo", checkpoint=assets["rtmo"], device=cfg.pose2d.device,
                                      batch_size=cfg.pose2d.batch_size))

        def rtmo_poses():
            batch = state["frames"][:cfg.pose2d.batch_size]
            state["rtmo_people"] = sum(len(p) for p in rtmo([f.bgr for f in batch], [f.index for f in batch]))
        runs["pose, rtmo-s random (1 batch)"] = rtmo_poses
    threads = torch.get_num_threads()
    ray_threads = ray_thread_share()
    pairs = {"": paired("")}

    def with_threads(fn):
        def run():
            torch.set_num_threads(ray_threads)
            try:
                return fn()
            finally:
                torch.set_num_threads(threads)
        return run
    if ray_threads != threads:   # the Ray mesh worker's torch threads (stream.pipeline.ray_driver.worker_resources)
        pairs[f", {ray_threads} thread(s)"] = with_threads(paired(f", {ray_threads} thread(s)"))
        runs[f"bare forward, full batches, {ray_threads} thread(s)"] = with_threads(bare("full"))
    seconds = median_seconds(runs, args.repeat)
    del seconds["mesh stage"]    # only made the writer's rows in the warm-up; the paired figure replaces it
    for fn in pairs.values():
        rounds = [fn() for _ in range(args.repeat + 1)][1:]   # the first is the warm-up
        seconds.update({k: statistics.median(r[k] for r in rounds) for k in rounds[0]})
    return {"seconds": seconds, "frames": len(state["frames"]),
            "crops": sum(len(j["track_id"]) for j in state["jobs"]),
            "people": sum(len(p) for p in state["poses"]), "forwards": len(state["tensors"]),
            "full_forwards": len(state["full"]), "device": mesh.device, "threads": threads,
            "rtmo_frames": min(len(state["frames"]), cfg.pose2d.batch_size), "rtmo_people": state.get("rtmo_people"),
            "ray_threads": ray_threads}


def ray_thread_share() -> int:
    """Torch threads of a Ray mesh worker on this machine with no GPU: ``worker_resources`` gives one pose
    and one mesh worker and splits the CPUs between them."""
    if torch.cuda.is_available():
        return torch.get_num_threads()
    return max(1, (os.cpu_count() or 1) // 2)


# -- end to end --------------------------------------------------------------------------------------------
class Progress:
    """``progress(frames, people)`` callback that keeps when each group was stored."""

    def __init__(self):
        self.marks: list[tuple[float, int, int]] = []

    def __call__(self, frames: int, people: int) -> None:
        self.marks.append((time.perf_counter(), frames, people))

    def first(self, start: float) -> float:
        """Seconds from ``start`` to the first stored group (model loading, actors, the first group)."""
        return self.marks[0][0] - start if self.marks else float("nan")

    def steady(self) -> tuple[float, float]:
        """(frames/s, crops/s) between the first and the last callback (nan with fewer than two)."""
        if len(self.marks) < 2:
            return float("nan"), float("nan")
        span = self.marks[-1][0] - self.marks[0][0]
        return (sum(m[1] for m in self.marks[1:]) / span, sum(m[2] for m in self.marks[1:]) / span)


def empty_config(args, cfg, dets: Path, work: Path):
    """``cfg`` with detections on the first frame only: the runners' per-frame cost without the mesh model."""
    import dataclasses
    records = [r for r in json.loads(Path(dets).read_text()) if r["image_id"] == 0]
    path = work / f"{Path(dets).parent.name}_first_frame_only.json"
    path.write_text(json.dumps(records))
    return dataclasses.replace(cfg, output=str(work / "e2e_empty.zarr"),
                               pose2d=dataclasses.replace(cfg.pose2d, poses=str(path)))


def empty_rate(runner: str, cfg) -> float:
    """Frames/s of a run with (almost) no people. Ray: steady state between progress callbacks (one per frame).
    Local: one callback at the end, so frames over the wall time less the time ``Run`` takes to build."""
    from stream.pipeline.local import Run, run_local
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
    from stream.pipeline.local import run_local
    out = {"wall": [], "fps": [], "cps": [], "callbacks": [], "first": []}
    startup = None
    if runner == "ray":
        from stream.pipeline.ray_driver import run_ray
        from stream.pipeline.ray_setup import init_ray
        start = time.perf_counter()
        init_ray(cfg.ray.address)
        startup = time.perf_counter() - start
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
            out["callbacks"].append(len(progress.marks))
        if runner == "ray":
            from stream.pipeline.ray_driver import worker_resources
            out["resources"] = worker_resources(cfg)
        if empty_cfg is not None:
            out["empty_fps"] = empty_rate(runner, empty_cfg)
    finally:
        if runner == "ray":
            from stream.pipeline.ray_setup import shutdown_ray
            shutdown_ray()
    return {"wall": statistics.median(out["wall"]), "fps": statistics.median(out["fps"]),
            "cps": statistics.median(out["cps"]), "callbacks": out["callbacks"][-1], "startup": startup,
            "first": statistics.median(out["first"]), "empty_fps": out.get("empty_fps"),
            "frames": summary.processed, "crops": summary.person_crops, "resources": out.get("resources")}


# -- peak memory ------------------------------------------------------------------------------------------
def child(args) -> None:
    """One end-to-end run for the memory figures; prints one JSON line."""
    video, dets, _ = ensure_clip(args, args.child_frames)
    assets = ensure_assets(args)
    out = Path(args.work) / f"rss_{args.child}_{args.child_frames}.zarr"
    cfg = make_config(args, video, dets, assets, out)
    with TreeSampler() as sampler:
        result = end_to_end(args.child, cfg, 1)
    print(json.dumps({"maxrss_kb": peak_rss_self_kb(),
                      "tree_rss_kb": sampler.peak_rss, "tree_pss_kb": sampler.peak_pss,
                      "processes": sampler.processes, "frames": result["frames"], "fps": result["fps"]}))


def peak_memory(args, runner: str, frames: int) -> dict:
    cmd = [sys.executable, __file__, "--child", runner, "--child-frames", str(frames)] + child_args(args)
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"memory run {runner} {frames} frames failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def child_args(args) -> list[str]:
    return ["--people", str(args.people), "--size", f"{args.size[0]}x{args.size[1]}", "--model", args.model,
            "--pose", args.pose, "--max-batch", str(args.max_batch), "--device", args.device, "--seed",
            str(args.seed), "--work", str(args.work), "--threads", str(args.threads)]


# -- report -------------------------------------------------------------------------------------------------
def load_average() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def main():
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
    logging.basicConfig(level=logging.ERROR)
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.child:
        return child(args)

    began = time.perf_counter()
    print(f"load average {load_average()} | {os.cpu_count()} CPUs, torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads, device {args.device}")
    video, dets, made = ensure_clip(args, args.frames)
    assets = ensure_assets(args)
    work = Path(args.work)
    cfg = make_config(args, video, dets, assets, work / "e2e.zarr")
    w, h = args.size
    print(f"clip: {args.people} people, {args.frames} frames, {w}x{h} ({'generated' if made else 'cached'} in "
          f"{clip_folder(args, args.frames)}); model {args.model} (untrained stand-in), pose {args.pose}, "
          f"max_batch {args.max_batch}, pose batch {cfg.pose2d.batch_size}, store flush {cfg.store.flush_frames}, "
          f"median of {args.repeat} after a warm-up")

    st = measure_stages(args, cfg, video, work, assets)
    n, crops, sec = st["frames"], st["crops"], st["seconds"]
    print(f"\nstages alone ({n} frames, {st['people']} poses, {crops} person crops = {crops / n:.2f} per frame; "
          f"{st['forwards']} forward passes in the runner's groups, {st['full_forwards']} in full batches; "
          f"{st['threads']} torch threads on {st['device']})")
    rate = {k: n / s for k, s in sec.items()}
    rtmo_key = "pose, rtmo-s random (1 batch)"
    if rtmo_key in sec:
        sec[rtmo_key] *= n / st["rtmo_frames"]   # per clip, like the others
    for key, s in sec.items():
        cps = f"  {crops / s:9.1f} crops/s" if key not in ("decode", "pose", "track", rtmo_key) else ""
        print(f"  {key:40s} {s:8.3f} s  {rate[key]:9.1f} frames/s{cps}")
    if rtmo_key in sec:
        print(f"  ({rtmo_key}: {st['rtmo_frames']} frames timed, scaled to the clip; random weights found "
              f"{st['rtmo_people'] / st['rtmo_frames']:.0f} people per frame, so its decoding costs more than a "
              "trained network's; not fed to the later stages or the runners, which use the simulated detections)")
    pipeline_stages = ("decode", "pose", "track", "crops", "mesh stage", "writer")
    slowest = min(pipeline_stages, key=lambda k: rate[k])
    bound = 1.0 / sum(1.0 / rate[k] for k in pipeline_stages)
    print(f"  slowest stage: {slowest} ({rate[slowest]:.1f} frames/s); sequential bound 1/sum(1/rate) = "
          f"{bound:.1f} frames/s ({bound / rate[slowest]:.2f} x slowest)")
    print(f"  mesh stage / bare forward (same passes):      {sec['bare forward'] / sec['mesh stage']:.2f}"
          "  (goal >= 0.9)")
    print(f"  bare forward runner groups / full batches:    "
          f"{sec['bare forward, full batches'] / sec['bare forward']:.2f}  (crops/s of the runner's passes vs full "
          f"{args.max_batch}-crop passes)")
    one = f"mesh stage, {st['ray_threads']} thread(s)"
    ray_slowest = slowest
    if one in sec:
        t1 = f"{st['ray_threads']} thread(s)"
        print(f"  at the Ray mesh worker's {t1}: mesh stage {rate[one]:.1f} frames/s "
              f"({sec['mesh stage'] / sec[one]:.2f} x the {st['threads']}-thread rate); mesh stage / bare forward "
              f"{sec[f'bare forward, {t1}'] / sec[one]:.2f}; runner groups / full batches "
              f"{sec[f'bare forward, full batches, {t1}'] / sec[f'bare forward, {t1}']:.2f}")
        ray_slowest = min((k if k != "mesh stage" else one for k in pipeline_stages), key=lambda k: rate[k])
    # a Ray mesh worker crops (MeshWorker.meshes -> MeshStage.jobs) and runs the model, one after the other
    mesh_worker = 1.0 / (1.0 / rate["crops"] + 1.0 / rate[one if one in rate else "mesh stage"])
    print(f"  crops + mesh stage in one process (what one Ray mesh worker does): {mesh_worker:.1f} frames/s")

    e2e = {}
    for runner in args.runners:
        e2e[runner] = r = end_to_end(runner, cfg, args.repeat,
                                     empty_config(args, cfg, dets, work) if args.pose == "precomputed" else None)
        extra = f"; Ray start-up {r['startup']:.1f} s (not in the wall time)" if r["startup"] is not None else ""
        res = (f"; pools: {r['resources']['pose']} pose, {r['resources']['mesh']} mesh worker(s), "
               f"{r['resources']['threads']} torch thread(s) each") if r["resources"] else ""
        print(f"\nend to end, {runner}: {r['frames']} frames, {r['crops']} crops, wall {r['wall']:.2f} s "
              f"({r['frames'] / r['wall']:.1f} frames/s with model loading){extra}{res}")
        print(f"  first group stored after {r['first']:.2f} s; steady state after it ({r['callbacks']} progress "
              f"callbacks): {r['fps']:.1f} frames/s, {r['cps']:.1f} crops/s")
        if r["empty_fps"] is not None:
            print(f"  same clip, people on frame 0 only (no mesh work): {r['empty_fps']:.1f} frames/s steady state = "
                  f"{1000 / r['empty_fps']:.1f} ms per frame of {runner} runner overhead (decode, tracker, store, "
                  "calls)")
        ref = slowest if runner == "local" else ray_slowest
        print(f"  / slowest stage ({ref}: {rate[ref]:.1f} frames/s): {r['fps'] / rate[ref]:.2f}  (goal >= 0.8)"
              + (f";  / sequential bound: {r['fps'] / bound:.2f}" if runner == "local" else
                 f";  / crops + mesh stage: {r['fps'] / mesh_worker:.2f}"))

    if args.rss:
        print(f"\npeak memory, one subprocess per run ({args.frames} and {4 * args.frames} frames):")
        ensure_clip(args, 4 * args.frames)
    for runner in args.rss:
        m1, m4 = peak_memory(args, runner, args.frames), peak_memory(args, runner, 4 * args.frames)
        if runner == "local":
            print(f"  local: peak RSS (VmHWM) {m1['maxrss_kb'] / 1024:.0f} MiB at 1x, "
                  f"{m4['maxrss_kb'] / 1024:.0f} MiB at 4x: 4x/1x = {m4['maxrss_kb'] / m1['maxrss_kb']:.2f}"
                  "  (goal ~1.0)")
        else:
            print(f"  ray ({m1['processes']} processes): summed RSS {m1['tree_rss_kb'] / 1024:.0f} -> "
                  f"{m4['tree_rss_kb'] / 1024:.0f} MiB (4x/1x = {m4['tree_rss_kb'] / m1['tree_rss_kb']:.2f}), "
                  f"summed PSS {m1['tree_pss_kb'] / 1024:.0f} -> {m4['tree_pss_kb'] / 1024:.0f} MiB "
                  f"(4x/1x = {m4['tree_pss_kb'] / m1['tree_pss_kb']:.2f}); driver peak RSS "
                  f"{m1['maxrss_kb'] / 1024:.0f} -> {m4['maxrss_kb'] / 1024:.0f} MiB")
    summary = [f"slowest {slowest} {rate[slowest]:.1f} f/s", f"mesh/bare {sec['bare forward'] / sec['mesh stage']:.2f}"]
    summary += [f"{k} {r['fps']:.1f} f/s = x{r['fps'] / rate[slowest if k == 'local' else ray_slowest]:.2f} of "
                f"slowest" for k, r in e2e.items()]
    print(f"\nload average {load_average()} | total {time.perf_counter() - began:.0f} s")
    print(" | ".join(summary))


if __name__ == "__main__":
    main()
