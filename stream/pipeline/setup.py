"""What a run of ``stream process`` needs before any work, built from config and checked; shared by both runners.

    run = Run(cfg, resume=False, force=False, overwrite=False)   # input opened, models loaded, store checked
    for batch in run.frames():            # decoded frames in pose batches; those below run.done are in the store
        ...
    run.camera(width, height)             # the full image's camera of the rows

Also the pieces a Ray worker builds for itself: ``asset_paths``, ``load_pose_stage``, ``load_mesh_stage``.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Iterator, NamedTuple

from nets.assets import SOURCES, default_asset_paths, missing_asset
from nets.devices import resolve_device, resolve_precision
from stream.config import PipelineConfig, to_dict
from stream.mesh.stage import MeshStage
from stream.pipeline.sink import StoreSink
from stream.pose2d.assets import sha256_file
from stream.pose2d.stage import PoseStage
from stream.smooth.online import TrackSmoother
from stream.source.frames import Frame, FrameSource, FrameSourceError
from stream.store.layout import StoreExistsError, StoreFormatError, StoreMismatchError, differences, json_value
from stream.store.location import Location, as_location, store_exists
from stream.store.read import open_store

log = logging.getLogger(__name__)

__all__ = ["Run", "RunSummary", "StoredState", "asset_paths", "check_store", "fingerprints", "frame_ids",
           "load_mesh_stage", "load_pose_stage", "output_path", "result_config", "summarize"]


@dataclass(frozen=True)
class RunSummary:
    store: Location       # a Path, or a URL
    frames: int           # frames in the store
    processed: int        # frames run through the mesh stage in this run (the rest were resumed)
    person_crops: int     # people regressed in this run
    tracks: int
    errors: list          # the store's recorded errors
    seconds: float
    workers: tuple = ()   # Ray: where each worker ran (kind, node, pid, gpu_ids, device)
    attempts: int = 1     # Ray: runs of this input (more than one when a runner or its node was lost)


def asset_paths(cfg: PipelineConfig, home: Path | None = None) -> dict[str, Path]:
    """The mesh model's files: config values, else ``nets.assets.default_asset_paths(home)``; checked to exist."""
    defaults = default_asset_paths(home)
    given = {"checkpoint": (cfg.model.checkpoint, "model.checkpoint", "3DCrowdNet checkpoint"),
             "smpl": (cfg.body.smpl, "body.smpl", "SMPL model file"),
             "joint_regressor_extra": (cfg.body.joint_regressor_extra, "body.joint_regressor_extra",
                                       "extra joint regressor")}
    paths = {}
    for key, (value, setting, what) in given.items():
        paths[key] = Path(value).expanduser() if value else defaults[key]
        if not paths[key].is_file():
            raise missing_asset(what, paths[key], f"{setting}=PATH", SOURCES[key])
    return paths


def load_mesh_stage(cfg: PipelineConfig, joint_set: str | None, paths: dict[str, Path] | None = None) -> MeshStage:
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
    """The settings a store's values depend on (compared on ``--resume``); paths are in ``fingerprints``.
    The ``smoothing.offline*`` keys are not among them: offline values are made anew from the raw ones."""
    d = to_dict(cfg)
    return {"pose2d": {"backend": d["pose2d"]["backend"], "score_threshold": d["pose2d"]["score_threshold"]},
            "tracker": d["tracker"], "camera": d["camera"],
            "smoothing": {k: v for k, v in d["smoothing"].items() if not k.startswith("offline")}}


def fingerprints(cfg: PipelineConfig, paths: dict[str, Path], body_sha256: str) -> dict:
    """What a store's values were made with: file digests of the model and the pose input or weights."""
    p = cfg.pose2d
    pose_file = p.poses if p.backend == "precomputed" else p.checkpoint
    if pose_file and Path(pose_file).is_file():
        pose = sha256_file(pose_file)
    else:
        pose = pose_file or "rtmo-l_body7"   # a known asset name (its file is verified against its hash)
    return {"model_sha256": sha256_file(paths["checkpoint"]), "body_sha256": body_sha256, "pose2d": pose}


def output_path(cfg: PipelineConfig) -> Location:
    """The store: ``cfg.output`` (a path or a URL, ``s3://bucket/clip.zarr``), else ``<input stem>.zarr`` beside
    a local input."""
    if cfg.output:
        return as_location(cfg.output)
    if not cfg.input or cfg.input == "-" or "://" in cfg.input:
        raise ValueError(f"input {cfg.input!r} has no file name to derive the store from; pass --out OUT.zarr")
    src = Path(cfg.input)
    return src.parent / f"{src.stem if src.suffix else src.name}.zarr"


