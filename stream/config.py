"""``PipelineConfig``: every setting of ``stream process``, built from ``configs/pipeline.yaml``.

    cfg = load_pipeline_config("configs/pipeline.yaml",
                               ["model.checkpoint=snapshot_6.pth.tar", "pose2d.backend=precomputed",
                                "pose2d.poses=poses.json"])
    cfg.model.max_batch, cfg.pose2d.backend, cfg.tracker.distance_threshold
    focal, principal_point = cfg.camera.intrinsics(width=1920, height=1080)

The loader is the shared one (``nets.config``): unknown keys raise ``ConfigError`` naming the dotted
key; a value outside a fixed set (``pose2d.backend``) names the valid ones. ``tracker`` is
``trackers.TrackerConfig`` itself, so every tracker setting is a ``tracker.<name>`` key.
"""
from __future__ import annotations

import math
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from nets.config import ConfigError, from_dict, load_yaml, to_dict
from trackers.config import TrackerConfig

__all__ = ["BodySection", "CameraSection", "ConfigError", "ModelSection", "POSE_BACKENDS", "PipelineConfig",
           "Pose2DSection", "RaySection", "SmoothingSection", "StoreSection", "from_dict",
           "load_pipeline_config", "to_dict"]

POSE_BACKENDS = ("rtmo", "mmpose", "precomputed")
PoseBackendName = Literal["rtmo", "mmpose", "precomputed"]
Precision = Literal["auto", "fp32", "bf16", "fp16"]   # auto = bf16 on CUDA, fp32 on CPU (stream.devices)


def _need(section, name: str, ok: bool, expected: str) -> None:
    if not ok:
        raise ValueError(f"{name} = {getattr(section, name)!r}: expected {expected}")


def _positive(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) and value > 0


@dataclass(frozen=True)
class ModelSection:
    """The mesh regressor (3DCrowdNet) and how mesh workers batch person crops."""
    checkpoint: str = ""          # official snapshot_*.pth.tar or crowdmesh checkpoint; "" = none given
    device: str = "auto"          # auto | cpu | cuda | cuda:N
    max_batch: int = 32           # person crops per forward pass, across frames (and videos)
    max_wait_ms: float = 20.0     # a partial batch runs after waiting this long for more crops
    precision: Precision = "auto"  # auto | fp32 | bf16 | fp16: autocast of the network (body model in fp32)
    crop_device: Literal["auto", "cpu", "gpu"] = "auto"   # auto = gpu when the model runs on CUDA
    compile: bool = False         # torch.compile the network (falls back, with a logged reason, if it fails)

    def __post_init__(self):
        _need(self, "max_batch", isinstance(self.max_batch, int) and self.max_batch >= 1, "an int >= 1")
        _need(self, "max_wait_ms", _positive(self.max_wait_ms) or self.max_wait_ms == 0, "a number >= 0")


@dataclass(frozen=True)
class BodySection:
    """Body-model files (nets.BodyModel.from_files); "" = not given."""
    smpl: str = ""                    # SMPL_NEUTRAL.pkl
    joint_regressor_extra: str = ""   # J_regressor_extra.npy


@dataclass(frozen=True)
class Pose2DSection:
    """The 2D pose backend (stream.pose2d.base.make_backend)."""
    backend: PoseBackendName = "rtmo"   # rtmo | mmpose | precomputed
    checkpoint: str = ""          # rtmo/mmpose weights: a .pth path or a known asset name (`stream assets`)
    config: str = ""              # mmpose config file (backend mmpose)
    poses: str = ""               # poses JSON (backend precomputed)
    batch_size: int = 8           # frames per forward pass
    device: str = "auto"
    score_threshold: float = 0.1  # rtmo: people scored below this are dropped
    precision: Precision = "auto"  # auto | fp32 | bf16 | fp16: autocast of the network (decoding in fp32)

    def __post_init__(self):
        _need(self, "score_threshold", isinstance(self.score_threshold, (int, float)) and 0 <= self.score_threshold
              <= 1, "a score in [0, 1]")
        _need(self, "batch_size", isinstance(self.batch_size, int) and self.batch_size >= 1, "an int >= 1")
        if self.backend == "precomputed" and not self.poses:
            raise ValueError("backend 'precomputed' needs pose2d.poses: a COCO keypoint-results or "
                             "official-demo poses JSON (pose2d.poses=poses.json)")


@dataclass(frozen=True)
class CameraSection:
    """The full image's pinhole camera, in which every person's translation is expressed.

    ``focal: null`` derives it from the image size: focal = max(width, height) pixels (a 53.1 degree
    field of view across the longer side). The principal point is the image centre,
    ((width - 1) / 2, (height - 1) / 2), pixel centres at integer coordinates (stream.store.layout).
    """
    focal: float | None = None    # pixels; null = max(width, height)

    def __post_init__(self):
        _need(self, "focal", self.focal is None or _positive(self.focal), "null or a number of pixels > 0")

    def intrinsics(self, width: int, height: int) -> tuple[float, tuple[float, float]]:
        """``(focal, (cx, cy))`` in pixels for an image of ``width`` x ``height``."""
        if not (width >= 1 and height >= 1):
            raise ValueError(f"image size {width}x{height}: expected width and height >= 1")
        focal = float(max(width, height)) if self.focal is None else float(self.focal)
        return focal, ((width - 1) / 2.0, (height - 1) / 2.0)


