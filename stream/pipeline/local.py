"""``stream process`` without Ray: every stage one after another in this process.

    cfg = load_pipeline_config("configs/pipeline.yaml", ["input=clip.mp4", "pose2d.backend=precomputed",
                                                         "pose2d.poses=detections.json"])
    summary = run_local(cfg)                     # -> clip.zarr, one SMPL sequence per tracked person

This is the reference the Ray runner (``stream.pipeline.ray_driver``) is tested against: both build their
stages with ``stream.pipeline.setup`` and batch crops with ``stream.mesh.batcher.MeshBatcher``, so they differ
only in where the stages run and in which frames share a forward pass.
"""
from __future__ import annotations

import logging
import time

from stream.config import PipelineConfig
from stream.mesh.batcher import MeshBatcher
from stream.pipeline.setup import Run, RunSummary, frame_ids, summarize
from stream.pipeline.sink import StoreSink
from stream.pipeline.track import TrackStage
from stream.smooth.offline import smooth_store
from stream.source.frames import FrameSourceError

log = logging.getLogger(__name__)

__all__ = ["run_local"]


def run_local(cfg: PipelineConfig, *, resume: bool = False, force: bool = False, overwrite: bool = False,
              progress=None) -> RunSummary:
    """Run every stage in this process; whole frames go through the mesh stage in passes of at most
    ``model.max_batch`` crops. ``progress(frames, people)`` is called after each stored pass."""
    start_time = time.perf_counter()
    run = Run(cfg, resume=resume, force=force, overwrite=overwrite)
    sink = run.sink
    if run.complete:
        log.info("store %s is already complete (%d frames)", run.path, run.done)
        return summarize(run.path, 0, 0, start_time)
    batcher = MeshBatcher(run.mesh, cfg.model.max_batch)
    tracker = None      # made at the first frame, when a live input's frame rate is known
    counts = [0, 0]     # frames, people stored
    held = {}           # frame index -> Frame, until the tracker hands back its people
    try:
        for batch in run.frames():
            poses = run.pose([f.bgr for f in batch], frame_ids(batch, run.by_index))
            tracker = tracker or TrackStage(run.tracker_config, run.joint_set)
            for frame, p in zip(batch, poses):
                held[frame.index] = frame
                _mesh(run, batcher, held, tracker(frame.index, p), progress, counts)
        if tracker is not None:
            _mesh(run, batcher, held, tracker.flush(), progress, counts)
        _store(sink, batcher.flush(), progress, counts)
        if run.error:
            sink.record_error(run.error)
    except BaseException:
        sink.close(finished=False)      # frames still in the batcher are not stored; what was added stays valid
        raise
    if not sink.close(finished=True):
        raise FrameSourceError(f"input {cfg.input} gave no frames")
    if cfg.smoothing.offline:
        smooth_store(run.path, cfg.smoothing)
    return summarize(run.path, *counts, start_time)


def _mesh(run: Run, batcher: MeshBatcher, held: dict, tracked: list, progress, counts: list[int]) -> None:
    """Crop the people of the frames the tracker handed back (``(index, people)``) and store the passes that ran;
    frames the store already holds (resumed) were tracked only."""
    for index, people in tracked:
        frame = held.pop(index)
        if index < run.done:
            continue
        height, width = frame.bgr.shape[:2]
        camera = run.camera(width, height)
        run.sink.open(width, height, camera, frame.label)
        _store(run.sink, batcher.add(frame, run.mesh.crops(index, frame.bgr, people, camera)), progress, counts)


def _store(sink: StoreSink, done: list, progress, counts: list[int]) -> None:
    """Write the frames whose mesh pass ran (``(frame, rows)`` in order); add them to ``counts``."""
    if not done:
        return
    people = sum(sink.add(frame.index, frame.time, rows) for frame, rows in done)
    counts[0], counts[1] = counts[0] + len(done), counts[1] + people
    if progress is not None:
        progress(len(done), people)
