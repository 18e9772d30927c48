"""``stream process`` and ``stream batch`` on Ray: the driver hands each input to a video runner on a node and
follows it; it handles no pixels.

    summary = run_ray(cfg)              # cfg.ray.address None = embedded local Ray, else join that cluster
    results = run_many([cfg_a, cfg_b])  # per input: its RunSummary, or the exception that stopped it

Each input is a ``Job`` (its config and output: a description, not frames) sent to a ``VideoRunner`` actor
(``stream.pipeline.video_runner``) on one of the nodes that run videos; the runner decodes, and uses the pose and
mesh workers of its own node (``stream.pipeline.ray_pools``, started at the node's first video), so a video's
frames never leave its node. ``ray.max_inputs`` videos run at once per node; the next input goes to the node
running the fewest. The driver reads the runners' progress from one ``ProgressBoard`` actor a few times a
second, whatever the number of videos and frames.

Faults: pose and mesh workers restart and their calls are retried, so a killed worker costs time, not frames. A
runner that dies (killed, or its node lost) loses nothing durable: its input starts again, resumed from the
store's last durable frame, on a node that is alive (at most ``ray.retries`` times). An input's own error (a
missing file, a store that exists) fails that input only. Ctrl-C stops every runner at its next batch; each
store ends at a durable frame and ``--resume`` continues it.
"""
from __future__ import annotations

import logging
import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

import ray

from stream.config import PipelineConfig
from stream.pipeline.ray_actors import ProgressBoard
from stream.pipeline.ray_pools import NodePools, PlacementError, on_node, video_nodes
from stream.pipeline.setup import RunSummary
from stream.pipeline.video_runner import Job, VideoRunner
from stream.store.location import as_location, is_url

log = logging.getLogger(__name__)

__all__ = ["Driver", "PlacementError", "RunInterrupted", "run_many", "run_ray"]

LOST = (ray.exceptions.RayActorError, ray.exceptions.WorkerCrashedError, ray.exceptions.ObjectLostError,
        ray.exceptions.NodeDiedError)
POLL_S = 0.25       # how often the driver reads the progress board
NODES_S = 2.0       # how often it asks Ray which nodes are alive, while inputs wait
STOP_WAIT_S = 5.0   # Ctrl-C: how long the runners get to close their stores


class RunInterrupted(KeyboardInterrupt):
    """Ctrl-C: ``results`` holds each input's RunSummary, error, or None where it was stopped."""

    def __init__(self, results: list):
        super().__init__("interrupted")
        self.results = results


def run_ray(cfg: PipelineConfig, *, resume: bool = False, force: bool = False, overwrite: bool = False,
            progress=None) -> RunSummary:
    """Process ``cfg.input`` on Ray; starts or joins Ray as ``cfg.ray.address`` says."""
    result = run_many([cfg], resume=resume, force=force, overwrite=overwrite, progress=progress)[0]
    if isinstance(result, BaseException):
        raise result
    return result


def run_many(cfgs: list[PipelineConfig], *, resume: bool = False, force: bool = False, overwrite: bool = False,
             progress=None, status=None) -> list:
    """Process every input (``ray.max_inputs`` at once per node) -> per input its RunSummary or its error.

    ``progress(frames, people)``: newly stored frames and people; ``status(dict)``: the videos' state
    (``Driver.status``). A worker that cannot be placed raises PlacementError (it fails every input).
    """
    from stream.pipeline.ray_setup import init_ray
    if not ray.is_initialized():     # a caller (a test) may have started or joined Ray already
        init_ray(cfgs[0].ray.address, num_gpus=cfgs[0].ray.num_gpus)
    driver = Driver(cfgs, resume=resume, force=force, overwrite=overwrite)
    return driver.run(progress, status)