@dataclass(frozen=True)
class SmoothingSection:
    """Optional online One-Euro filter per track (joint rotations and translation); raw values are kept."""
    enabled: bool = False
    min_cutoff: float = 1.0       # Hz: cutoff at rest (lower = smoother, more lag)
    beta: float = 0.0             # cutoff growth with speed (higher = less lag on fast motion)
    d_cutoff: float = 1.0         # Hz: cutoff of the speed estimate
    max_gap_s: float = 0.5        # a track unseen longer than this restarts its filter

    def __post_init__(self):
        for name in ("min_cutoff", "d_cutoff", "max_gap_s"):
            _need(self, name, _positive(getattr(self, name)), "a frequency in Hz > 0")
        _need(self, "beta", _positive(self.beta) or self.beta == 0, "a number >= 0")


@dataclass(frozen=True)
class RaySection:
    """Ray: embedded local instance by default; worker pools; bounded work in flight."""
    address: str = ""             # "" = start an embedded local Ray; else join this cluster (e.g. "auto")
    num_mesh_workers: int = 0     # 0 = one per GPU of the cluster (each also runs 2D pose), else one
    num_pose_workers: int = 0     # 0 = none where there are GPUs (the mesh workers run 2D pose), else one
    gpus_per_worker: float = 1.0  # GPU share each GPU worker asks for (0.5 = two workers per GPU)
    placement_timeout_s: float = 60.0   # a worker not placed (or not started) by then stops the run
    num_gpus: int | None = None   # embedded Ray only: GPUs it offers; None = those Ray detects
    max_frames_in_flight: int = 16   # decoded frames not yet written, per input; bounds memory
    max_inputs: int = 4           # `stream batch`: inputs processed at once (sharing the worker pools)

    def __post_init__(self):
        for name in ("num_pose_workers", "num_mesh_workers"):
            value = getattr(self, name)
            _need(self, name, isinstance(value, int) and not isinstance(value, bool) and value >= 0,
                  "an int >= 0 (0 = from the resources Ray sees)")
        for name in ("max_frames_in_flight", "max_inputs"):
            value = getattr(self, name)
            _need(self, name, isinstance(value, int) and not isinstance(value, bool) and value >= 1, "an int >= 1")
        _need(self, "gpus_per_worker", _positive(self.gpus_per_worker) and self.gpus_per_worker <= 1
              or _positive(self.gpus_per_worker) and float(self.gpus_per_worker).is_integer(),
              "a GPU share in (0, 1] or a whole number of GPUs")
        _need(self, "placement_timeout_s", _positive(self.placement_timeout_s), "seconds > 0")
        _need(self, "num_gpus", self.num_gpus is None or isinstance(self.num_gpus, int) and self.num_gpus >= 0,
              "null (what Ray detects) or an int >= 0")
        _need(self, "num_gpus", self.num_gpus is None or not self.address,
              f"null when joining a cluster (ray.address={self.address!r}): its nodes say what GPUs they have")


@dataclass(frozen=True)
class StoreSection:
    """The Zarr writer."""
    flush_frames: int = 64        # frames buffered before an append (and a durable progress mark)

    def __post_init__(self):
        _need(self, "flush_frames", isinstance(self.flush_frames, int) and self.flush_frames >= 1, "an int >= 1")


@dataclass(frozen=True)
class PipelineConfig:
    input: str = ""               # video file, image folder, "-" (stdin) or a stream URL; usually the CLI argument
    output: str = ""              # OUT.zarr; "" = next to the input, <stem>.zarr
    model: ModelSection = field(default_factory=ModelSection)
    body: BodySection = field(default_factory=BodySection)
    pose2d: Pose2DSection = field(default_factory=Pose2DSection)
    tracker: TrackerConfig = field(default_factory=TrackerConfig)
    camera: CameraSection = field(default_factory=CameraSection)
    smoothing: SmoothingSection = field(default_factory=SmoothingSection)
    ray: RaySection = field(default_factory=RaySection)
    store: StoreSection = field(default_factory=StoreSection)


def load_pipeline_config(path: str | Path | None = None, overrides: typing.Sequence[str] = ()) -> PipelineConfig:
    """Read a pipeline YAML (or only the defaults when ``path`` is None) and apply ``dotted.key=value``
    overrides."""
    return load_yaml(PipelineConfig, path, overrides, where="configs/ (configs/pipeline.yaml)")
