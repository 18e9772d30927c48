"""``stream process`` on Ray: the driver, which chains the actors of ``stream.pipeline.ray_actors``.

    summary = run_ray(cfg)      # cfg.ray.address None = embedded local Ray, else join that cluster
    results = run_many([cfg_a, cfg_b])   # `stream batch`: several inputs at once on shared worker pools

Per input: the driver decodes (PyAV) and ``ray.put``s each frame once; 2D pose runs a batch of frames per call
on the mesh workers where the cluster has GPUs (one per GPU), else on a pool of ``PoseWorker`` actors; one ``TrackWorker`` sees the frames in order; a pool
of ``MeshWorker`` actors crops the tracked people and runs 3DCrowdNet on crops gathered across frames (and
across inputs sharing the pool) up to ``model.max_batch`` crops or ``model.max_wait_ms``; one
``StoreWorker`` writes the frames in order. The driver only chains object references: it waits (``ray.wait``)
when ``ray.max_frames_in_flight`` frames are not yet stored, so memory stays flat on long inputs.

Faults: mesh and pose workers restart and their calls are retried (``max_restarts``/``max_task_retries``),
so a killed worker costs time, not frames; the store keeps each frame exactly once because only the
store worker writes, in frame order. A killed driver leaves the store at its last flush: ``--resume``.
"""
from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from collections import deque

import ray

from stream.config import PipelineConfig, to_dict
from stream.pipeline.ray_actors import MeshWorker, PoseWorker, StoreWorker, TrackWorker
from stream.pipeline.ray_setup import PlacementError
from stream.pipeline.setup import Run, RunSummary, frame_ids, summarize

log = logging.getLogger(__name__)

__all__ = ["PlacementError", "Pools", "run_many", "run_ray", "start_workers", "worker_resources"]


def worker_resources(cfg: PipelineConfig) -> dict:
    """Pool sizes and per-worker resources from config and the nodes Ray sees.

    With GPUs: ``ray.num_mesh_workers`` (0 = one per ``ray.gpus_per_worker`` share of every GPU) mesh workers,
    each holding that GPU share and running 2D pose too, unless ``ray.num_pose_workers`` asks for separate pose
    workers (which then hold a share each as well). GPU workers reserve at most the CPUs of the GPU nodes.
    Without GPUs: one pose and one mesh worker (or as configured) sharing the CPUs. Every worker uses
    ``threads`` torch threads.
    """
    nodes = [n["Resources"] for n in ray.nodes() if n["Alive"]]
    gpus, cpus = sum(n.get("GPU", 0) for n in nodes), sum(n.get("CPU", 0) for n in nodes)
    share = float(cfg.ray.gpus_per_worker)
    if gpus:
        n_mesh = cfg.ray.num_mesh_workers or max(1, int(gpus / share + 1e-9))
        n_pose = cfg.ray.num_pose_workers
        # the GPU workers land on GPU nodes only: split each GPU node's CPUs among its share of them
        cpu = min(n.get("CPU", 0) / ((n_mesh + n_pose) * n["GPU"] / gpus) for n in nodes if n.get("GPU"))
    else:
        n_mesh, n_pose = cfg.ray.num_mesh_workers or 1, cfg.ray.num_pose_workers or 1
        cpu = cpus / (n_pose + n_mesh)
    return {"pose": n_pose, "mesh": n_mesh, "num_gpus": share if gpus else 0.0, "num_cpus": min(1.0, cpu),
            "threads": max(1, int(cpu)), "nodes": nodes}


def _fits(count: int, ask: dict, nodes: list[dict]) -> bool:
    """Could ``count`` workers asking ``ask`` (resource -> amount) be placed on ``nodes``' total resources?"""
    free = [dict(n) for n in nodes]
    for _ in range(count):
        node = next((n for n in free if all(n.get(k, 0) + 1e-9 >= v for k, v in ask.items())), None)
        if node is None:
            return False
        for k, v in ask.items():
            node[k] -= v
    return True


