"""``stream batch`` on a loopback cluster of real ``ray start`` nodes: what passes through the driver, what moves
between nodes, what the driver costs per video, and 1 node against 2.

    python benchmarks/bench_cluster.py                        # 6-8 min on 2 cores
    python benchmarks/bench_cluster.py --quick                # smoke run, 2-3 min: its figures mean little
    python benchmarks/bench_cluster.py --json cluster.json --node-fps 400   # (e) for a node measured elsewhere

Inputs: ``bench_stream``'s synthetic crowd clip (8 people, 640x360, H.264; its simulated COCO-17 detections are
the precomputed poses) and reduced untrained stand-in model, on the CPU. Nodes: ``start_local_cluster``
(``tests/stream/ray_cluster.py``) on 127.0.0.2 with token authentication, each ``--num-cpus=1`` and pinned to a
core of its own (``taskset -c``). This process is the driver (``stream.pipeline.ray_driver.Driver``, joined with
``ray_session``), on no fixed core. Each Driver run starts its node's workers anew (20-30 s on a busy core here):
that sets the run times. ``cluster_meters.py`` says how each figure is read, ``cluster_runs.py`` how a run is.

(a) bytes through the driver per frame: its TCP bytes (the kernel's socket counters: every gRPC message sent or
    received, by peer), beside /proc/self/io rchar+wchar (blind to sendmsg/recvmsg, gRPC's calls) and the growth
    of its resident object-store pages (what it read through shared memory); a frame is W*H*3 bytes.
(b) driver CPU (process_time: all its threads, Ray's included) and Ray calls (``Driver.calls``) per video at two
    lengths. The progress polls (every 0.25 s while the driver waits: ray.nodes, ray.wait, a board read) are
    counted apart, their CPU measured mid-run (no video starting or ending).
(c) bytes between nodes per frame: TCP bytes over connections whose two ends are processes of different nodes, by
    service (connections to a node's object-manager port carry objects), beside an idle interval's rate; and
    placement: the pose and mesh workers of each node that ran videos have their processes under that node.
(d) frames/s of the same videos on 1 node and on 2 nodes: busy (the sum over nodes of each node's frames over the
    span from its first video's start to its last video's end: the driver starts each node's workers one node
    after another, so a node's start is not the run's) and over the whole run (worker start-up included). From
    the first poll at which every node has stored frames to the end: frames/s, frames per CPU-second of the nodes'
    processes (equal for 1 and 2 nodes: the same work per frame) and the cores each process group used, others'
    processes on the machine included (what the nodes did not get explains a ratio under 2).
(e) from (a)-(c) and per-frame stage times at one torch thread: GPU nodes one driver core can feed.
A calibration first moves known objects, to show what each measure sees.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import os
import statistics
import sys
import time
from pathlib import Path

import torch

from bench_stream import ensure_assets, ensure_clip, make_config
from cluster_runs import ClusterSession
from report import plain, print_section
from stream_stages import Stages, with_threads
from timing import median_seconds

ROOT = Path(__file__).resolve().parents[1]
SERVICES = ("GCS", "raylets", "objects", "calls")   # cluster_meters: what a connection's server end is


def machine() -> dict:
    import ray
    cpuinfo = Path("/proc/cpuinfo").read_text()
    model = next((line.split(":", 1)[1].strip() for line in cpuinfo.splitlines() if line.startswith("model name")),
                 "?")
    return {"cpu": model, "cores": os.cpu_count(), "ray": ray.__version__, "torch": torch.__version__,
            "python": sys.version.split()[0], "load average": " ".join(f"{x:.2f}" for x in os.getloadavg())}


def video_configs(args, assets: dict, frames: int, name: str) -> list:
    """``args.videos`` inputs of the cached ``frames``-frame clip, each with its own store under ``name``."""
    video, dets, _ = ensure_clip(args, frames)
    folder = Path(args.work) / "cluster" / name
    cfg = make_config(args, video, dets, assets, folder / "video0.zarr")
    cfg = dataclasses.replace(cfg, ray=dataclasses.replace(cfg.ray, max_inputs=args.max_inputs))
    return [dataclasses.replace(cfg, output=str(folder / f"video{i}.zarr")) for i in range(args.videos)]


def stage_times(args, cfg) -> dict:
    """Seconds per frame of each stage alone at one torch thread (a node's mesh worker gets one here)."""
    st = Stages(cfg, Path(cfg.input), Path(args.work))
    steps = {"decode": st.decode, "pose": st.pose, "track": st.track, "crops": st.crops, "mesh": st.mesh_stage,
             "writer": st.writer}
    seconds = median_seconds({k: with_threads(fn, 1) for k, fn in steps.items()}, args.repeat)
    return {k: s / len(st.frames) for k, s in seconds.items()}


def on_cluster(args, nodes: int, runs: list[tuple[str, list]], calibration: bool) -> dict:
    """Start ``nodes`` nodes (node i on core list ``args.cores[i]``), join them, run each of ``runs`` (name, cfgs);
    after the cluster stopped, the pids of its processes still alive (goal: none)."""
    out = {"runs": {}}
    with ClusterSession(nodes, args.cores) as session:
        out["idle"] = session.idle_rates(args.idle_s)
        if calibration:
            out["calibration"] = session.calibrate()
        for name, cfgs in runs:
            run = session.run(cfgs)
            out["runs"].setdefault(name, []).append(run)
            step(args, f"{nodes} node(s): {name} run, {len(cfgs)} x {run['frames'] // len(cfgs)} frames, "
                       f"{run['wall']:.1f} s")
    out["left behind"] = session.left_behind()
    return out


def step(args, what: str) -> None:
    print(f"[{time.perf_counter() - args.began:5.0f} s] {what}", flush=True)


# -- report ---------------------------------------------------------------------------------------------------
def net(run: dict, idle: dict, key: str) -> float:
    return run["tcp"].get(key, 0) - idle.get(key, 0.0) * run["wall"]


def per_poll_cpu(runs: list[tuple[str, dict]]) -> float:
    """Driver CPU seconds per poll: the median over runs of the mean between polls with no video beginning or
    ending (nan where no run had enough such polls)."""
    values = [r["poll_cpu"] for _, r in runs if r["poll_cpu"] == r["poll_cpu"]]
    return statistics.median(values) if values else float("nan")


def excl_polls(r: dict, per_poll: float) -> float:
    """Driver CPU seconds per video, less its polls."""
    return (r["driver CPU"] - r["polls"] * per_poll) / r["videos"]


def driver_rows(runs: list[tuple[str, dict]], frame_bytes: int, per_poll: float) -> list[dict]:
    rows = []
    for name, r in runs:
        tcp = {k: r["tcp"].get(f"driver: {k}", 0) for k in SERVICES}
        rows.append({"run": name, "frames/video": r["frames"] // r["videos"], "wall s": r["wall"],
                     "driver CPU s": r["driver CPU"], "CPU/video excl polls s": excl_polls(r, per_poll),
                     "polls": r["polls"], "polls/s": r["polls/s"], "CPU/poll ms (this run)": 1e3 * r["poll_cpu"],
                     "calls/poll": r["poll_calls"], "calls": r["calls"],
                     "calls excl polls/video": (r["calls"] - r["polls"]) / r["videos"],
                     "TCP B/frame": sum(tcp.values()) / r["frames"], "TCP B/poll": sum(tcp.values()) / r["polls"],
                     **{f"  {k}": v / r["frames"] for k, v in tcp.items()},
                     "rchar+wchar B/frame": r["driver rchar+wchar"] / r["frames"],
                     "obj-store pages B": r["driver object-store pages"], "frame B": frame_bytes})
    return rows


def between_rows(runs: list[tuple[str, dict]], idle: dict) -> list[dict]:
    row = []
    for name, r in runs:
        tcp = {k: r["tcp"].get(f"between nodes: {k}", 0) for k in SERVICES}
        row.append({"run": name, "frames": r["frames"], "placement ok": r["placement_ok"],
                    "frames by node": " ".join(f"{k}:{v['frames']}" for k, v in sorted(r["nodes"].items())),
                    **{f"{k} B/frame": v / r["frames"] for k, v in tcp.items()},
                    **{f"{k} B/s": v / r["wall"] for k, v in tcp.items()},
                    **{f"{k} idle B/s": idle.get(f"between nodes: {k}", 0.0) for k in SERVICES}})
    return row


def cpu_row(name: str, r: dict, cores: int) -> dict:
    """A throughput run; its cores used by each process group from the driver's first poll to the end."""
    nodes, late = sorted(r["nodes"].items()), r["after start-up"]
    cpu, wall = late["cpu"], late["wall"] or float("nan")   # 0: no poll had every node at work
    node_cpu = sum(v for k, v in cpu.items() if k.startswith("node"))
    ours = node_cpu + cpu["driver"]
    return {"run": name, "busy f/s": r["fps"], "whole-run f/s": r["frames"] / r["wall"], "wall s": r["wall"],
            "by node: busy f/s": " ".join(f"{v['busy f/s']:.1f}" for _, v in nodes),
            "first video began s": " ".join(f"{v['first video began s']:.1f}" for _, v in nodes),
            "after start-up: f/s": late["frames"] / wall, "frames per node CPU-s": late["frames"] / (node_cpu or wall),
            "nodes' workers (cores)": sum(v for k, v in cpu.items() if k.endswith("workers")) / wall,
            "nodes' Ray (cores)": sum(v for k, v in cpu.items() if k.endswith(" ray")) / wall,
            "driver (cores)": cpu["driver"] / wall, "other processes (cores)": (cpu["machine busy"] - ours) / wall,
            "idle (cores)": cores - cpu["machine busy"] / wall}


def throughput(one: dict, two: dict) -> dict:
    rows = {n: [cpu_row(f"{n} #{i}", r, os.cpu_count()) for i, r in enumerate(c["runs"]["throughput"])]
            for n, c in (("1 node", one), ("2 nodes", two))}
    med = {n: {k: statistics.median(row[k] for row in rs) for k in ("busy f/s", "frames per node CPU-s")}
           for n, rs in rows.items()}
    cores = {n: statistics.median(row["nodes' workers (cores)"] + row["nodes' Ray (cores)"] for row in rs)
             for n, rs in rows.items()}
    ratio = med["2 nodes"]["busy f/s"] / med["1 node"]["busy f/s"]
    return {"runs": rows["1 node"] + rows["2 nodes"], "2 nodes / 1 node, busy f/s (medians)": ratio,
            "goal >= 1.8": "met" if ratio >= 1.8 else "not met",
            "2 nodes / 1 node, frames per node CPU-s (1.0: same work per frame)":
                med["2 nodes"]["frames per node CPU-s"] / med["1 node"]["frames per node CPU-s"],
            "2 nodes / 1 node, cores the nodes got after start-up": cores["2 nodes"] / cores["1 node"]}


def feed(args, stages: dict, runs: list[tuple[str, dict]], per_poll: float, idle: dict) -> dict:
    """(e): nodes one driver core feeds = (1 core - poll CPU per second) / (driver CPU per second per node), for
    a node storing ``node f/s`` frames/s of videos of a given length (so node f/s / length videos end per second)."""
    by_length = sorted(((r["frames"] / r["videos"], excl_polls(r, per_poll), r) for _, r in runs),
                       key=lambda x: x[0])
    (l0, v0, _), (l1, v1, r1) = by_length[0], by_length[-1]     # the shortest and the longest videos
    per_frame = (v1 - v0) / (l1 - l0)    # driver CPU per video excl polls = per_video + per_frame * length
    per_video = v0 - per_frame * l0
    if per_frame < 0:                    # less for longer videos: noise; no per-frame part, the larger per video
        per_frame, per_video = 0.0, max(v0, v1)
    node_fps = args.node_fps or 1.0 / (stages["pose"] + stages["crops"] + stages["mesh"])   # one worker's work
    inputs = {"node f/s": node_fps, "node f/s from": "--node-fps" if args.node_fps else
              "1 / (pose + crops + mesh) per frame here: what a node's one GPU worker does",
              "videos per node at 30 f/s": node_fps / 30, "poll CPU s per s": per_poll * r1["polls/s"],
              "driver CPU s per video (b)": per_video, "driver CPU s per frame (b)": per_frame,
              "driver TCP B/frame (a), longest run, net of idle": sum(
                  net(r1, idle, f"driver: {k}") for k in SERVICES) / r1["frames"],
              "objects between nodes B/frame (c), longest run": net(r1, idle, "between nodes: objects") / r1["frames"]}
    rows = []
    for length in (l0, l1, 1800):
        load = node_fps * (per_video / length + per_frame)    # driver CPU-s per second per node
        rows.append({"video frames": length, "driver CPU s/s per node": load,
                     "nodes one driver core feeds": (1.0 - inputs["poll CPU s per s"]) / load})
    return {**inputs, "by video length (1800 = a minute at 30 f/s)": rows}


def section(name: str, results: dict, seconds: float = 0.0) -> None:
    print_section(name, {"error": None, "seconds": seconds, "peak_gpu_memory_mib": None, "results": results})


def report(args, info: dict, stages: dict, one: dict, two: dict, frame_bytes: int) -> dict:
    section("machine", {**info, "nodes": f"--num-cpus=1 each, pinned to cores {' and '.join(args.cores)} "
                        "(taskset -c); driver unpinned", "ray.max_inputs": args.max_inputs,
                        "model.max_batch": args.max_batch, "videos per run": args.videos,
                        "CPUs each node's processes may use (1 node; 2 nodes)": "; ".join(
                            " ".join(f"{k}: {v}" for k, v in c["runs"]["throughput"][0]["cpus allowed"].items())
                            for c in (one, two))})
    section("stage times, ms per frame at 1 torch thread", {k: 1e3 * v for k, v in stages.items()})
    section("calibration: known transfers on the 2-node cluster", {"bytes seen": two["calibration"]})
    runs2 = sorted(((n, r) for n, rs in two["runs"].items() for r in rs), key=lambda x: x[1]["frames"])
    per_poll = per_poll_cpu(runs2)
    section("(a)+(b) driver, 2 nodes", {"per run": driver_rows(runs2, frame_bytes, per_poll),
                                        "driver CPU per poll (median of runs), ms": 1e3 * per_poll})
    section("(c) between nodes, 2 nodes", {"per run": between_rows(runs2, two["idle"])})
    through = throughput(one, two)
    section("(d) throughput, same videos", through)
    fed = feed(args, stages, runs2, per_poll, two["idle"])
    section("(e) GPU nodes one driver core feeds at 30 f/s per video", fed)
    return {"machine": info, "args": vars(args), "stages": stages, "one_node": one, "two_nodes": two,
            "throughput": through, "feed": fed}


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--videos", type=int, default=4, help="videos per run")
    ap.add_argument("--frames", type=int, default=150, help="frames per video, throughput runs (d)")
    ap.add_argument("--lengths", type=int, nargs=2, default=(30, 120), help="frames per video, runs of (b)")
    ap.add_argument("--repeat", type=int, default=2, help="throughput runs per cluster; stage-time rounds")
    ap.add_argument("--max-inputs", type=int, default=2, help="ray.max_inputs: videos at once per node")
    ap.add_argument("--max-batch", type=int, default=32, help="model.max_batch")
    ap.add_argument("--cores", nargs=2, default=("0", "1"), help="taskset core lists of node 0 and node 1")
    ap.add_argument("--idle-s", type=float, default=5.0, help="idle interval whose traffic rate is subtracted")
    ap.add_argument("--node-fps", type=float, default=0.0, help="(e): a node's frames/s; 0 = from stage times")
    ap.add_argument("--people", type=int, default=8)
    ap.add_argument("--size", default="640x360", help="WIDTHxHEIGHT (even)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--work", default="/tmp/crowdmesh_bench_stream", help="cache of clips, assets and stores")
    ap.add_argument("--json", help="also write the figures here")
    ap.add_argument("--quick", action="store_true", help="smoke run: short videos, one run each")
    args = ap.parse_args()
    args.size = tuple(int(v) for v in args.size.lower().split("x"))
    args.model, args.pose, args.device = "reduced", "precomputed", "cpu"   # make_config, ensure_assets
    if args.quick:
        args.frames, args.lengths, args.repeat, args.idle_s = 16, (16, 48), 1, 2.0
    return args


def main():
    args = parse_args()
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger().handlers[0].setLevel(logging.WARNING)   # Ray's own logger passes INFO records on
    sys.path.insert(0, str(ROOT / "tests" / "stream"))   # ray_cluster: the tests' loopback cluster
    from ray_cluster import token_auth_env
    token_auth_env()   # before Ray starts here: the nodes and this driver share one token
    args.began = time.perf_counter()
    info, assets = machine(), ensure_assets(args)
    runs = [("throughput", video_configs(args, assets, args.frames, "throughput"))] * args.repeat
    lengths = [(f"{f} frames", video_configs(args, assets, f, f"{f} frames")) for f in args.lengths
               if f != args.frames]   # a length the throughput runs have already: those serve (b) too
    step(args, "clips and model ready")
    stages = stage_times(args, runs[0][1][0])
    step(args, "stage times measured")
    one = on_cluster(args, 1, runs, calibration=False)
    two = on_cluster(args, 2, runs + lengths, calibration=True)
    w, h = args.size
    record = report(args, info, stages, one, two, w * h * 3)
    left = one["left behind"] + two["left behind"]
    step(args, f"done; load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}; processes left from the "
               f"clusters: {len(left)} {left or ''}")
    if args.json:
        Path(args.json).write_text(json.dumps(record, indent=1, default=plain))


if __name__ == "__main__":
    main()
