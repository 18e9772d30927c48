"""The one config loader: frozen typed dataclasses built from YAML plus ``dotted.key=value`` overrides.

    cfg = load_yaml(TrainConfig, "configs/train/synthetic.yaml", ["optim.lr=3e-4"])
    cfg = from_dict(PipelineConfig, {"model": {"checkpoint": "x.pth"}})
    to_dict(cfg)                      # plain nested dict (tuples as lists) that from_dict reads back

    @dataclass(frozen=True)
    class StoreConfig:                # every config dataclass validates itself with ``check``
        flush_frames: int = 64
        def __post_init__(self):
            check(self, "flush_frames", is_int(self.flush_frames) and self.flush_frames >= 1, "an int >= 1")

Every package (``train.config``, ``stream.config``) declares its frozen ``*Config`` dataclasses and calls
these. Sections nest through ``field(default_factory=...)``; missing keys keep their defaults (the
dataclasses hold the only defaults); unknown keys raise ``ConfigError`` naming the dotted key. Supported
field types: ``bool``, ``int``, ``float`` (ints and ``3e-4``-style strings accepted), ``str``,
``Literal[...]`` for choices (the error lists the valid values), ``tuple[X, ...]``/``tuple[X, Y]``,
``X | None`` (None = not given; YAML ``null`` or an empty override ``key=``; an empty string in a
``str | None`` field reads as None too) and nested dataclasses. ``check`` raises ``ConfigError``
("<Class>.<field> = <value>: expected ..."); a dataclass whose ``__post_init__`` raises a ``ValueError``
(``ConfigError`` included) has it re-raised by ``from_dict`` as ``ConfigError`` prefixed with its section
("ray: max_inputs = 0: expected an int >= 1"). Overrides parse their value as YAML (``3e-4``, ``[4, 6]``,
``true``, ``null``). ``trackers.TrackerConfig`` validates alike with its own ``ValueError`` (trackers
imports nothing of ours).
"""
from __future__ import annotations

import dataclasses
import math
import numbers
import types
import typing
from pathlib import Path

import yaml

__all__ = ["ConfigError", "apply_override", "check", "from_dict", "is_int", "is_number", "load_yaml", "to_dict"]


class ConfigError(ValueError):
    """A config file, override or field value that does not fit the dataclasses; the message names the key."""


def check(config, name: str, ok: bool, expected: str) -> None:
    """Unless ``ok``, raise ``ConfigError("<Class>.<name> = <value>: expected <expected>")``: the validation
    step of every config dataclass's ``__post_init__``."""
    if not ok:
        raise ConfigError(f"{type(config).__name__}.{name} = {getattr(config, name)!r}: expected {expected}")


def is_int(value) -> bool:
    """An integer (Python's or numpy's), not a bool."""
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def is_number(value) -> bool:
    """A finite real number (int, float, numpy's), not a bool."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)


def _convert(value, hint, key: str):
    origin = typing.get_origin(hint)
    if dataclasses.is_dataclass(hint):
        if not isinstance(value, dict):
            raise ConfigError(f"{key}: expected a mapping for {hint.__name__}, got {value!r}")
        return from_dict(hint, value, prefix=key + ".")
    if origin is typing.Literal:
        choices = typing.get_args(hint)
        if value not in choices or isinstance(value, bool) != any(isinstance(c, bool) for c in choices):
            raise ConfigError(f"{key} = {value!r}: expected one of {list(choices)}")
        return value
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
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        if len(args) != 1:
            raise ConfigError(f"{key}: only 'X | None' unions are supported in configs, got {hint!r}")
        if value is None or (value == "" and args[0] is str):   # None = not given; "" reads the same
            return None
        return _convert(value, args[0], key)
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
    if not isinstance(data, dict):
        raise ConfigError(f"{prefix[:-1] or cls.__name__}: expected a mapping, got {data!r}")
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - names, key=str)
    if unknown:
        more = f" (and {', '.join(prefix + str(u) for u in unknown[1:])})" if len(unknown) > 1 else ""
        raise ConfigError(f"unknown config key {prefix}{unknown[0]!s}{more}; "
                          f"known keys{' under ' + prefix[:-1] if prefix else ''}: {sorted(names)}")
    values = {k: _convert(v, hints[k], prefix + k) for k, v in data.items()}
    try:
        return cls(**values)
    except ValueError as error:  # the dataclass's own __post_init__ checks: name the section, not the class
        message = str(error).removeprefix(f"{cls.__name__}.")
        raise ConfigError(f"{prefix[:-1] or cls.__name__}: {message}") from error


def apply_override(cls, data: dict, override: str) -> dict:
    """Set ``a.b.c=value`` (value parsed as YAML) in the nested dict ``data`` for dataclass ``cls``
    (in place); the key path is checked against ``cls`` so a typo names itself."""
    if "=" not in override:
        raise ConfigError(f"override {override!r}: expected dotted.key=value")
    key, raw = override.split("=", 1)
    parts = key.strip().split(".")
    node = data
    for i, part in enumerate(parts):
        known = {f.name for f in dataclasses.fields(cls)}
        if part not in known:
            raise ConfigError(f"unknown config key {'.'.join(parts[:i + 1])}; known keys"
                              f"{' under ' + '.'.join(parts[:i]) if i else ''}: {sorted(known)}")
        hint = typing.get_type_hints(cls)[part]
        if i == len(parts) - 1:
            node[part] = yaml.safe_load(raw)
        else:
            if not dataclasses.is_dataclass(hint):
                raise ConfigError(f"config key {'.'.join(parts[:i + 1])} is a value, not a section")
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                raise ConfigError(f"config key {'.'.join(parts[:i + 1])}: expected a mapping, got {child!r}")
            node, cls = child, hint
    return data


def load_yaml(cls, path: str | Path | None = None, overrides: typing.Sequence[str] = (), *,
              where: str = "configs/"):
    """Read a YAML file (or only the defaults when ``path`` is None), apply dotted overrides, build ``cls``.
    ``where`` says in the missing-file message where such files live."""
    data: dict = {}
    if path is not None:
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"config {path} not found; these configs live in {where}")
        data = yaml.safe_load(path.read_text()) or {}
        if not isinstance(data, dict):
            raise ConfigError(f"{path}: expected a mapping at the top level, got {type(data).__name__}")
    for override in overrides:
        apply_override(cls, data, override)
    return from_dict(cls, data)


def to_dict(cfg) -> dict:
    """Plain nested dict (tuples as lists) that ``from_dict`` reads back: for checkpoints, stores and Ray."""
    def plain(v):
        if isinstance(v, dict):
            return {k: plain(x) for k, x in v.items()}
        return [plain(x) for x in v] if isinstance(v, (list, tuple)) else v
    return plain(cfg if isinstance(cfg, dict) else dataclasses.asdict(cfg))