def start_workers(make, count: int, kind: str, opts: dict, nodes: list[dict], timeout_s: float,
                  cfg: PipelineConfig | None = None) -> tuple[list, list[dict]]:
    """``count`` actors from ``make(i)`` placed and started within ``timeout_s`` -> (actors, their placements).

    An impossible request fails at once, one not placed or started in time (resources held by others, a slow
    or hung start) after ``timeout_s``, and a worker that dies while starting (CUDA out of memory, no
    driver) with its own error: each as a PlacementError naming the resources asked and what the cluster has.
    """
    ask = {k: v for k, v in (("CPU", opts.get("num_cpus", 0)), ("GPU", opts.get("num_gpus", 0))) if v}
    have = ", ".join(f"node {i}: {n.get('CPU', 0):g} CPU, {n.get('GPU', 0):g} GPU" for i, n in enumerate(nodes))
    what = (f"{count} {kind} worker(s) asking for {ask.get('GPU', 0):g} GPU and {ask.get('CPU', 0):g} CPU each; "
            f"the cluster has {have}")
    fix = ("set ray.num_mesh_workers / ray.num_pose_workers / ray.gpus_per_worker (e.g. ray.gpus_per_worker=0.5 "
           "puts two workers on a GPU), or add resources")
    if not _fits(count, ask, nodes):
        raise PlacementError(f"cannot place {what}; {fix}")
    actors = [make(i) for i in range(count)]
    refs = [a.ready.remote(cfg) for a in actors]
    done, waiting = ray.wait(refs, num_returns=len(refs), timeout=timeout_s)
    try:
        if waiting:
            raise PlacementError(f"{len(waiting)} of {what} were not placed or not started within {timeout_s:g} s "
                                 f"(ray.placement_timeout_s; free now: {_free()}); {fix}")
        try:
            return actors, ray.get(done)
        except ray.exceptions.RayActorError as err:
            raise PlacementError(f"a {kind} worker died while starting: {_cause(err)}") from None
        except ray.exceptions.RayTaskError as err:
            raise PlacementError(f"a {kind} worker could not start: {_cause(err)}") from None
    except PlacementError:
        for actor in actors:
            ray.kill(actor)
        raise


def _free() -> str:
    free = ray.available_resources()
    return f"{free.get('CPU', 0):g} CPU, {free.get('GPU', 0):g} GPU"


def _cause(err: Exception) -> str:
    """The last line of a worker's error: the exception that stopped it."""
    lines = [line.strip() for line in str(err).splitlines() if line.strip()]
    return lines[-1] if lines else type(err).__name__


class Pools:
    """Pose and mesh worker pools shared by every input of a run, so mesh batches mix frames of all inputs.

    Where there are GPUs and no separate pose workers, the mesh workers serve 2D pose too. Precomputed poses
    only read a file: their own workers reserve nothing. All inputs must use one mesh model. ``workers`` lists
    where every worker runs (kind, node, pid, GPU ids, device).
    """

    def __init__(self, cfg: PipelineConfig):
        self.res = worker_resources(cfg)
        self.opts = dict(num_gpus=self.res["num_gpus"], num_cpus=self.res["num_cpus"], max_restarts=-1,
                         max_task_retries=-1)
        self.timeout_s = cfg.ray.placement_timeout_s
        self._pose: dict[bool, list] = {}      # precomputed? -> pool
        self._mesh: dict[str, list] = {}
        self.workers: list[dict] = []
        self.run_id = uuid.uuid4().hex[:8]
        self._lock = threading.Lock()      # inputs' driver threads ask for pools at once

    def pose(self, run: Run) -> list:
        precomputed = run.cfg.pose2d.backend == "precomputed"
        if not precomputed and not self.res["pose"]:
            return self.mesh(run)
        opts = {**self.opts, "num_cpus": 0, "num_gpus": 0} if precomputed else self.opts
        with self._lock:
            if precomputed not in self._pose:
                self._pose[precomputed] = self._start(
                    lambda i: ray.remote(PoseWorker).options(**opts).remote(self.res["threads"]),
                    max(1, self.res["pose"]), "pose", opts, run.cfg)
            return self._pose[precomputed]

    def mesh(self, run: Run) -> list:
        key = json.dumps([str(run.paths[k]) for k in sorted(run.paths)] + [run.joint_set, to_dict(run.cfg.model)])
        with self._lock:
            if key not in self._mesh:
                if self._mesh:
                    raise ValueError(f"input {run.cfg.input}: a run uses one mesh model; this input asks for "
                                     "another (model.*, body.* or its joint set differ from the first input's)")
                serves_pose = run.cfg.pose2d.backend != "precomputed" and not self.res["pose"]
                self._mesh[key] = self._start(
                    lambda i: ray.remote(MeshWorker).options(name=f"crowdmesh-mesh-{self.run_id}-{i}", **self.opts)
                    .remote(run.cfg, run.joint_set, run.paths, self.res["threads"]),
                    self.res["mesh"], "mesh", self.opts, run.cfg if serves_pose else None)
            return self._mesh[key]

    def _start(self, make, count: int, kind: str, opts: dict, cfg: PipelineConfig | None) -> list:
        actors, placed = start_workers(make, count, kind, opts, self.res["nodes"], self.timeout_s, cfg)
        self.workers += placed
        return actors

    def kill(self) -> None:
        for actor in (a for pool in (*self._pose.values(), *self._mesh.values()) for a in pool):
            ray.kill(actor)


def run_ray(cfg: PipelineConfig, *, resume: bool = False, force: bool = False, overwrite: bool = False,
            progress=None) -> RunSummary:
    """Process ``cfg.input`` with the actor pipeline; starts or joins Ray as ``cfg.ray.address`` says."""
    result = run_many([cfg], resume=resume, force=force, overwrite=overwrite, progress=progress)[0]
    if isinstance(result, BaseException):
        raise result
    return result


