"""The Ray actors of ``stream process``: thin wrappers around the plain stages, started by
``stream.pipeline.ray_driver``.

    PoseWorker.poses(cfg, ids, *frames)                           -> FramePoses per frame
    MeshWorker.meshes(indices, joint_set, camera, tracked, *frames) -> each frame's rows (shared passes)
    ProgressBoard.report(key, frames, people, total) / read()       -> the videos' progress, for the driver

The video runners (``stream.pipeline.video_runner``) call them; the driver starts them on each node
(``stream.pipeline.ray_pools``).
"""
from __future__ import annotations

import asyncio
import os
from concurrent.futures import ThreadPoolExecutor

import ray

from stream.config import PipelineConfig
from stream.mesh.batcher import MeshBatcher
from stream.mesh.stage import concat_rows, split_rows
from stream.pipeline.setup import asset_paths, load_mesh_stage, load_pose_stage

__all__ = ["MeshWorker", "PoseWorker", "ProgressBoard"]


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


class MeshWorker:
    """Crops and batched 3DCrowdNet; concurrent ``meshes`` calls (a batch of frames each) share forward passes.

    A call crops its frames (in one thread) and hands the crops to a ``MeshBatcher``, which runs the model (in
    another thread, so cropping goes on meanwhile) on the crops of queued calls, up to ``model.max_batch`` crops
    or once the oldest has waited ``model.max_wait_ms``. Where the cluster has GPUs a mesh worker holds one
    (or ``ray.gpus_per_worker`` of one) and also serves ``poses`` in a third thread: 2D pose and mesh share the
    process, so one CUDA context per GPU and no GPU time-slicing between processes.
    """

    def __init__(self, cfg: PipelineConfig, threads: int):
        _set_threads(threads)
        self.stage = load_mesh_stage(cfg, None, asset_paths(cfg))   # the model files as this node has them
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

    async def meshes(self, indices: list[int], joint_set: str, camera: tuple, tracked: list,
                     *frames) -> list[dict]:
        """The rows of frames ``indices`` (images ``frames``, their people ``tracked`` with keypoints in
        ``joint_set``, ``camera`` their image's ``(focal, principal_point)``), one dict per frame."""
        loop = asyncio.get_running_loop()
        crops, counts = await loop.run_in_executor(self._crop_thread, self._crops, indices, joint_set, camera,
                                                   tracked, frames)
        return split_rows(await self.batcher.rows(crops), counts)

    def _crops(self, indices, joint_set, camera, tracked, frames) -> tuple[dict, list[int]]:
        crops = [self.stage.crops(i, bgr, people, camera, joint_set)
                 for i, people, bgr in zip(indices, tracked, frames)]
        return concat_rows(crops), [len(c["track_id"]) for c in crops]


class ProgressBoard:
    """Where each video's runner reports its progress, for the driver to read at a fixed rate (however many
    videos and frames): ``report(key, frames, people, total)`` per stored batch, ``read()`` all of them."""

    def __init__(self):
        self.state: dict = {}

    def report(self, key, frames: int, people: int, total: int | None) -> None:
        self.state[key] = (frames, people, total)

    def read(self) -> dict:
        return self.state


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
