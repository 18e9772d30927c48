"""The trainer's configuration: frozen typed dataclasses built from ``configs/train/<recipe>.yaml``.

    cfg = load_config("configs/train/synthetic.yaml", ["optim.lr=3e-4", "data.batch_size=8"])
    cfg.optim.lr, cfg.model.arch, cfg.ray.num_workers

One loader (``from_dict``) builds every section; unknown keys raise ``ConfigError`` naming the dotted
key. Overrides are ``dotted.key=value`` with the value parsed as YAML (``3e-4``, ``[4, 6]``, ``true``).
"""
from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path

import yaml


class ConfigError(ValueError):
    """A config file or override that does not fit the dataclasses; the message names the key."""


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
    test: str = "synthetic"
    root: str = "data"                        # folder holding the official datasets
    batch_size: int = 64                      # per worker/GPU, as the official num_gpus x 64
    workers: int = 16                         # DataLoader workers
    synthetic: SyntheticConfig = field(default_factory=SyntheticConfig)


@dataclass(frozen=True)
class ModelSection:
    arch: str = "official"        # "official" (ResNet-50, 256², 64³) or "reduced" (train.reduced)
    widths: tuple[int, ...] = (16, 32, 64, 128)   # reduced backbone stage widths (BasicBlock [1,1,1,1])
    train_vposer: bool = False    # False: frozen prior as in the paper; True only without real VPoser weights
    smpl_path: str = ""           # empty: the synthetic stand-in body (nets.standin)
    joint_regressor_extra: str = ""
    init_checkpoint: str = ""     # weights to start from (project or official format)


@dataclass(frozen=True)
class OptimConfig:
    lr: float = 1e-4
    lr_backbone: float = 1e-4
    lr_decay_epochs: tuple[int, ...] = (4, 6)
    lr_decay_factor: float = 10.0
    end_epoch: int = 7
    max_steps: int = 0            # >0: stop after this many optimiser steps in total (tests, learning check)


@dataclass(frozen=True)
class RayConfig:
    enabled: bool = False         # False: one process on CPU or one GPU; True: Ray Train TorchTrainer
    num_workers: int = 0          # 0: Ray Train local mode (in-process)
    use_gpu: bool = False
    storage_path: str = ""        # absolute; empty: <output_dir>/ray
    name: str = "crowdnet"
    max_failures: int = 0
    fail_once_after_epoch: int = -1   # fault-injection for tests: rank 1 (or 0) raises once after this epoch


@dataclass(frozen=True)
class TrainConfig:
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelSection = field(default_factory=ModelSection)
    optim: OptimConfig = field(default_factory=OptimConfig)
    ray: RayConfig = field(default_factory=RayConfig)
    amp: bool = True              # autocast + GradScaler, CUDA only (ignored on CPU)
    device: str = "auto"          # auto | cpu | cuda
    seed: int = 0
    output_dir: str = "output/train"
    log_every: int = 10           # CSV row every N steps
    progress: bool = True         # progress bar


def _convert(value, hint, key: str):
    origin = typing.get_origin(hint)
    if dataclasses.is_dataclass(hint):
        if not isinstance(value, dict):
            raise ConfigError(f"{key}: expected a mapping for {hint.__name__}, got {value!r}")
        return from_dict(hint, value, prefix=key + ".")
    if origin is tuple:
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{key}: expected a list, got {value!r}")
        args = typing.get_args(hint)
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_convert(v, args[0], f"{key}[{i}]") for i, v in enumerate(value))
        if len(args) != len(value):
            raise ConfigError(f"{key}: expected {len(args)} values, got {value!r}")
        return tuple(_convert(v, a, f"{key}[{i}]") for i, (a, v) in enumerate(zip(args, value)))
    if origin in (typing.Union, types.UnionType):
        raise ConfigError(f"{key}: union types are not supported in configs")
    if hint is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{key}: expected true/false, got {value!r}")
        return value
    if hint is float:
        if isinstance(value, str):  # YAML 1.1 reads 3e-4 (no dot) as a string
            try:
                value = float(value)
            except ValueError:
                raise ConfigError(f"{key}: expected a number, got {value!r}") from None
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{key}: expected a number, got {value!r}")
        return float(value)
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{key}: expected an integer, got {value!r}")
        return value
    if hint is str:
        if not isinstance(value, str):
            raise ConfigError(f"{key}: expected a string, got {value!r}")
        return value
    raise ConfigError(f"{key}: unsupported config type {hint!r}")


def from_dict(cls, data: dict, prefix: str = ""):
    """Build dataclass ``cls`` from a (nested) dict; missing keys keep their defaults."""
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - names)
    if unknown:
        raise ConfigError(f"unknown config key {prefix}{unknown[0]!s}"
                          f"{' (and ' + ', '.join(prefix + u for u in unknown[1:]) + ')' if len(unknown) > 1 else ''}; "
                          f"known keys{' under ' + prefix[:-1] if prefix else ''}: {sorted(names)}")
    return cls(**{k: _convert(v, hints[k], prefix + k) for k, v in data.items()})


def apply_override(data: dict, override: str) -> dict:
    """Set ``a.b.c=value`` (value parsed as YAML) in the nested dict ``data`` (in place)."""
    if "=" not in override:
        raise ConfigError(f"override {override!r}: expected dotted.key=value")
    key, raw = override.split("=", 1)
    parts = key.strip().split(".")
    node, cls = data, TrainConfig
    for i, part in enumerate(parts):
        known = {f.name: f for f in dataclasses.fields(cls)}
        if part not in known:
            raise ConfigError(f"unknown config key {'.'.join(parts[:i + 1])}; known keys"
                              f"{' under ' + '.'.join(parts[:i]) if i else ''}: {sorted(known)}")
        hint = typing.get_type_hints(cls)[part]
        if i == len(parts) - 1:
            node[part] = yaml.safe_load(raw)
        else:
            if not dataclasses.is_dataclass(hint):
                raise ConfigError(f"config key {'.'.join(parts[:i + 1])} is a value, not a section")
            node = node.setdefault(part, {})
            cls = hint
    return data


def load_config(path: str | Path | None = None, overrides: typing.Sequence[str] = ()) -> TrainConfig:
    """Read a recipe YAML (or the defaults when ``path`` is None) and apply dotted overrides."""
    data: dict = {}
    if path is not None:
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"training config {path} not found; recipes live in configs/train/")
        data = yaml.safe_load(path.read_text()) or {}
        if not isinstance(data, dict):
            raise ConfigError(f"{path}: expected a mapping at the top level, got {type(data).__name__}")
    for override in overrides:
        apply_override(data, override)
    return from_dict(TrainConfig, data)


def to_dict(cfg) -> dict:
    """Plain nested dict (tuples as lists) that ``from_dict`` reads back: for checkpoints and Ray."""
    def plain(v):
        return [plain(x) for x in v] if isinstance(v, (list, tuple)) else v
    return {k: (to_dict(v) if dataclasses.is_dataclass(v) else plain(v)) for k, v in dataclasses.asdict(cfg).items()} \
        if not isinstance(cfg, dict) else cfg
