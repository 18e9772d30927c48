"""``stream process`` on Ray: thin actors around the plain stages of ``stream.stages`` / ``stream.pipeline``.

    summary = run_ray(cfg)      # cfg.ray.address "" = embedded local Ray, else join that cluster

Per input: the driver decodes (PyAV) and ``ray.put``s each frame once; 2D pose runs on a pool of
``PoseWorker`` actors, a batch of frames per call; one ``TrackWorker`` sees the frames in order; a pool
of ``MeshWorker`` actors crops the tracked people and runs 3DCrowdNet on crops gathered across frames (and
across inputs sharing the pool) up to ``model.max_batch`` crops or ``model.max_wait_ms``; one
``StoreWorker`` writes the frames in order. The driver only chains object references: it waits (``ray.wait``)
when ``ray.max_frames_in_flight`` frames are not yet stored, so memory stays flat on long inputs.

Faults: mesh and pose workers restart and their calls are retried (``max_restarts``/``max_task_retries``),
so a killed worker costs time, not frames; the store keeps each frame exactly once because only the
store worker writes, in frame order. A killed driver leaves the store at its last flush: ``--resume``.
"""
from __future__ import annotations

import asyncio
import logging
import os
import time
import uuid
from collections import deque

import ray

from stream.config import PipelineConfig
from stream.pipeline import Run, RunSummary, StoreSink, frame_ids, load_mesh_stage, load_pose_stage, summarize
from stream.stages import TrackStage, concat_jobs, split_rows

log = logging.getLogger(__name__)

__all__ = ["MeshWorker", "PoseWorker", "StoreWorker", "TrackWorker", "run_ray", "worker_resources"]


class PoseWorker:
    """``stream.stages.PoseStage`` in an actor; frames arrive as separate arguments (resolved by Ray)."""

    def __init__(self, cfg: PipelineConfig, threads: int):
        _set_threads(threads)
        self.stage = load_pose_stage(cfg)

    def poses(self, ids: list, *frames):
        return self.stage(frames, ids)


class TrackWorker:
    """One input's tracker; calls from one driver run in submission order, i.e. frame order."""

    def __init__(self, tracker_config, joint_set: str):
        self.stage = TrackStage(tracker_config, joint_set)

    def track(self, frame_index: int, poses: list, position: int):
        return self.stage(frame_index, poses[position])


class MeshWorker:
    """Crops and batched 3DCrowdNet; concurrent ``meshes`` calls (one per frame) share forward passes.

    A call queues its frame's crops and waits; a batching task runs the model on queued frames once they
    hold ``max_batch`` crops or the oldest has waited ``max_wait_ms`` (whole frames per batch).
    """

    def __init__(self, cfg: PipelineConfig, joint_set: str, paths: dict, threads: int):
        _set_threads(threads)
        self.stage = load_mesh_stage(cfg, joint_set, paths)
        self.max_batch, self.max_wait = cfg.model.max_batch, cfg.model.max_wait_ms / 1000.0
        self.queue: asyncio.Queue | None = None

    async def pid(self) -> int:
        return os.getpid()

    async def meshes(self, frame_index: int, bgr, tracked):
        people, _ = tracked
        jobs = self.stage.jobs(frame_index, bgr, people)
        if not len(jobs["track_id"]):
            return self.stage(jobs)
        if self.queue is None:
            self.queue = asyncio.Queue()
            asyncio.get_running_loop().create_task(self._batches())
        done = asyncio.get_running_loop().create_future()
        await self.queue.put((time.monotonic(), jobs, done))
        return await done

    async def _batches(self):
        loop = asyncio.get_running_loop()
        while True:
            group = [await self.queue.get()]
            count = len(group[0][1]["track_id"])
            deadline = group[0][0] + self.max_wait
            while count < self.max_batch:
                try:
                    item = await asyncio.wait_for(self.queue.get(), max(deadline - time.monotonic(), 0))
                except asyncio.TimeoutError:
                    break
                group.append(item)
                count += len(item[1]["track_id"])
            jobs = [g[1] for g in group]
            try:
                out = await loop.run_in_executor(None, self.stage, concat_jobs(jobs))
                for (_, j, done), rows in zip(group, split_rows(out, [int(j["frame_index"][0]) for j in jobs])):
                    done.set_result(rows)
            except Exception as err:  # every waiting call fails with it; Ray reports it to the driver
                for _, _, done in group:
                    done.set_exception(err)


class StoreWorker:
    """One input's ``StoreSink``; frames arrive in order."""

    def __init__(self, sink_args: dict):
        self.sink = StoreSink(**sink_args)

    def frames_done(self) -> int:
        return self.sink.frames_done

    def add(self, index: int, time_s, size: tuple, tracked, rows) -> int:
        people, _ = tracked
        self.sink.open(*size, f"frame {index}")
        return self.sink.add((index, time_s), people, rows)

    def record_error(self, message: str) -> None:
        self.sink.record_error(message)

    def close(self, finished: bool) -> bool:
        self.sink.close(finished)
        return self.sink.writer is not None


