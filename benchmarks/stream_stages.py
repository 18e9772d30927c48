"""The stages of ``run_local`` one at a time on the same decoded frames (``bench_stream.py``, ``gpu_check.py``).

    st = Stages(cfg, video, workdir)
    for step in (st.decode, st.pose, st.track, st.crops, st.mesh_stage, st.writer):
        timed(step)                        # each a pass over the clip, fed by the one before
    st.mesh_passes()                       # {"mesh stage", "bare forward"}: seconds, pass by pass side by side
    measure_stages(args, cfg, video, workdir, assets)   # bench_stream's figures: medians over --repeat rounds

The mesh stage runs on the passes ``MeshBatcher`` forms, as ``run_local`` forms them.
"""
from __future__ import annotations

import os
import statistics
import time
from pathlib import Path

import numpy as np
import torch

from timing import median_seconds, sync


def forward_tensors(crops: dict, max_batch: int, device) -> list[tuple]:
    """The model inputs of ``MeshStage.__call__``'s forward passes over ``crops``, made beforehand."""
    keys = ("img", "joints", "joints_mask", "crop_bbox")
    return [tuple(torch.as_tensor(np.ascontiguousarray(crops[k][s:s + max_batch])).to(device) for k in keys)
            for s in range(0, len(crops["track_id"]), max_batch)]


def bare_forward(model, passes: list[tuple]) -> None:
    with torch.no_grad():
        for img, joints, mask, bbox in passes:
            model(img, joints, mask, bbox=bbox)


class PairedMesh:
    """``MeshStage`` as ``MeshBatcher`` calls it, each pass timed beside the bare forward on the same crops."""

    def __init__(self, mesh):
        self.mesh, self.passes = mesh, 0
        self.spent = {"mesh stage": 0.0, "bare forward": 0.0}

    def __call__(self, crops: dict) -> dict:
        passes = forward_tensors(crops, self.mesh.max_batch, self.mesh.device)   # before the clock starts
        sync()
        start = time.perf_counter()
        rows = self.mesh(crops)
        sync()
        middle = time.perf_counter()
        bare_forward(self.mesh.model, passes)
        sync()
        self.spent["mesh stage"] += middle - start
        self.spent["bare forward"] += time.perf_counter() - middle
        self.passes += len(passes)
        return rows


class Stages:
    """Each stage of ``run_local`` alone, one method a pass over the clip, on the same decoded frames."""

    def __init__(self, cfg, video, workdir: Path):
        from stream.pipeline.setup import load_mesh_stage, load_pose_stage
        self.cfg, self.video, self.workdir = cfg, video, workdir
        self.pose_stage = load_pose_stage(cfg)
        self.mesh = load_mesh_stage(cfg, self.pose_stage.joint_set)

    def decode(self):
        from stream.source.frames import FrameSource
        self.source = FrameSource(str(self.video))
        self.frames = list(self.source)
        h, w = self.frames[0].bgr.shape[:2]
        self.camera = self.cfg.camera.intrinsics(w, h)

    def pose(self):
        size = self.cfg.pose2d.batch_size
        batches = [self.frames[s:s + size] for s in range(0, len(self.frames), size)]
        self.poses = [p for b in batches for p in self.pose_stage([f.bgr for f in b], [f.index for f in b])]

    def track(self):
        from stream.pipeline.track import TrackStage
        stage = TrackStage(self.cfg.tracker.for_fps(self.source.fps), self.pose_stage.joint_set)
        ready = [r for f, p in zip(self.frames, self.poses) for r in stage(f.index, p)] + stage.flush()
        self.people = [people for _, people in ready]

    def crops(self):
        from stream.mesh.stage import concat_rows
        self.crop_list = [self.mesh.crops(f.index, f.bgr, people, self.camera)
                          for f, people in zip(self.frames, self.people)]
        self.full = forward_tensors(concat_rows(self.crop_list), self.cfg.model.max_batch, self.mesh.device)

    def full_batches(self):
        bare_forward(self.mesh.model, self.full)

    def mesh_stage(self):
        """The mesh stage alone on ``MeshBatcher``'s passes; keeps the rows."""
        from stream.mesh.batcher import MeshBatcher
        batcher = MeshBatcher(self.mesh, self.cfg.model.max_batch)
        done = [d for f, c in zip(self.frames, self.crop_list) for d in batcher.add(f, c)] + batcher.flush()
        self.rows = [rows for _, rows in done]

    def mesh_passes(self) -> dict:
        """{mesh stage, bare forward: seconds} over the passes ``MeshBatcher`` forms; keeps the rows."""
        from stream.mesh.batcher import MeshBatcher
        paired = PairedMesh(self.mesh)
        batcher = MeshBatcher(paired, self.cfg.model.max_batch)
        done = [d for f, c in zip(self.frames, self.crop_list) for d in batcher.add(f, c)] + batcher.flush()
        self.rows, self.forwards = [rows for _, rows in done], paired.passes
        return paired.spent

    def writer(self):
        from stream.pipeline.setup import result_config
        from stream.pipeline.sink import StoreSink
        h, w = self.frames[0].bgr.shape[:2]
        sink = StoreSink(self.workdir / "writer_stage.zarr", config=result_config(self.cfg),
                         fingerprints={"benchmark": "bench_stream"},
                         source={"path": str(self.video), "kind": "video", "fps": self.source.fps, "size": None,
                                 "frame_count": len(self.frames)}, joint_set=self.pose_stage.joint_set,
                         overwrite=True)
        sink.open(w, h, self.camera)
        for f, rows in zip(self.frames, self.rows):
            sink.add(f.index, f.time, rows)
        sink.close(finished=True)


