"""The pose and mesh workers of each node, started by the driver at a node's first video.

    nodes = video_nodes()                       # the alive nodes that run videos (GPU nodes where there are GPUs)
    pools = NodePools(cfg)
    pose, mesh = pools.get(nodes[0], cfg)       # that node's workers: actor handles, pinned to the node

Every worker of a node is placed on that node (``NodeAffinitySchedulingStrategy``, not soft), so a video's frames,
put in its node's object store by its runner, never leave the node. The mesh workers of a node serve every video
on it, so their batches mix the node's videos.
"""
from __future__ import annotations

import json
import threading
import uuid

import ray
from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

from stream.config import PipelineConfig, to_dict
from stream.pipeline.ray_actors import MeshWorker, PoseWorker
from stream.pipeline.ray_setup import PlacementError

__all__ = ["NodePools", "PlacementError", "on_node", "start_workers", "video_nodes", "worker_resources"]


def video_nodes() -> list[dict]:
    """The alive nodes that run videos: those with GPUs where the cluster has any, else those with CPUs
    (a head started with ``--num-cpus=0`` runs none)."""
    nodes = [n for n in ray.nodes() if n["Alive"]]
    gpu = [n for n in nodes if n["Resources"].get("GPU", 0) > 0]
    return gpu or [n for n in nodes if n["Resources"].get("CPU", 0) > 0]


def on_node(node_id: str) -> NodeAffinitySchedulingStrategy:
    return NodeAffinitySchedulingStrategy(node_id, soft=False)


def worker_resources(cfg: PipelineConfig, node: dict | None = None) -> dict:
    """Worker counts and per-worker resources on ``node`` (a ``ray.nodes()`` entry; default: the first of
    ``video_nodes()``).

    With GPUs: ``ray.num_mesh_workers`` (0 = one per ``ray.gpus_per_worker`` share of the node's GPUs) mesh
    workers, each holding that share and running 2D pose too, unless ``ray.num_pose_workers`` asks for separate
    pose workers (which then hold a share each as well). Without GPUs: one pose and one mesh worker (or as
    configured). The workers split the node's CPUs; each uses ``threads`` torch threads.
    """
    res = (node or video_nodes()[0])["Resources"]
    gpus, cpus, share = res.get("GPU", 0), res.get("CPU", 0), float(cfg.ray.gpus_per_worker)
    if gpus:
        n_mesh, n_pose = cfg.ray.num_mesh_workers or max(1, int(gpus / share + 1e-9)), cfg.ray.num_pose_workers
    else:
        n_mesh, n_pose = cfg.ray.num_mesh_workers or 1, cfg.ray.num_pose_workers or 1
    cpu = cpus / (n_mesh + n_pose)
    return {"pose": n_pose, "mesh": n_mesh, "num_gpus": share if gpus else 0.0, "num_cpus": min(1.0, cpu),
            "threads": max(1, int(cpu)), "node": res}


def _fits(count: int, ask: dict, free: dict) -> bool:
    return all(free.get(k, 0) + 1e-9 >= v * count for k, v in ask.items())


def start_workers(make, count: int, kind: str, opts: dict, node: dict, timeout_s: float,
                  cfg: PipelineConfig | None = None) -> tuple[list, list[dict]]:
    """``count`` actors from ``make(i)`` placed on ``node`` and started within ``timeout_s`` -> (actors, where
    each runs).

    An impossible request fails at once, one not placed or started in time (resources held by others, a slow
    or hung start) after ``timeout_s``, and a worker that dies while starting (CUDA out of memory, no
    driver) with its own error: each as a PlacementError naming the resources asked and what the node has.
    """
    ask = {k: v for k, v in (("CPU", opts.get("num_cpus", 0)), ("GPU", opts.get("num_gpus", 0))) if v}
    res = node["Resources"]
    what = (f"{count} {kind} worker(s) asking for {ask.get('GPU', 0):g} GPU and {ask.get('CPU', 0):g} CPU each; "
            f"node {node.get('NodeManagerAddress', '?')} has {res.get('CPU', 0):g} CPU, {res.get('GPU', 0):g} GPU")
    fix = ("set ray.num_mesh_workers / ray.num_pose_workers (per node) / ray.gpus_per_worker (e.g. "
           "ray.gpus_per_worker=0.5 puts two workers on a GPU), or add resources")
    if not _fits(count, ask, res):
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


class NodePools:
    """Pose and mesh worker pools per node, started at the node's first video and shared by its videos.

    Where the node has GPUs and no separate pose workers are asked for, the mesh workers serve 2D pose too.
    Precomputed poses only read a file: their workers reserve nothing. All inputs of a run use one mesh model.
    ``workers`` lists where every worker runs (kind, node, pid, GPU ids, device).
    """

    def __init__(self, cfg: PipelineConfig):
        self.timeout_s = cfg.ray.placement_timeout_s
        self.model = None            # the mesh model's settings, fixed by the first input
        self._pools: dict[tuple, list] = {}      # (node id, "mesh" | "pose" | "precomputed") -> actors
        self.workers: list[dict] = []
        self.run_id = uuid.uuid4().hex[:8]
        self._locks: dict[str, threading.Lock] = {}

    def get(self, node: dict, cfg: PipelineConfig) -> tuple[list, list]:
        """(pose workers, mesh workers) of ``node`` for ``cfg``'s input, started here at their first use."""
        model = json.dumps([to_dict(cfg.model), to_dict(cfg.body)], sort_keys=True)
        if self.model not in (None, model):
            raise ValueError(f"input {cfg.input}: a run uses one mesh model; this input asks for another "
                             "(model.* or body.* differ from the first input's)")
        self.model = model
        res = worker_resources(cfg, node)
        opts = dict(num_gpus=res["num_gpus"], num_cpus=res["num_cpus"], max_restarts=-1, max_task_retries=-1,
                    scheduling_strategy=on_node(node["NodeID"]))
        with self._locks.setdefault(node["NodeID"], threading.Lock()):   # one start per node at a time
            precomputed = cfg.pose2d.backend == "precomputed"
            serves_pose = not precomputed and not res["pose"]
            mesh = self._pool(node, "mesh", lambda i: ray.remote(MeshWorker).options(
                name=f"crowdmesh-mesh-{self.run_id}-{node['NodeID'][:8]}-{i}", **opts).remote(cfg, res["threads"]),
                res["mesh"], opts, cfg if serves_pose else None)
            if serves_pose:
                return mesh, mesh
            if precomputed:
                opts = {**opts, "num_cpus": 0, "num_gpus": 0}
            pose = self._pool(node, "precomputed" if precomputed else "pose", lambda i: ray.remote(PoseWorker)
                              .options(**opts).remote(res["threads"]), max(1, res["pose"]), opts, cfg)
            return pose, mesh

    def _pool(self, node: dict, kind: str, make, count: int, opts: dict, cfg: PipelineConfig | None) -> list:
        key = (node["NodeID"], kind)
        if key not in self._pools:
            name = "pose" if kind == "precomputed" else kind
            self._pools[key], placed = start_workers(make, count, name, opts, node, self.timeout_s, cfg)
            self.workers += placed
        return self._pools[key]

    def has(self, node_id: str) -> bool:
        return any(key[0] == node_id for key in self._pools)

    def drop(self, node_id: str) -> None:
        """Forget a lost node's workers."""
        for key in [k for k in self._pools if k[0] == node_id]:
            del self._pools[key]

    def kill(self) -> None:
        for actor in (a for pool in self._pools.values() for a in pool):
            ray.kill(actor)
        self._pools.clear()