def run_many(cfgs: list[PipelineConfig], *, resume: bool = False, force: bool = False, overwrite: bool = False,
             progress=None) -> list:
    """Process several inputs at once (``ray.max_inputs`` at a time) on shared worker pools.

    Returns, per input, its RunSummary or the exception that stopped it (other inputs go on). Inputs and
    stores are all checked before any work starts.
    """
    from concurrent.futures import ThreadPoolExecutor

    from stream.pipeline.ray_setup import init_ray
    poses: dict[str, object] = {}     # the driver needs a pose setup's joint set once, not once per input
    runs = []
    for cfg in cfgs:
        key = json.dumps(to_dict(cfg.pose2d), sort_keys=True)
        runs.append(Run(cfg, resume=resume, force=force, overwrite=overwrite, local=False, pose=poses.get(key)))
        poses[key] = runs[-1].pose
    if not ray.is_initialized():     # a caller (a test) may have started or joined Ray already
        init_ray(cfgs[0].ray.address, num_gpus=cfgs[0].ray.num_gpus)
    pools = Pools(cfgs[0])
    lock = threading.Lock()

    def locked_progress(frames: int, people: int) -> None:
        with lock:
            progress(frames, people)

    def drive(run: Run):
        try:
            return _drive(run, pools, locked_progress if progress is not None else None)
        except Exception as err:  # reported per input; the other inputs continue
            log.error("input %s failed: %s", run.cfg.input, err)
            return err
    try:
        with ThreadPoolExecutor(max(1, min(len(runs), cfgs[0].ray.max_inputs))) as executor:
            return list(executor.map(drive, runs))
    finally:
        pools.kill()


def _drive(run: Run, pools: Pools, progress) -> RunSummary:
    """One input through the shared pools: decode here, chain object references, wait on the oldest frames."""
    start_time = time.perf_counter()
    cfg = run.cfg
    if run.complete:
        return summarize(run.path, 0, 0, start_time)
    pose_pool, mesh_pool = pools.pose(run), pools.mesh(run)
    tracker = None     # made at the first frame, when a live input's frame rate is known
    store = ray.remote(StoreWorker).options(num_cpus=0).remote(run.sink_args)
    in_flight: deque = deque()
    counts = (0, 0)    # frames, people stored
    finished = False
    try:
        for b, (batch, first) in enumerate(run.frames()):
            refs = [ray.put(f.bgr) for f in batch]
            poses = pose_pool[b % len(pose_pool)].poses.remote(cfg, frame_ids(batch, run.by_index), *refs)
            tracker = tracker or ray.remote(TrackWorker).options(num_cpus=0).remote(run.tracker_config, run.joint_set)
            tracked = tracker.track.remote([f.index for f in batch], poses)
            new = list(range(first, len(batch)))      # batch[:first] are in the store: tracking only
            if new:
                camera = run.camera(*batch[first].bgr.shape[1::-1])
                rows = mesh_pool[b % len(mesh_pool)].meshes.remote([batch[p].index for p in new], new, camera,
                                                                    tracked, *[refs[p] for p in new])
                frames = [(batch[p].index, batch[p].time, batch[p].bgr.shape[1::-1]) for p in new]
                in_flight.append((store.add.remote(frames, camera, rows), len(batch), len(new)))
            else:
                in_flight.append((tracked, len(batch), 0))
            counts = _wait(in_flight, cfg.ray.max_frames_in_flight, progress, *counts)
        counts = _wait(in_flight, 0, progress, *counts)
        if run.error:
            ray.get(store.record_error.remote(run.error))
        finished = True
    finally:
        opened = ray.get(store.close.remote(finished))
        for actor in (*([tracker] if tracker else []), store):
            ray.kill(actor)
    if not opened:
        from stream.source.frames import FrameSourceError
        raise FrameSourceError(f"input {cfg.input} gave no frames")
    return summarize(run.path, *counts, start_time, workers=tuple(pools.workers))


def _wait(in_flight: deque, limit: int, progress, processed: int, crops: int) -> tuple[int, int]:
    """Wait for the oldest batches until at most ``limit`` frames are in flight (at least the newest batch
    stays in flight); report the stored frames and people."""
    done = []
    while in_flight and sum(n for _, n, _ in in_flight) > limit and (len(in_flight) > 1 or limit == 0):
        done.append(in_flight.popleft())
    if not done:
        return processed, crops
    ray.wait([ref for ref, _, _ in done], num_returns=len(done))
    stores = [(ref, stored) for ref, _, stored in done if stored]
    people = ray.get([ref for ref, _ in stores])
    frames = sum(stored for _, stored in stores)
    if progress is not None and frames:
        progress(frames, sum(people))
    return processed + frames, crops + sum(people)