class Driver:
    """The jobs of one run: where each runs, retries of lost ones, progress. ``calls``: the Ray calls it made
    (actors, runs, waits, node lists, board reads)."""

    def __init__(self, cfgs: list[PipelineConfig], *, resume: bool, force: bool, overwrite: bool):
        self.cfgs = cfgs
        self.jobs = deque(Job(i, cfg, resume, force, overwrite) for i, cfg in enumerate(cfgs))
        self.results: list = [None] * len(cfgs)
        self.attempts = [0] * len(cfgs)
        self.pools = NodePools(cfgs[0])
        self.active: dict = {}            # run ref -> (job, node id, runner)
        self.idle: dict[str, list] = {}   # node id -> runners waiting for a job
        self.markers: dict[Path, Path] = {}
        self.seen: dict[int, tuple] = {}  # input -> (frames, people) last read from the board
        self.avoid: dict[int, str] = {}   # input -> the node its last runner was lost on
        self.calls = 0
        self._video_nodes: dict[str, dict] = {}
        self._nodes_at: float | None = None
        here = ray.get_runtime_context().get_node_id()
        self.board = ray.remote(ProgressBoard).options(num_cpus=0, scheduling_strategy=on_node(here)).remote()

    def run(self, progress=None, status=None) -> list:
        try:
            while self.jobs or self.active:
                self._assign()
                self._collect()
                self._progress(progress, status)
            return self.results
        except KeyboardInterrupt:
            self._stop()
            raise RunInterrupted(self.results) from None
        finally:
            self._kill()

    def status(self) -> dict:
        done = [r for r in self.results if r is not None]
        return {"videos": len(self.results), "done": len(done), "running": len(self.active),
                "failed": sum(isinstance(r, BaseException) for r in done)}

    def _assign(self) -> None:
        """Send waiting jobs to the nodes running the fewest videos, ``ray.max_inputs`` per node at most."""
        if not self.jobs:
            return
        nodes = self._nodes()
        for node_id in [n for n in self.idle if n not in nodes]:
            self._lost_node(node_id)
        self._start_pools(nodes)
        while self.jobs:
            busy = {n: sum(node == n for _, node, _ in self.active.values()) for n in nodes}
            avoid = self.avoid.get(self.jobs[0].key)   # a lost runner's node, maybe not yet known to be dead
            node_id = min(nodes, key=lambda n: (n == avoid and len(nodes) > 1, busy[n]))
            if busy[node_id] >= self.cfgs[0].ray.max_inputs:
                return
            job = self.jobs.popleft()
            try:
                pose, mesh = self.pools.get(nodes[node_id], job.cfg)
            except ValueError as err:        # this input asks for another mesh model
                self.results[job.key] = err
                continue
            runner = self._runner(node_id)
            job = replace(job, marker=self._marker(job.cfg, len(nodes)))
            self.attempts[job.key] += 1
            self.active[runner.run.remote(job, pose, mesh)] = (job, node_id, runner)
            self.calls += 1

    def _nodes(self) -> dict[str, dict]:
        """The nodes that run videos, asked of Ray at most every ``NODES_S`` seconds or after a loss."""
        if self._nodes_at is None or time.monotonic() - self._nodes_at > NODES_S:
            self._video_nodes = {n["NodeID"]: n for n in video_nodes()}
            self._nodes_at = time.monotonic()
            self.calls += 1
        if not self._video_nodes:
            raise PlacementError("no node of the cluster can run videos: every node has 0 CPU and 0 GPU; start a "
                                 "node with CPUs or GPUs (ray start --address ... --num-cpus N)")
        return self._video_nodes

    def _start_pools(self, nodes: dict[str, dict]) -> None:
        """Start the workers of every node that has none yet, all nodes at once."""
        missing = [n for n in nodes.values() if not self.pools.has(n["NodeID"])]
        if len(missing) > 1:
            with ThreadPoolExecutor(len(missing)) as threads:
                list(threads.map(lambda node: self.pools.get(node, self.jobs[0].cfg), missing))

    def _runner(self, node_id: str):
        idle = self.idle.setdefault(node_id, [])
        if idle:
            return idle.pop()
        self.calls += 1
        return ray.remote(VideoRunner).options(num_cpus=0, max_concurrency=2, max_restarts=0,
                                               scheduling_strategy=on_node(node_id)).remote(self.board)

    def _marker(self, cfg: PipelineConfig, nodes: int) -> str | None:
        """On several nodes, a file beside a plain-path store that every node writing there must see."""
        if nodes < 2 or is_url(cfg.output):
            return None
        folder = Path(as_location(cfg.output)).resolve().parent
        if folder not in self.markers:
            folder.mkdir(parents=True, exist_ok=True)
            self.markers[folder] = folder / f".crowdmesh-{self.pools.run_id}"
            self.markers[folder].write_text("written by the crowdmesh driver; every node writing here must see it\n")
        return str(self.markers[folder])

    def _collect(self) -> None:
        """Take the results of the runs that ended within ``POLL_S``; start lost ones again."""
        if not self.active:
            return
        ready, _ = ray.wait(list(self.active), num_returns=len(self.active), timeout=POLL_S)
        self.calls += 1
        for ref in ready:
            job, node_id, runner = self.active.pop(ref)
            try:
                result = ray.get(ref)
            except LOST as err:
                self._retry(job, node_id, err)
                continue
            self.idle.setdefault(node_id, []).append(runner)
            if isinstance(result, dict):
                result = RunSummary(**{**result, "workers": tuple(self.pools.workers),
                                         "attempts": self.attempts[job.key]})
            self.results[job.key] = result
            if isinstance(result, BaseException):
                log.info("input %s failed: %s", job.cfg.input, result)    # the caller reports it

    def _retry(self, job: Job, node_id: str, err: Exception) -> None:
        """A run whose runner died (killed, or its node lost): again, resumed, if attempts are left."""
        self._nodes_at = None     # ask Ray again
        alive = set(self._nodes())
        if node_id not in alive:
            self._lost_node(node_id)
        what = "its node was lost" if node_id not in alive else "its runner died"
        if self.attempts[job.key] > job.cfg.ray.retries:
            self.results[job.key] = RuntimeError(f"input {job.cfg.input}: {what} {self.attempts[job.key]} times "
                                                 f"(ray.retries={job.cfg.ray.retries}); last: {type(err).__name__}")
            return
        log.warning("input %s: %s; starting it again from its store's last durable frame", job.cfg.input, what)
        self.avoid[job.key] = node_id
        self.jobs.appendleft(replace(job, resume=True, overwrite=False))

    def _lost_node(self, node_id: str) -> None:
        self.pools.drop(node_id)
        self.idle.pop(node_id, None)

    def _progress(self, progress, status) -> None:
        if progress is None and status is None:
            return
        self.calls += 1
        board = ray.get(self.board.read.remote())
        frames = people = 0
        totals = {}
        for key, (done, found, total) in board.items():
            last_done, last_found = self.seen.get(key, (0, 0))
            frames += max(0, done - last_done)
            people += found - last_found if found >= last_found else found   # a restarted run counts anew
            self.seen[key] = (done, found)
            totals[key] = total
        if progress is not None and (frames or people):
            progress(frames, people)
        if status is not None:
            status({**self.status(), "totals": totals})

    def _stop(self) -> None:
        """Ctrl-C: every runner stops at its next batch and closes its store (at most ``STOP_WAIT_S``)."""
        log.warning("interrupted: stopping %d video(s); each store keeps its last durable frame", len(self.active))
        for _, _, runner in self.active.values():
            runner.stop.remote()
        if self.active:
            ray.wait(list(self.active), num_returns=len(self.active), timeout=STOP_WAIT_S)

    def _kill(self) -> None:
        runners = [r for _, _, r in self.active.values()] + [r for idle in self.idle.values() for r in idle]
        for actor in (*runners, self.board):
            ray.kill(actor)
        self.pools.kill()
        for marker in self.markers.values():
            marker.unlink(missing_ok=True)
