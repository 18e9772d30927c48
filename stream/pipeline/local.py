"""``stream process`` without Ray: the plain stages run one after another in this process.

    cfg = load_pipeline_config("configs/pipeline.yaml", ["input=clip.mp4", "pose2d.backend=precomputed",
                                                         "pose2d.poses=detections.json"])
    summary = run_local(cfg)                     # -> clip.zarr, one SMPL sequence per tracked person

This is the reference the Ray pipeline (``stream.pipeline.ray_driver``) is tested against: both build their
stages with the functions here (``load_pose_stage``, ``load_mesh_stage``, ``StoreSink``), so they differ
only in where the stages run and in how mesh crops are grouped into batches.

Resume: a store's ``frames_done`` frames are kept; the tracker is replayed over them (2D pose and
tracking only, no mesh) so track IDs continue exactly as in an uninterrupted run.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Iterator

import numpy as np

from nets.assets import SOURCES, missing_asset
from nets.devices import resolve_device, resolve_precision
from stream.pose2d.assets import crowdmesh_home, sha256_file
from stream.config import PipelineConfig, to_dict
from stream.source.frames import Frame, FrameSource, FrameSourceError
from stream.smooth.online import TrackSmoother
from stream.mesh.stage import MeshStage, PoseStage, TrackStage, concat_jobs, frame_rows, split_rows
from stream.store.layout import (StoreExistsError, StoreFormatError, StoreMismatchError, differences,
                                 json_value)
from stream.store.read import open_store
from stream.store.write import StoreWriter

log = logging.getLogger(__name__)

__all__ = ["RunSummary", "StoreSink", "asset_paths", "fingerprints", "load_mesh_stage", "load_pose_stage",
           "output_path", "result_config", "run_local"]


@dataclass(frozen=True)
class RunSummary:
    store: Path
    frames: int           # frames in the store
    processed: int        # frames run through the mesh stage in this run (the rest were resumed)
    person_crops: int     # people regressed in this run
    tracks: int
    errors: list          # the store's recorded errors
    seconds: float
    workers: tuple = ()   # Ray: where each worker ran (kind, node, pid, gpu_ids, device)


def asset_paths(cfg: PipelineConfig, home: Path | None = None) -> dict[str, Path]:
    """The mesh model's files: config values, else the defaults under ``$CROWDMESH_HOME``; checked to exist."""
    home = Path(home) if home is not None else crowdmesh_home()
    given = {"checkpoint": (cfg.model.checkpoint, home / "snapshot_6.pth.tar", "model.checkpoint",
                            "3DCrowdNet checkpoint"),
             "smpl": (cfg.body.smpl, home / "smpl" / "SMPL_NEUTRAL.pkl", "body.smpl", "SMPL model file"),
             "joint_regressor_extra": (cfg.body.joint_regressor_extra, home / "J_regressor_extra.npy",
                                       "body.joint_regressor_extra", "extra joint regressor")}
    paths = {}
    for key, (value, default, setting, what) in given.items():
        paths[key] = Path(value).expanduser() if value else default
        if not paths[key].is_file():
            raise missing_asset(what, paths[key], f"{setting}=PATH", SOURCES[key])
    return paths


def load_mesh_stage(cfg: PipelineConfig, joint_set: str, paths: dict[str, Path] | None = None) -> MeshStage:
    """The body model and 3DCrowdNet from ``asset_paths``, BN folded for inference, on ``model.device`` in
    ``model.precision``, compiled when ``model.compile``."""
    from nets.body import BodyModel
    from nets.checkpoint import load_model
    paths = paths or asset_paths(cfg)
    body = BodyModel.from_files(paths["smpl"], paths["joint_regressor_extra"])
    device = resolve_device(cfg.model.device)
    model = load_model(paths["checkpoint"], body).for_inference()
    crops = cfg.model.crop_device
    if crops == "auto":    # crops warped where the model runs when that is a GPU
        crops = "gpu" if str(device).startswith("cuda") else "cpu"
    return MeshStage(model, joint_set, max_batch=cfg.model.max_batch, device=device, crop_device=crops,
                     precision=resolve_precision(cfg.model.precision, device), compile=cfg.model.compile)


