"""``VideoRunner``: one video at a time through the workers of the runner's own node (a Ray actor; the driver,
``stream.pipeline.ray_driver``, starts a few per node and sends them jobs).

    runner = ray.remote(VideoRunner).options(scheduling_strategy=on_node(node_id), max_concurrency=2).remote(board)
    result = ray.get(runner.run.remote(job, pose_workers, mesh_workers))   # summary dict, or the input's error

The runner opens the input (a path or a URL) and the store, decodes, ``ray.put``s each frame once into its
node's object store, sends batches of frames to the node's pose workers, tracks each frame's people in order
(here), sends the tracked frames to the node's mesh workers and writes their rows in order (here). At most
``ray.max_frames_in_flight`` frames are between decoding and the store. Only the job, progress counts and the
summary go to the driver: the frames stay on the node.

``stop()`` (the driver's Ctrl-C) ends the video at the next batch: the store keeps what was written (its last
durable frame) and ``--resume`` continues it.
"""
from __future__ import annotations

import socket
import threading
import time
from collections import deque
from dataclasses import asdict, dataclass
from pathlib import Path

import ray

from stream.config import PipelineConfig
from stream.pipeline.setup import Run, frame_ids, summarize
from stream.pipeline.sink import StoreSink
from stream.pipeline.track import TrackStage
from stream.smooth.offline import smooth_store
from stream.source.frames import FrameSourceError

__all__ = ["Job", "SharedStorageError", "VideoRunner"]


class SharedStorageError(RuntimeError):
    """A node that cannot see the output folder the driver wrote to."""


@dataclass(frozen=True)
class Job:
    key: int                      # the input's position in the run
    cfg: PipelineConfig
    resume: bool = False
    force: bool = False
    overwrite: bool = False
    marker: str | None = None     # a file the driver wrote beside the store: a node that writes must see it


class VideoRunner:
    """Runs ``Job``s one after another; reports progress to ``board`` (a ``ProgressBoard``)."""

    def __init__(self, board):
        self.board = board
        self.pose_stages: dict = {}   # pose2d settings -> the pose stage's joint set, loaded once per runner
        self._stop = threading.Event()

    def ready(self) -> str:
        return ray.get_runtime_context().get_node_id()

    def stop(self) -> None:
        self._stop.set()

    def run(self, job: Job, pose_workers: list, mesh_workers: list):
        """Process ``job``'s input -> its RunSummary as a dict, or the exception that stopped it (returned, so
        the driver gets the input's own error, e.g. FileNotFoundError naming it)."""
        try:
            return self._run(job, pose_workers, mesh_workers)
        except Exception as err:  # noqa: BLE001 - the input's error, for its line in the summary
            return err

    def _run(self, job: Job, pose_workers: list, mesh_workers: list) -> dict:
        start = time.perf_counter()
        if job.marker and not Path(job.marker).exists():
            raise SharedStorageError(
                f"output {job.cfg.output}: node {socket.gethostname()} does not see the folder the driver "
                f"wrote to ({Path(job.marker).parent} has no {Path(job.marker).name}); on a cluster of several "
                "machines put the outputs on a shared filesystem mounted at the same path on every node, or use an "
                "object-store URL (--out-dir s3://bucket/folder)")
        run = Run(job.cfg, resume=job.resume, force=job.force, overwrite=job.overwrite, local=False,
                  pose=self.pose_stages.get(job.cfg.pose2d))
        self.pose_stages[job.cfg.pose2d] = run.pose
        if run.complete:
            return asdict(summarize(run.path, 0, 0, start))
        video = _Video(run, StoreSink(**run.sink_args), pose_workers, mesh_workers)
        finished = False
        try:
            for batch in run.frames():
                if self._stop.is_set():
                    break
                video.submit(batch)
                video.advance(job.cfg.ray.max_frames_in_flight, self._report(job.key, run))
            else:
                video.finish(self._report(job.key, run))
                if run.error:
                    video.sink.record_error(run.error)
                finished = True
        finally:
            opened = video.sink.close(finished)
        if not opened:
            raise FrameSourceError(f"input {job.cfg.input} gave no frames")
        if finished and job.cfg.smoothing.offline:
            smooth_store(run.path, job.cfg.smoothing)
        return asdict(summarize(run.path, *video.counts, start))

    def _report(self, key: int, run: Run):
        total = len(run.source) or None

        def report(frames: int, people: int) -> None:
            self.board.report.remote(key, run.done + frames, people, total)
        return report


