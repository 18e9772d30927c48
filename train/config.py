"""The trainer's configuration: frozen typed dataclasses built from ``configs/train/<recipe>.yaml``.

    cfg = load_config("configs/train/synthetic.yaml", ["optim.lr=3e-4", "data.batch_size=8"])
    cfg.optim.lr, cfg.model.arch, cfg.body.smpl, cfg.ray.num_workers

The loader is the shared one in ``nets.config`` (``from_dict``, ``to_dict``): unknown keys raise
``ConfigError`` naming the dotted key; overrides are ``dotted.key=value`` with the value parsed as YAML
(``3e-4``, ``[4, 6]``, ``true``); None (``null``, or ``key=``) means not given. The sections: ``data``
``DataConfig`` (``data.synthetic`` ``SyntheticConfig``), ``model`` ``TrainModelConfig``, ``body``
``nets.body.BodyConfig`` (the same keys as ``stream process``'s), ``optim`` ``OptimConfig``, ``ray``
``RayTrainConfig``.
"""
from __future__ import annotations

import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from nets.body import BodyConfig
from nets.config import ConfigError, check, from_dict, is_int, load_yaml, to_dict

__all__ = ["BodyConfig", "ConfigError", "DataConfig", "OptimConfig", "RayTrainConfig", "SyntheticConfig",
           "TrainConfig", "TrainModelConfig", "from_dict", "load_config", "to_dict"]


@dataclass(frozen=True)
class SyntheticConfig:
    """Synthetic crowds from ``nets.synth`` (see ``train.synthetic``)."""
    sequences: int = 8            # crowds (each a short clip) in the training split
    test_sequences: int = 4       # held-out crowds: new people, new seed
    people: int = 6
    frames: int = 12
    fps: float = 3.0              # low fps: more pose variety per clip
    width: int = 480
    height: int = 320
    depth_range: tuple[float, float] = (3.0, 7.0)
    seed: int = 0                 # training split seed; the test split uses ``test_seed``
    test_seed: int = 1000
    min_visible: int = 6          # a crop needs this many in-image joints
    pose_noise: float = 0.0       # std of Gaussian noise on the input 2D pose, heatmap pixels
    rotate_deg: float = 0.0       # training-time crop rotation augmentation (std, clipped at 2 std)


@dataclass(frozen=True)
class DataConfig:
    train: tuple[str, ...] = ("synthetic",)   # dataset names; "synthetic" or official readers (train.datasets)
    test: str = "synthetic"                   # "synthetic", or comma-separated train.pipeline.TEST_SETS names
    root: str = "data"                        # folder holding the official datasets
    human36m_subjects: tuple[int, ...] = ()   # empty: the official subjects of the split (train S1,5,6,7,8)
    smpl_male: str | None = None              # 3DPW GT bodies (gendered SMPL pkl); None: the model's body
    smpl_female: str | None = None
    batch_size: int = 64                      # per worker/GPU, as the official num_gpus x 64
    workers: int = 16                         # DataLoader workers
    posefix: bool = True          # PoseFix errors on the training input 2D pose (official datasets and synthetic
                                  # crowds); False: the clean GT pose (ablation)
    synthetic: SyntheticConfig = field(default_factory=SyntheticConfig)


@dataclass(frozen=True)
class TrainModelConfig:
    """The network to train; its body model files are the ``body`` section."""
    arch: Literal["official", "reduced"] = "official"   # official: ResNet-50, 256², 64³; reduced: train.reduced
    widths: tuple[int, ...] = (16, 32, 64, 128)   # reduced backbone stage widths (BasicBlock [1,1,1,1])
    train_vposer: bool = False    # False: frozen prior as in the paper; True only without real VPoser weights
    init_checkpoint: str | None = None   # weights to start from (project or official format); None: untrained
    regressor: Literal["joint", "gap"] = "joint"   # nets.model.ModelConfig.regressor: "gap" is the ablation
    pose_guidance: bool = True    # nets.model.ModelConfig.pose_guidance: False drops the 2D pose heatmaps (ablation)


@dataclass(frozen=True)
class OptimConfig:
    lr: float = 1e-4
    lr_backbone: float = 1e-4
    lr_decay_epochs: tuple[int, ...] = (4, 6)
    lr_decay_factor: float = 10.0
    end_epoch: int = 7
    max_steps: int | None = None  # stop after this many optimiser steps in all (tests, learning check); None: epochs

    def __post_init__(self):
        check(self, "max_steps", self.max_steps is None or is_int(self.max_steps) and self.max_steps >= 1,
              "null (the epochs decide) or an int >= 1")


@dataclass(frozen=True)
class RayTrainConfig:
    """Ray Train (a TorchTrainer over several workers) or one process."""
    enabled: bool = False         # False: one process on CPU or one GPU; True: Ray Train TorchTrainer
    num_workers: int = 0          # 0: Ray Train local mode (in-process)
    use_gpu: bool = False
    storage_path: str | None = None   # absolute; None: <output_dir>/ray
    name: str = "crowdnet"
    max_failures: int = 0
    fail_once_after_epoch: int | None = None   # fault injection for tests: rank 1 (or 0) raises once after this epoch

    def __post_init__(self):
        epoch = self.fail_once_after_epoch
        check(self, "fail_once_after_epoch", epoch is None or is_int(epoch) and epoch >= 0, "null (never) or an epoch >= 0")


@dataclass(frozen=True)
class TrainConfig:
    data: DataConfig = field(default_factory=DataConfig)
    model: TrainModelConfig = field(default_factory=TrainModelConfig)
    body: BodyConfig = field(default_factory=BodyConfig)   # None: the synthetic stand-in body (nets.standin)
    optim: OptimConfig = field(default_factory=OptimConfig)
    ray: RayTrainConfig = field(default_factory=RayTrainConfig)
    amp: bool = True              # autocast + GradScaler, CUDA only (ignored on CPU)
    device: str = "auto"          # auto | cpu | cuda
    seed: int = 0
    output_dir: str = "output/train"
    log_every: int = 10           # CSV row every N steps
    progress: bool = True         # progress bar


def load_config(path: str | Path | None = None, overrides: typing.Sequence[str] = ()) -> TrainConfig:
    """Read a recipe YAML (or the defaults when ``path`` is None) and apply dotted overrides."""
    return load_yaml(TrainConfig, path, overrides, where="configs/train/")