def _set_threads(threads: int) -> None:
    import torch
    torch.set_num_threads(max(1, threads))


def worker_resources(cfg: PipelineConfig) -> dict:
    """Pool sizes and per-worker resources from config, else from the resources Ray sees: one pose and
    one mesh worker per GPU (a whole GPU each), or one of each sharing the CPUs."""
    resources = ray.cluster_resources()
    gpus, cpus = int(resources.get("GPU", 0)), int(resources.get("CPU", 1))
    n_pose = cfg.ray.num_pose_workers or max(gpus, 1)
    n_mesh = cfg.ray.num_mesh_workers or max(gpus, 1)
    cpu_share = max(1, cpus // (n_pose + n_mesh))
    return {"pose": n_pose, "mesh": n_mesh, "num_gpus": 1.0 if gpus else 0.0,
            "num_cpus": 1, "threads": cpu_share}


def run_ray(cfg: PipelineConfig, *, resume: bool = False, force: bool = False, overwrite: bool = False,
            progress=None) -> RunSummary:
    """Process ``cfg.input`` with the actor pipeline; starts or joins Ray as ``cfg.ray.address`` says."""
    from stream.ray_setup import init_ray
    start_time = time.perf_counter()
    run = Run(cfg, resume=resume, force=force, overwrite=overwrite, local=False)
    path, start = run.sink_args["path"], run.done or 0
    if run.complete:
        return summarize(path, 0, 0, start_time)
    if not ray.is_initialized():     # a caller (a test, `stream batch`) may have started or joined Ray already
        init_ray(cfg.ray.address)
    res = worker_resources(cfg)
    n_pose, n_mesh = res["pose"], res["mesh"]
    opts = dict(num_gpus=res["num_gpus"], num_cpus=res["num_cpus"], max_restarts=-1, max_task_retries=-1)
    pose_pool = [ray.remote(PoseWorker).options(**opts).remote(cfg, res["threads"]) for _ in range(n_pose)]
    run_id = uuid.uuid4().hex[:8]
    mesh_pool = [ray.remote(MeshWorker).options(name=f"crowdmesh-mesh-{run_id}-{i}", **opts)
                 .remote(cfg, run.joint_set, run.paths, res["threads"]) for i in range(n_mesh)]
    tracker = None     # made at the first frame, when a live input's frame rate is known
    store = ray.remote(StoreWorker).options(num_cpus=0).remote(run.sink_args)
    in_flight: deque = deque()
    processed = crops = 0
    finished = False
    try:
        for b, batch in enumerate(run.frames()):
            refs = [ray.put(f.bgr) for f in batch]
            poses = pose_pool[b % n_pose].poses.remote(frame_ids(batch, run.by_index), *refs)
            tracker = tracker or ray.remote(TrackWorker).options(num_cpus=0).remote(run.tracker_config, run.joint_set)
            for position, (frame, ref) in enumerate(zip(batch, refs)):
                tracked = tracker.track.remote(frame.index, poses, position)
                if frame.index < start:   # resumed: replay the tracker only
                    in_flight.append((tracked, False))
                else:
                    rows = mesh_pool[frame.index % n_mesh].meshes.remote(frame.index, ref, tracked)
                    in_flight.append((store.add.remote(frame.index, frame.time, frame.bgr.shape[1::-1], tracked,
                                                      rows), True))
                processed, crops = _wait(in_flight, cfg.ray.max_frames_in_flight, progress, processed, crops)
        processed, crops = _wait(in_flight, 0, progress, processed, crops)
        if run.error:
            ray.get(store.record_error.remote(run.error))
        finished = True
    finally:
        opened = ray.get(store.close.remote(finished))
        for actor in (*pose_pool, *mesh_pool, *([tracker] if tracker else []), store):
            ray.kill(actor)
    if not opened:
        from stream.frames import FrameSourceError
        raise FrameSourceError(f"input {cfg.input} gave no frames")
    return summarize(path, processed, crops, start_time)


def _wait(in_flight: deque, limit: int, progress, processed: int, crops: int) -> tuple[int, int]:
    """Wait until at most ``limit`` frames are in flight; report the stored ones."""
    if len(in_flight) <= limit:
        return processed, crops
    done = [in_flight.popleft() for _ in range(len(in_flight) - limit)]   # the oldest frames
    ray.wait([r for r, _ in done], num_returns=len(done))
    stored = ray.get([r for r, is_store in done if is_store])
    if progress is not None and stored:
        progress(len(stored), sum(stored))
    return processed + len(stored), crops + sum(stored)
