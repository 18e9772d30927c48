"""The Ray actors of ``stream process``: thin wrappers around the plain stages, started by
``stream.pipeline.ray_driver``.

    PoseWorker.poses(cfg, ids, *frames)                   -> FramePoses per frame
    TrackWorker.track(indices, poses)                     -> each frame's tracked people, frames in order
    MeshWorker.meshes(indices, positions, camera, tracked, *frames) -> each frame's rows (shared passes)
    StoreWorker.add(frames, camera, rows)                 -> people stored, frames in order
"""
from __future__ import annotations

import asyncio
import os
from concurrent.futures import ThreadPoolExecutor

import ray

from stream.config import PipelineConfig
from stream.mesh.batcher import MeshBatcher
from stream.mesh.stage import concat_rows, split_rows
from stream.pipeline.setup import load_mesh_stage, load_pose_stage
from stream.pipeline.sink import StoreSink
from stream.pipeline.track import TrackStage

__all__ = ["MeshWorker", "PoseWorker", "StoreWorker", "TrackWorker"]


class PoseWorker:
    """2D pose in an actor: a ``PoseStage`` per pose setup (loaded at its first use); frames arrive as separate
    arguments (resolved by Ray)."""

    def __init__(self, threads: int):
        _set_threads(threads)
        self.pose_stages: dict = {}

    def ready(self, cfg: PipelineConfig | None = None) -> dict:
        """Loads ``cfg``'s pose stage (so a worker that cannot start fails here); where and what it runs on."""
        if cfg is not None:
            pose_stage(self.pose_stages, cfg)
        return _placement("pose")

    def poses(self, cfg: PipelineConfig, ids: list, *frames):
        return pose_stage(self.pose_stages, cfg)(frames, ids)


class TrackWorker:
    """One input's tracker; calls from one driver run in submission order, i.e. frame order."""

    def __init__(self, tracker_config, joint_set: str):
        self.stage = TrackStage(tracker_config, joint_set)

    def track(self, indices: list[int], poses: list) -> list[list]:
        """A batch of frames in order -> each frame's tracked people."""
        return [self.stage(index, p) for index, p in zip(indices, poses)]


class MeshWorker:
    """Crops and batched 3DCrowdNet; concurrent ``meshes`` calls (a batch of frames each) share forward passes.

    A call crops its frames (in one thread) and hands the crops to a ``MeshBatcher``, which runs the model (in
    another thread, so cropping goes on meanwhile) on the crops of queued calls, up to ``model.max_batch`` crops
    or once the oldest has waited ``model.max_wait_ms``. Where the cluster has GPUs a mesh worker holds one
    (or ``ray.gpus_per_worker`` of one) and also serves ``poses`` in a third thread: 2D pose and mesh share the
    process, so one CUDA context per GPU and no GPU time-slicing between processes.
    """

    def __init__(self, cfg: PipelineConfig, joint_set: str, paths: dict, threads: int):
        _set_threads(threads)
        self.stage = load_mesh_stage(cfg, joint_set, paths)
        self._crop_thread, self._pose_thread = ThreadPoolExecutor(1), ThreadPoolExecutor(1)
        self.batcher = MeshBatcher(self.stage, cfg.model.max_batch, cfg.model.max_wait_ms / 1000.0,
                                   executor=ThreadPoolExecutor(1))
        self.pose_stages: dict = {}

    async def pid(self) -> int:
        return os.getpid()

    async def ready(self, cfg: PipelineConfig | None = None) -> dict:
        if cfg is not None:
            await asyncio.get_running_loop().run_in_executor(self._pose_thread, pose_stage, self.pose_stages, cfg)
        return {**_placement("mesh"), "device": str(self.stage.device)}

    async def poses(self, cfg: PipelineConfig, ids: list, *frames):
        return await asyncio.get_running_loop().run_in_executor(self._pose_thread, self._poses, cfg, ids, frames)

    def _poses(self, cfg: PipelineConfig, ids: list, frames) -> list:
        return pose_stage(self.pose_stages, cfg)(frames, ids)

    async def meshes(self, indices: list[int], positions: list[int], camera: tuple, tracked: list,
                     *frames) -> list[dict]:
        """The rows of frames ``indices`` (images ``frames``, their people at ``positions`` of ``tracked``,
        ``camera`` their image's ``(focal, principal_point)``), one dict per frame."""
        loop = asyncio.get_running_loop()
        crops, counts = await loop.run_in_executor(self._crop_thread, self._crops, indices, positions, camera,
                                                   tracked, frames)
        return split_rows(await self.batcher.rows(crops), counts)

    def _crops(self, indices, positions, camera, tracked, frames) -> tuple[dict, list[int]]:
        crops = [self.stage.crops(i, bgr, tracked[p], camera) for i, p, bgr in zip(indices, positions, frames)]
        return concat_rows(crops), [len(c["track_id"]) for c in crops]


class StoreWorker:
    """One input's ``StoreSink``; frames arrive in order."""

    def __init__(self, sink_args: dict):
        self.sink = StoreSink(**sink_args)

    def add(self, frames: list[tuple], camera: tuple, rows: list[dict]) -> int:
        """Store frames ``(index, time, (width, height))`` with their rows; returns the people stored."""
        stored = 0
        for (index, time_s, size), frame_rows in zip(frames, rows):
            self.sink.open(*size, camera, f"frame {index}")
            stored += self.sink.add(index, time_s, frame_rows)
        return stored

    def record_error(self, message: str) -> None:
        self.sink.record_error(message)

    def close(self, finished: bool) -> bool:
        return self.sink.close(finished)


def _set_threads(threads: int) -> None:
    import torch
    torch.set_num_threads(max(1, threads))


def pose_stage(stages: dict, cfg: PipelineConfig):
    """The pose stage of ``cfg.pose2d`` from a worker's ``stages``, loaded there at its first use."""
    if cfg.pose2d not in stages:
        stages[cfg.pose2d] = load_pose_stage(cfg)
    return stages[cfg.pose2d]


def _placement(kind: str) -> dict:
    """Where this worker runs: its kind, node, process and the GPU ids Ray gave it."""
    context = ray.get_runtime_context()
    return {"kind": kind, "node": context.get_node_id(), "pid": os.getpid(),
            "gpu_ids": [str(i) for i in ray.get_gpu_ids()]}