class StoredState(NamedTuple):
    """An existing store that a run continues."""
    frames_done: int
    complete: bool
    camera: tuple[float, tuple[float, float]]    # (focal, principal_point) its rows are in


def check_store(path: Location, cfg: PipelineConfig, fingerprints: dict, resume: bool, force: bool,
                overwrite: bool) -> StoredState | None:
    """Before any work: may this run write ``path``? -> the store to continue, or None for a new store.

    An existing store needs ``resume`` (continue it) or ``overwrite`` (replace it); resuming needs the same
    result config and fingerprints unless ``force``. Each refusal raises with the reason and the fix.
    """
    if not store_exists(path) or (overwrite and not resume):
        return None
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
        focal = store.camera["focal"]        # [fx, fy]: the rows use fx
        focal = float(focal[0] if isinstance(focal, (list, tuple)) else focal)
        return StoredState(store.frames_done, store.complete, (focal, tuple(store.camera["principal_point"])))


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
    """Everything one input needs, built from config; shared by the local and the Ray runner.

    ``local``: also load the mesh stage and open the store here (``mesh``, ``sink``); the Ray runner leaves
    both to its workers and needs only the pose stage's joint set (its weights loaded on the CPU).
    ``pose``: a pose stage to share (``stream batch``: inputs with one pose setup). ``done``: frames the store
    already holds (0 for a new store); ``complete``: it holds the whole input.
    """

    def __init__(self, cfg: PipelineConfig, *, resume: bool = False, force: bool = False, overwrite: bool = False,
                 local: bool = True, pose: PoseStage | None = None):
        from nets.body import BodyModel
        if not cfg.input:
            raise ValueError("no input: pass a video file, an image folder, '-' (stdin) or a stream URL")
        self.cfg = cfg
        self.source = FrameSource(cfg.input)
        on_cpu = replace(cfg, pose2d=replace(cfg.pose2d, device="cpu", precision="fp32"))
        self.pose = pose or load_pose_stage(cfg if local else on_cpu)
        self.joint_set = self.pose.joint_set
        self.paths = asset_paths(cfg)
        self.mesh = load_mesh_stage(cfg, self.joint_set, self.paths) if local else None
        body = self.mesh.model.body if self.mesh is not None else BodyModel.from_files(
            self.paths["smpl"], self.paths["joint_regressor_extra"])
        self.fingerprints = fingerprints(cfg, self.paths, body.fingerprint())
        self.path = output_path(cfg)
        stored = check_store(self.path, cfg, self.fingerprints, resume, force, overwrite)
        self.done, self.complete = (stored.frames_done, stored.complete) if stored else (0, False)
        self._stored_camera = stored.camera if stored else None
        source = {"path": self.source.input, "kind": self.source.kind, "fps": self.source.fps, "size": None,
                  "frame_count": len(self.source) or None}
        smoother = TrackSmoother.from_config(cfg.smoothing) if cfg.smoothing.enabled else None
        self.sink_args = dict(path=self.path, config=result_config(cfg), fingerprints=self.fingerprints,
                              source=source, joint_set=self.joint_set, smoother=smoother,
                              flush_frames=cfg.store.flush_frames, resume=stored is not None, force=force,
                              overwrite=overwrite)
        self.sink = StoreSink(**self.sink_args) if local else None
        self.error: str | None = None
        self.by_index = self.source.kind != "folder" or getattr(self.pose.backend, "id_kind", None) == "index"

    @property
    def tracker_config(self):
        """Tracker settings scaled to the input's frame rate (known for a live input once it started)."""
        return self.cfg.tracker.for_fps(self.source.fps) if self.source.fps else self.cfg.tracker

    def camera(self, width: int, height: int) -> tuple[float, tuple[float, float]]:
        """``(focal, principal_point)`` of the full image: the continued store's, else from ``camera.*``."""
        return self._stored_camera or self.cfg.camera.intrinsics(width, height)

    def frames(self) -> Iterator[list[Frame]]:
        """Decoded frames in pose batches, from the first frame: those the store already holds (index below
        ``done``, resumed) go through 2D pose and tracking only, so track IDs continue as in an uninterrupted
        run. A decoding error after some frames ends the input: the runner keeps what was decoded and records
        ``self.error`` in the store."""
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


def summarize(path: Location, processed: int, crops: int, start_time: float, workers: tuple = ()) -> RunSummary:
    with open_store(path) as store:
        return RunSummary(as_location(path), store.frames_done, processed, crops, len(store.track_ids()),
                          store.errors, time.perf_counter() - start_time, workers)