def with_threads(fn, threads: int):
    def run():
        before = torch.get_num_threads()
        torch.set_num_threads(threads)
        try:
            return fn()
        finally:
            torch.set_num_threads(before)
    return run


def measure_stages(args, cfg, video, workdir: Path, assets: dict) -> dict:
    """{stage: seconds over the clip} plus the counts; every stage on the same frames."""
    st = Stages(cfg, video, workdir)
    runs = {"decode": st.decode, "pose": st.pose, "track": st.track, "crops": st.crops,
            "bare forward, full batches": st.full_batches}
    if args.pose == "rtmo":   # the network's real cost; on one pose batch, its output is not used downstream
        from stream.pose2d.base import make_backend
        from stream.pose2d.stage import PoseStage
        rtmo = PoseStage(make_backend("rtmo", checkpoint=assets["rtmo"], device=cfg.pose2d.device,
                                      batch_size=cfg.pose2d.batch_size))

        def rtmo_poses():
            batch = st.frames[:cfg.pose2d.batch_size]
            st.rtmo_people = sum(len(p) for p in rtmo([f.bgr for f in batch], [f.index for f in batch]))
        runs["pose, rtmo-s random (1 batch)"] = rtmo_poses
    threads, ray_threads = torch.get_num_threads(), ray_thread_share()
    pairs = {"": st.mesh_passes}
    if ray_threads != threads:   # the Ray mesh worker's torch threads (stream.pipeline.ray_pools.worker_resources)
        suffix = f", {ray_threads} thread(s)"
        pairs[suffix] = with_threads(st.mesh_passes, ray_threads)
        runs["bare forward, full batches" + suffix] = with_threads(st.full_batches, ray_threads)
    seconds = median_seconds(runs, args.repeat)
    for suffix, fn in pairs.items():
        rounds = [fn() for _ in range(args.repeat + 1)][1:]   # the first is the warm-up
        seconds.update({k + suffix: statistics.median(r[k] for r in rounds) for k in rounds[0]})
    seconds.update(median_seconds({"writer": st.writer}, args.repeat))
    return {"seconds": seconds, "frames": len(st.frames), "crops": sum(len(c["track_id"]) for c in st.crop_list),
            "people": sum(len(p) for p in st.poses), "forwards": st.forwards, "full_forwards": len(st.full),
            "device": st.mesh.device, "threads": threads, "ray_threads": ray_threads,
            "rtmo_frames": min(len(st.frames), cfg.pose2d.batch_size), "rtmo_people": getattr(st, "rtmo_people", None)}


def ray_thread_share() -> int:
    """Torch threads of a Ray mesh worker on this machine with no GPU: ``worker_resources`` gives one pose
    and one mesh worker and splits the CPUs between them."""
    if torch.cuda.is_available():
        return torch.get_num_threads()
    return max(1, (os.cpu_count() or 1) // 2)
