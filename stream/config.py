"""``PipelineConfig``: every setting of ``stream process``, built from ``configs/pipeline.yaml``.

    cfg = load_pipeline_config("configs/pipeline.yaml",
                               ["model.checkpoint=snapshot_6.pth.tar", "pose2d.backend=precomputed",
                                "pose2d.poses=poses.json"])
    cfg.model.max_batch, cfg.pose2d.backend, cfg.tracker.distance_threshold
    focal, principal_point = cfg.camera.intrinsics(width=1920, height=1080)

The loader is the shared one (``nets.config``): unknown keys raise ``ConfigError`` naming the dotted
key; a value outside a fixed set (``Literal``: ``pose2d.backend``, ``model.precision``, ...) names the valid
ones; None (YAML ``null``, or ``key=`` on the command line) means not given. The sections: ``model``
``MeshModelConfig``, ``body`` ``nets.body.BodyConfig`` (the trainer's ``body`` too), ``pose2d``
``Pose2DConfig``, ``tracker`` ``trackers.TrackerConfig`` itself (every tracker setting is a
``tracker.<name>`` key), ``camera`` ``CameraConfig``, ``smoothing`` ``SmoothingConfig``, ``ray``
``RayConfig``, ``store`` ``StoreConfig``. The defaults live here only; ``configs/pipeline.yaml`` spells
them out (a test keeps the two equal).
"""
from __future__ import annotations

import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from nets.body import BodyConfig
from nets.config import ConfigError, check, from_dict, is_int, is_number, load_yaml, to_dict
from trackers.config import TrackerConfig

__all__ = ["BodyConfig", "CameraConfig", "ConfigError", "MeshModelConfig", "POSE_BACKENDS", "PipelineConfig",
           "Pose2DConfig", "RayConfig", "SmoothingConfig", "StoreConfig", "from_dict", "load_pipeline_config",
           "to_dict"]

PoseBackendName = Literal["rtmo", "mmpose", "precomputed"]
POSE_BACKENDS = typing.get_args(PoseBackendName)
Precision = Literal["auto", "fp32", "bf16", "fp16"]   # auto = bf16 on CUDA, fp32 on CPU (nets.devices)


@dataclass(frozen=True)
class MeshModelConfig:
    """The mesh regressor (3DCrowdNet) and how mesh workers batch person crops."""
    checkpoint: str | None = None  # official snapshot_*.pth.tar or crowdmesh checkpoint; None = $CROWDMESH_HOME's
    device: str = "auto"          # auto | cpu | cuda | cuda:N
    max_batch: int = 32           # person crops per forward pass, across frames (and videos)
    max_wait_ms: float = 20.0     # a partial batch runs after waiting this long for more crops
    precision: Precision = "auto"  # auto | fp32 | bf16 | fp16: autocast of the network (body model in fp32)
    crop_device: Literal["auto", "cpu", "gpu"] = "auto"   # auto = gpu when the model runs on CUDA
    compile: bool = False         # torch.compile the network (falls back, with a logged reason, if it fails)

    def __post_init__(self):
        check(self, "max_batch", is_int(self.max_batch) and self.max_batch >= 1, "an int >= 1")
        check(self, "max_wait_ms", is_number(self.max_wait_ms) and self.max_wait_ms >= 0, "a number >= 0")


@dataclass(frozen=True)
class Pose2DConfig:
    """The 2D pose backend (stream.pose2d.base.make_backend)."""
    backend: PoseBackendName = "rtmo"   # rtmo | mmpose | precomputed
    checkpoint: str | None = None  # rtmo/mmpose weights: a .pth path or a known asset name (`stream assets`)
    config: str | None = None     # mmpose config file (backend mmpose)
    poses: str | None = None      # poses JSON (backend precomputed)
    batch_size: int = 8           # frames per forward pass
    device: str = "auto"
    score_threshold: float = 0.1  # rtmo: people scored below this are dropped
    precision: Precision = "auto"  # auto | fp32 | bf16 | fp16: autocast of the network (decoding in fp32)

    def __post_init__(self):
        check(self, "score_threshold", is_number(self.score_threshold) and 0 <= self.score_threshold <= 1,
              "a score in [0, 1]")
        check(self, "batch_size", is_int(self.batch_size) and self.batch_size >= 1, "an int >= 1")
        check(self, "poses", self.backend != "precomputed" or self.poses is not None,
              "a poses JSON for backend 'precomputed': COCO keypoint results or the official demo's poses "
              "(pose2d.poses=poses.json)")


@dataclass(frozen=True)
class CameraConfig:
    """The full image's pinhole camera, in which every person's translation is expressed.

    ``focal: null`` derives it from the image size: focal = max(width, height) pixels (a 53.1 degree
    field of view across the longer side). The principal point is the image centre,
    ((width - 1) / 2, (height - 1) / 2), pixel centres at integer coordinates (stream.store.layout).
    """
    focal: float | None = None    # pixels; null = max(width, height)

    def __post_init__(self):
        check(self, "focal", self.focal is None or is_number(self.focal) and self.focal > 0,
              "null or a number of pixels > 0")

    def intrinsics(self, width: int, height: int) -> tuple[float, tuple[float, float]]:
        """``(focal, (cx, cy))`` in pixels for an image of ``width`` x ``height``."""
        if not (width >= 1 and height >= 1):
            raise ValueError(f"image size {width}x{height}: expected width and height >= 1")
        focal = float(max(width, height)) if self.focal is None else float(self.focal)
        return focal, ((width - 1) / 2.0, (height - 1) / 2.0)