def load_pose_stage(cfg: PipelineConfig) -> PoseStage:
    from stream.pose2d.base import make_backend
    p = cfg.pose2d
    backend = make_backend(p.backend, checkpoint=p.checkpoint or "rtmo-l_body7", config=p.config or None,
                           poses=p.poses or None, device=resolve_device(p.device), precision=p.precision,
                           batch_size=p.batch_size,
                           score_threshold=p.score_threshold)
    return PoseStage(backend)


def result_config(cfg: PipelineConfig) -> dict:
    """The settings a store's values depend on (compared on ``--resume``); paths are in ``fingerprints``."""
    d = to_dict(cfg)
    return {"pose2d": {"backend": d["pose2d"]["backend"], "score_threshold": d["pose2d"]["score_threshold"]},
            "tracker": d["tracker"], "camera": d["camera"],
            "smoothing": d["smoothing"]}


def fingerprints(cfg: PipelineConfig, paths: dict[str, Path], body_sha256: str) -> dict:
    """What a store's values were made with: file digests of the model and the pose input or weights."""
    p = cfg.pose2d
    pose_file = p.poses if p.backend == "precomputed" else p.checkpoint
    if pose_file and Path(pose_file).is_file():
        pose = sha256_file(pose_file)
    else:
        pose = pose_file or "rtmo-l_body7"   # a known asset name (its file is verified against its hash)
    return {"model_sha256": sha256_file(paths["checkpoint"]), "body_sha256": body_sha256, "pose2d": pose}


def output_path(cfg: PipelineConfig) -> Path:
    if cfg.output:
        return Path(cfg.output)
    if cfg.input in ("", "-") or "://" in cfg.input:
        raise ValueError(f"input {cfg.input!r} has no file name to derive the store from; pass --out OUT.zarr")
    src = Path(cfg.input)
    return src.parent / f"{src.stem if src.suffix else src.name}.zarr"


class StoreSink:
    """The writer stage: opens (creates or resumes) the store, turns mesh rows into store rows, records
    errors. ``add`` takes frames in order."""

    def __init__(self, path, *, cfg: PipelineConfig, fingerprints: dict, source: dict, joint_set: str,
                 resume: bool = False, force: bool = False, overwrite: bool = False):
        self.path, self.cfg, self._fingerprints = Path(path), cfg, fingerprints
        self._source, self.joint_set = source, joint_set
        self.writer: StoreWriter | None = None
        self._overwrite = overwrite
        self.smoother = TrackSmoother.from_config(cfg.smoothing) if cfg.smoothing.enabled else None
        self.done_before, self.complete_before = check_store(self.path, cfg, fingerprints, resume, force, overwrite)
        if resume and self.done_before is not None:
            self.writer = StoreWriter.resume(self.path, config=result_config(cfg), fingerprints=fingerprints,
                                             force=force, flush_frames=cfg.store.flush_frames)
            with open_store(self.path) as store:
                self._set_camera(store.camera, store.source.get("size"))
                if self.smoother is not None:   # the filters continue from the stored raw values
                    self.smoother.replay(store)

    def _set_camera(self, camera: dict, size) -> None:
        focal = camera["focal"]
        self.focal = float(focal[0] if isinstance(focal, (list, tuple)) else focal)
        self.principal_point = tuple(camera["principal_point"])
        self.size = tuple(size) if size else None

    @property
    def frames_done(self) -> int:
        return self.writer.frames_done if self.writer is not None else 0

    @property
    def complete(self) -> bool:
        return self.writer.complete if self.writer is not None else self.complete_before

    def open(self, width: int, height: int, label: str = "a frame") -> None:
        """Create the store at the first frame (its size fixes the camera); check later frames' size."""
        w, h = int(width), int(height)
        if self.writer is None:
            focal, pp = self.cfg.camera.intrinsics(w, h)
            camera = {"focal": focal, "principal_point": pp}
            self.writer = StoreWriter.create(self.path, source={**self._source, "size": (w, h)}, camera=camera,
                                             joint_set=self.joint_set, config=result_config(self.cfg),
                                             fingerprints=self._fingerprints, overwrite=self._overwrite,
                                             flush_frames=self.cfg.store.flush_frames,
                                             smoothing=self.smoother.describe() if self.smoother is not None else None)
            self._set_camera(camera, (w, h))
        elif self.size is not None and (w, h) != self.size:
            raise FrameSourceError(f"{label} is {w}x{h}, the input's first frame was {self.size[0]}x"
                                   f"{self.size[1]}; one store holds frames of one size (one camera)")

    def add(self, frame: Frame | tuple, people, rows: dict[str, np.ndarray]) -> int:
        """Store one frame; ``frame`` is a Frame or ``(index, time)``. Returns the people stored."""
        index, time = (frame.index, frame.time) if isinstance(frame, Frame) else frame
        stored = frame_rows(people, rows, self.focal, self.principal_point)
        if self.smoother is not None:
            stored = self.smoother.smooth_frame(_seconds(index, time), stored)
        self.writer.add_frame(index, _seconds(index, time), stored)
        return len(stored["track_id"])

    def record_error(self, message: str) -> None:
        if self.writer is not None:
            self.writer.record_error(message)

    def close(self, finished: bool) -> None:
        if self.writer is None:
            return
        if finished:
            self.writer.finish()
        else:
            self.writer.flush()