class _Video:
    """One input's frames in flight: posed batches waiting to be tracked, tracked ones waiting for their rows."""

    def __init__(self, run: Run, sink: StoreSink, pose_workers: list, mesh_workers: list):
        self.run, self.sink, self.pose_workers, self.mesh_workers = run, sink, pose_workers, mesh_workers
        self.tracker: TrackStage | None = None     # made at the first frame, when a live input's rate is known
        self.posing: deque = deque()     # (frames, refs, poses ref), in frame order
        self.meshing: deque = deque()    # (frames, camera, rows ref), in frame order
        self.held: dict = {}             # frame index -> (frame, pixels ref) until the tracker hands back its people
        self.counts = [0, 0]             # frames, people stored
        self.batches = 0

    def submit(self, batch: list) -> None:
        refs = [ray.put(f.bgr) for f in batch]          # into this node's object store, once
        worker = self.pose_workers[self.batches % len(self.pose_workers)]
        poses = worker.poses.remote(self.run.cfg, frame_ids(batch, self.run.by_index), *refs)
        frames = [(f.index, f.time, f.bgr.shape[1::-1], f.label) for f in batch]   # no pixels kept here
        self.posing.append((frames, refs, poses))
        self.batches += 1
        self.tracker = self.tracker or TrackStage(self.run.tracker_config, self.run.joint_set)

    def in_flight(self) -> int:
        return sum(len(f) for f, *_ in self.posing) + sum(len(f) for f, *_ in self.meshing)

    def advance(self, limit: int, report) -> None:
        """Track every posed batch and store every meshed one that is ready, oldest first; wait for the oldest
        while more than ``limit`` frames are in flight."""
        while True:
            while self.posing and _ready(self.posing[0][2]):
                self._track(*self.posing.popleft())
            while self.meshing and _ready(self.meshing[0][2]):
                self._store(*self.meshing.popleft(), report)
            if self.in_flight() <= limit or not (self.posing or self.meshing):
                return
            oldest = [q[0][-1] for q in (self.posing, self.meshing) if q]
            ray.wait(oldest, num_returns=1)

    def finish(self, report) -> None:
        """The end of the input: track and store every frame in flight, then the frames the tracker still holds."""
        self.advance(0, report)
        if self.tracker is not None:
            self._mesh(self.tracker.flush())
            self.advance(0, report)

    def _track(self, frames: list, refs: list, poses_ref) -> None:
        tracked = []
        for frame, ref, p in zip(frames, refs, ray.get(poses_ref)):
            self.held[frame[0]] = frame, ref
            tracked += self.tracker(frame[0], p)
        self._mesh(tracked)

    def _mesh(self, tracked: list) -> None:
        """Send the frames the tracker handed back (``(index, people)``) to a mesh worker; frames in the store
        already (resumed) were tracked only, so track IDs continue."""
        held = [(*self.held.pop(index), people) for index, people in tracked]
        held = [h for h in held if h[0][0] >= self.run.done]
        if not held:
            return
        frames, refs, people = zip(*held)
        camera = self.run.camera(*frames[0][2])
        worker = self.mesh_workers[self.batches % len(self.mesh_workers)]
        rows = worker.meshes.remote([f[0] for f in frames], self.run.joint_set, camera, list(people), *refs)
        self.meshing.append((list(frames), camera, rows))

    def _store(self, frames: list, camera: tuple, rows_ref, report) -> None:
        people = 0
        for (index, time_s, size, label), rows in zip(frames, ray.get(rows_ref)):
            self.sink.open(*size, camera, label)
            people += self.sink.add(index, time_s, rows)
        self.counts[0] += len(frames)
        self.counts[1] += people
        report(*self.counts)


def _ready(ref) -> bool:
    return bool(ray.wait([ref], timeout=0)[0])