@dataclass(frozen=True)
class SmoothingConfig:
    """Optional online One-Euro filter per track (joint rotations and translation), and the optional offline
    smoother run on a finished store (``stream smooth``, ``stream.smooth.offline``); raw values are kept."""
    enabled: bool = False
    min_cutoff: float = 4.0       # Hz: cutoff at rest (lower = smoother, more lag); benchmarks/quality_sweep.py
    beta: float = 0.0             # cutoff growth with speed (higher = less lag on fast motion)
    d_cutoff: float = 1.0         # Hz: cutoff of the speed estimate
    max_gap_s: float = 0.5        # a track unseen longer than this restarts its filter
    # offline (zero-phase, whole tracks): Gaussian local-quadratic smoother on the rotation manifold, gap filling
    offline: bool = False         # smooth every track offline at the end of a finished `stream process`
    offline_sigma_s: float = 0.0525  # s: Gaussian width (0 = fill gaps only); 0.0525: 1.6 frames at 30 fps, keeps
    #                               2 Hz motion at 98 % and 3 Hz (a clap) at 92 % of its amplitude, white noise variance
    #                               / 3.3; chosen on the tuning clips by benchmarks/quality_sweep.py --offline
    #                               (the smallest worst peak fast-limb speed error; none within 10 % on both)
    offline_max_gap_s: float = 1.0  # s: frames between two sightings at most this far apart are filled; a longer
    #                               gap splits the track into segments smoothed apart (1 s: an occlusion by a passer-by)
    offline_extend_s: float = 0.1   # s: each segment continues this long before its first and after its last sighting
    #                               (within the video; joints and translation at their end velocity; observed false): a
    #                               person the detector misses as they come into view or in a clip's first frames

    def __post_init__(self):
        for name in ("min_cutoff", "d_cutoff", "max_gap_s"):
            check(self, name, is_number(getattr(self, name)) and getattr(self, name) > 0, "a frequency in Hz > 0")
        check(self, "beta", is_number(self.beta) and self.beta >= 0, "a number >= 0")
        for name in ("offline_sigma_s", "offline_max_gap_s", "offline_extend_s"):
            check(self, name, is_number(getattr(self, name)) and getattr(self, name) >= 0, "seconds >= 0")


@dataclass(frozen=True)
class RayConfig:
    """Ray: embedded local instance by default; worker pools; bounded work in flight."""
    address: str | None = None    # None = start an embedded local Ray; else join this cluster (e.g. "auto")
    num_mesh_workers: int = 0     # per node: 0 = one per GPU (each also runs 2D pose), else this many
    num_pose_workers: int = 0     # per node: 0 = none with GPUs (the mesh workers run 2D pose), one without
    gpus_per_worker: float = 1.0  # GPU share each GPU worker asks for (0.5 = two workers per GPU)
    placement_timeout_s: float = 60.0   # a worker not placed (or not started) by then stops the run
    num_gpus: int | None = None   # embedded Ray only: GPUs it offers; None = those Ray detects
    max_frames_in_flight: int = 16   # decoded frames not yet written, per input; bounds memory
    max_inputs: int = 4           # videos processed at once per node (sharing the node's worker pools)
    retries: int = 3              # a video whose runner or node is lost starts again (resumed) at most this often

    def __post_init__(self):
        for name in ("num_pose_workers", "num_mesh_workers", "retries"):
            check(self, name, is_int(getattr(self, name)) and getattr(self, name) >= 0,
                  "an int >= 0 (0 = from the resources Ray sees)")
        for name in ("max_frames_in_flight", "max_inputs"):
            check(self, name, is_int(getattr(self, name)) and getattr(self, name) >= 1, "an int >= 1")
        share = self.gpus_per_worker
        check(self, "gpus_per_worker", is_number(share) and share > 0 and (share <= 1 or float(share).is_integer()),
              "a GPU share in (0, 1] or a whole number of GPUs")
        check(self, "placement_timeout_s", is_number(self.placement_timeout_s) and self.placement_timeout_s > 0,
              "seconds > 0")
        check(self, "num_gpus", self.num_gpus is None or is_int(self.num_gpus) and self.num_gpus >= 0,
              "null (what Ray detects) or an int >= 0")
        check(self, "num_gpus", self.num_gpus is None or not self.address,
              f"null when joining a cluster (ray.address={self.address!r}): its nodes say what GPUs they have")


@dataclass(frozen=True)
class StoreConfig:
    """The Zarr writer."""
    flush_frames: int = 64        # frames buffered before an append (and a durable progress mark)

    def __post_init__(self):
        check(self, "flush_frames", is_int(self.flush_frames) and self.flush_frames >= 1, "an int >= 1")


@dataclass(frozen=True)
class PipelineConfig:
    input: str | None = None      # video file, image folder, "-" (stdin) or a stream URL; usually the CLI argument
    output: str | None = None     # OUT.zarr; None = next to the input, <stem>.zarr
    model: MeshModelConfig = field(default_factory=MeshModelConfig)
    body: BodyConfig = field(default_factory=BodyConfig)
    pose2d: Pose2DConfig = field(default_factory=Pose2DConfig)
    tracker: TrackerConfig = field(default_factory=TrackerConfig)
    camera: CameraConfig = field(default_factory=CameraConfig)
    smoothing: SmoothingConfig = field(default_factory=SmoothingConfig)
    ray: RayConfig = field(default_factory=RayConfig)
    store: StoreConfig = field(default_factory=StoreConfig)


def load_pipeline_config(path: str | Path | None = None, overrides: typing.Sequence[str] = ()) -> PipelineConfig:
    """Read a pipeline YAML (or only the defaults when ``path`` is None) and apply ``dotted.key=value``
    overrides."""
    return load_yaml(PipelineConfig, path, overrides, where="configs/ (configs/pipeline.yaml)")