def check_store(path: Path, cfg: PipelineConfig, fingerprints: dict, resume: bool, force: bool,
                overwrite: bool) -> tuple[int | None, bool]:
    """Before any work: may this run write ``path``? -> (frames_done of the store to resume or None, complete).

    An existing store needs ``resume`` (continue it) or ``overwrite`` (replace it); resuming needs the same
    result config and fingerprints unless ``force``. Each refusal raises with the reason and the fix.
    """
    if not path.exists():
        return None, False
    if overwrite and not resume:
        return None, False
    try:
        store = open_store(path)
    except (FileNotFoundError, ValueError, KeyError) as err:
        raise StoreFormatError(f"{path} exists but is not a readable crowdmesh store ({err}); pass --overwrite "
                               "to replace it or another --out") from None
    with store:
        state = f"{store.frames_done} frames, {'complete' if store.complete else 'not complete'}"
        if not resume:
            raise StoreExistsError(f"store {path} already exists ({state}); continue it with --resume, replace it "
                                   "with --overwrite, or pass another --out")
        diffs = (differences(store.attrs["config"], json_value(result_config(cfg), "config"), "config")
                 + differences(store.attrs["fingerprints"], json_value(fingerprints, "fingerprints"), "fingerprints"))
        if diffs and not force:
            raise StoreMismatchError(f"store {path} ({state}) was written with a different setup: {'; '.join(diffs)}. "
                                     "Resume with the same config and files, pass --force to continue with these "
                                     "anyway (the store then mixes two setups), or --overwrite to start again")
        return store.frames_done, store.complete


def _seconds(index: int, time: float | None) -> float:
    """A frame's time: its presentation time; image folders have none and count one frame per second."""
    return float(index) if time is None else float(time)


def source_info(source: FrameSource) -> dict:
    return {"path": source.input, "kind": source.kind, "fps": source.fps, "size": None,
            "frame_count": len(source) or None}


def frame_ids(frames: list[Frame], by_index: bool) -> list:
    return [f.index if by_index else f.name for f in frames]


def batches(frames: Iterator[Frame], size: int) -> Iterator[list[Frame]]:
    batch: list[Frame] = []
    for frame in frames:
        batch.append(frame)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


class Run:
    """Everything one input needs, built from config; shared by the local and the Ray runner."""

    def __init__(self, cfg: PipelineConfig, *, resume: bool = False, force: bool = False, overwrite: bool = False,
                 local: bool = True, pose: PoseStage | None = None):
        from nets.body import BodyModel
        if not cfg.input:
            raise ValueError("no input: pass a video file, an image folder, '-' (stdin) or a stream URL")
        self.cfg = cfg
        self.source = FrameSource(cfg.input)
        # `stream batch` shares one among inputs with one pose setup; Ray's driver needs only its joint set, so
        # it loads the weights on the CPU (the workers hold the GPUs)
        on_cpu = replace(cfg, pose2d=replace(cfg.pose2d, device="cpu", precision="fp32"))
        self.pose = pose or load_pose_stage(cfg if local else on_cpu)
        self.joint_set = self.pose.joint_set
        self.paths = asset_paths(cfg)
        self.mesh = load_mesh_stage(cfg, self.joint_set, self.paths) if local else None
        body = self.mesh.model.body if self.mesh is not None else BodyModel.from_files(
            self.paths["smpl"], self.paths["joint_regressor_extra"])
        self.fingerprints = fingerprints(cfg, self.paths, body.fingerprint())
        self.sink_args = dict(path=output_path(cfg), cfg=cfg, fingerprints=self.fingerprints,
                              source=source_info(self.source), joint_set=self.joint_set, resume=resume,
                              force=force, overwrite=overwrite)
        if local:
            self.sink = StoreSink(**self.sink_args)
            self.done, self.complete = self.sink.done_before, self.sink.complete_before
        else:       # Ray: the store worker opens it; check here, before any work
            self.sink = None
            self.done, self.complete = check_store(self.sink_args["path"], cfg, self.fingerprints, resume, force,
                                                   overwrite)
        self.error: str | None = None
        self.by_index = self.source.kind != "folder" or getattr(self.pose.backend, "id_kind", None) == "index"

    @property
    def tracker_config(self):
        """Tracker settings scaled to the input's frame rate (known for a live input once it started)."""
        return self.cfg.tracker.for_fps(self.source.fps) if self.source.fps else self.cfg.tracker

    def frames(self) -> Iterator[list[Frame]]:
        """Decoded frames in pose batches. A decoding error after some frames ends the input: the runner
        keeps what was decoded and records ``self.error`` in the store."""
        decoded = 0
        try:
            for batch in batches(iter(self.source), self.cfg.pose2d.batch_size):
                decoded += len(batch)
                yield batch
        except FrameSourceError as err:
            if not decoded:
                raise
            self.error = str(err)
            log.error("%s; keeping the %d frames decoded before it", err, decoded)


def run_local(cfg: PipelineConfig, *, resume: bool = False, force: bool = False, overwrite: bool = False,
              progress=None) -> RunSummary:
    """Run every stage in this process; whole frames go through the mesh stage in groups of at most
    ``model.max_batch`` crops. ``progress(frames, people)`` is called after each stored group."""
    import time
    start_time = time.perf_counter()
    run = Run(cfg, resume=resume, force=force, overwrite=overwrite)
    sink, mesh = run.sink, run.mesh
    if sink.complete:
        log.info("store %s is already complete (%d frames)", sink.path, sink.frames_done)
        return summarize(sink.path, 0, 0, start_time)
    tracker = None
    start = sink.frames_done
    pending: list[tuple] = []   # (frame, people, jobs)
    processed = crops = 0

    def drain():
        nonlocal processed, crops
        if not pending:
            return
        out = mesh(concat_jobs([jobs for _, _, jobs in pending]))
        per_frame = split_rows(out, [f.index for f, _, _ in pending])
        people_count = sum(sink.add(f, people, rows) for (f, people, _), rows in zip(pending, per_frame))
        processed += len(pending)
        crops += len(out["track_id"])
        if progress is not None:
            progress(len(pending), people_count)
        pending.clear()

    try:
        for batch in run.frames():
            poses = run.pose([f.bgr for f in batch], frame_ids(batch, run.by_index))
            tracker = tracker or TrackStage(run.tracker_config, run.joint_set)
            for frame, frame_poses in zip(batch, poses):
                people, _ = tracker(frame.index, frame_poses)
                if frame.index < start:       # resumed: already stored, replayed for the tracker only
                    continue
                sink.open(frame.bgr.shape[1], frame.bgr.shape[0], frame.label)
                jobs = mesh.jobs(frame.index, frame.bgr, people)
                waiting = sum(len(j["track_id"]) for _, _, j in pending)
                if waiting and waiting + len(jobs["track_id"]) > cfg.model.max_batch:
                    drain()      # forward passes of at most max_batch crops (whole frames)
                pending.append((frame, people, jobs))
        drain()
        if run.error:
            sink.record_error(run.error)
    except BaseException:
        pending.clear()              # frames without a mesh are not stored; what was added stays valid
        sink.close(finished=False)
        raise
    if sink.writer is None:
        raise FrameSourceError(f"input {cfg.input} gave no frames")
    sink.close(finished=True)
    return summarize(sink.path, processed, crops, start_time)


def summarize(path: Path, processed: int, crops: int, start_time: float) -> RunSummary:
    import time
    with open_store(path) as store:
        return RunSummary(Path(path), store.frames_done, processed, crops, len(store.track_ids()),
                          store.errors, time.perf_counter() - start_time)
