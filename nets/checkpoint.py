"""Checkpoints: the official 3DCrowdNet release format and the project's own.

Official (``snapshot_6.pth.tar``): ``{'network': {'module.<name>': tensor}, 'epoch': int}``. Every
network weight is loaded strictly; the SMPL-layer buffers it carries (``human_model_layer.th_*``)
overwrite the body model's, as the official code does. Ignored on purpose, and only these:
``OFFICIAL_IGNORED`` (the VPoser encoder, used only to train VPoser itself).

Project: ``{'format': 'crowdmesh', 'version': 1, 'config': ModelConfig as dict, 'network': state,
'meta': dict}``, never containing the body model. The config names the backbone (``ModelConfig.backbone``),
so the official and the reduced architecture load through ``load_model`` alike; configs written before
the field existed mean ResNet-50. ``meta['body']`` records which body model the weights were trained
with (``body_record``): its fingerprint and its joints at two fixed poses. A load with another body logs
a warning (``check_body``); the fingerprint alone may differ by float rounding on another machine, so
the joints decide. All loads use ``torch.load(weights_only=True)``; a file it cannot read (not a PyTorch file,
or one holding more than tensors and plain data) is a ``CheckpointError`` naming the file and the accepted
formats.
"""
import logging
import pickle
import re
import warnings
from dataclasses import asdict, fields
from pathlib import Path

import numpy as np
import torch

from nets.assets import SOURCES, missing_asset
from nets.model import CrowdNet, ModelConfig

log = logging.getLogger(__name__)

FORMAT, VERSION = "crowdmesh", 1
BODY_TOLERANCE_M = 1e-4  # joints of the recorded and the given body closer than this: the same body
OFFICIAL_IGNORED = ("vposer.vposer.bodyprior_enc_",)
_BODY_PREFIX = "human_model_layer."


class CheckpointError(ValueError):
    """A file that is not a 3DCrowdNet checkpoint, or one that does not fit the model; the message names the
    file, the offending keys and the accepted formats."""


ACCEPTED = ("the official release's snapshot_*.pth.tar ({'network': ..., 'epoch': N}) or a checkpoint crowdmesh "
            "wrote (nets.checkpoint.save_checkpoint, python -m train fit)")
# What torch.load raises on bytes it cannot read as a weights-only PyTorch file: not a pickle or zip archive
# (UnpicklingError), empty or cut short (EOFError, RuntimeError from the zip reader), a pickle of objects other
# than tensors and plain data (UnpicklingError), stray bytes read as pickle opcodes (KeyError, ValueError, ...).
_UNREADABLE = (pickle.UnpicklingError, EOFError, RuntimeError, KeyError, ValueError, IndexError, TypeError,
               AttributeError)


def _reason(err: BaseException) -> str:
    """torch.load's own reason in one sentence, without its advice to load with ``weights_only=False``."""
    inner = err.__context__ if isinstance(err, pickle.UnpicklingError) and err.__context__ else err
    text = str(inner).strip().splitlines()[0] if str(inner).strip() else "the file ends early"
    sentence = re.split(r"(?<=\w)\. ", text)[0].rstrip(".")
    return f"{type(inner).__name__}: {sentence}"


def _read(path) -> dict:
    path = Path(path)
    if not path.is_file():
        raise missing_asset("3DCrowdNet checkpoint", path, "--checkpoint / model.checkpoint", SOURCES["checkpoint"])
    with warnings.catch_warnings(record=True) as caught:   # torch warns about pickle protocols of non-torch files
        warnings.simplefilter("always")
        try:
            ckpt = torch.load(path, map_location="cpu", weights_only=True)
        except _UNREADABLE as err:     # from None: torch's own text advises weights_only=False, which we never do
            raise CheckpointError(f"{path} is not a 3DCrowdNet checkpoint: torch.load cannot read it as tensors "
                                  f"and plain data ({_reason(err)}). Expected {ACCEPTED}.") from None
    for warning in caught:
        log.warning("%s: %s", path, warning.message)
    if not isinstance(ckpt, dict) or "network" not in ckpt:
        keys = sorted(ckpt)[:10] if isinstance(ckpt, dict) else type(ckpt).__name__
        raise CheckpointError(f"{path} is not a 3DCrowdNet checkpoint: expected a dict with a 'network' entry, "
                              f"got {keys}. Expected {ACCEPTED}.")
    return ckpt


def split_official(state: dict[str, torch.Tensor]) -> tuple[dict, dict, list[str]]:
    """Official state dict -> (network state in project names, SMPL-layer buffers, ignored keys)."""
    network, body, ignored = {}, {}, []
    for key, value in state.items():
        name = key.removeprefix("module.")
        if name.startswith(OFFICIAL_IGNORED):
            ignored.append(key)
        elif name.startswith(_BODY_PREFIX):
            body[name[len(_BODY_PREFIX):]] = value
        else:
            network[name.replace("vposer.vposer.", "vposer.", 1)] = value
    return network, body, ignored


def load_strict(module: torch.nn.Module, state: dict[str, torch.Tensor], path, what: str,
                expected: dict[str, torch.Tensor] | None = None) -> None:
    """Load ``state`` into ``module`` only if it covers ``expected`` (default: the module's state) exactly.

    Otherwise raise CheckpointError listing the missing, unexpected and wrongly shaped keys.
    """
    expected = module.state_dict() if expected is None else expected
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    wrong = sorted(k for k in set(state) & set(expected) if state[k].shape != expected[k].shape)
    if missing or unexpected or wrong:
        parts = [f"{kind} ({len(keys)}): {', '.join(keys[:12])}{' ...' if len(keys) > 12 else ''}"
                 for kind, keys in (("missing", missing), ("unexpected", unexpected), ("wrong shape", wrong)) if keys]
        raise CheckpointError(f"{path} does not fit the {what}: " + "; ".join(parts))
    module.load_state_dict({**module.state_dict(), **state}, strict=True)


@torch.no_grad()
def body_joints(body: torch.nn.Module) -> np.ndarray:
    """(2,30,3) float64 metres: ``body``'s joints at the rest pose and at one fixed bent pose with fixed betas."""
    steps = torch.arange(72, dtype=torch.float64)
    pose = torch.stack((torch.zeros(72, dtype=torch.float64), 0.3 * torch.sin(steps)))
    betas = torch.stack((torch.zeros(10, dtype=torch.float64), torch.cos(torch.arange(10.0, dtype=torch.float64))))
    return body(pose, betas).joints.double().cpu().numpy()


def body_record(body: torch.nn.Module) -> dict:
    """What ``save_checkpoint`` stores as ``meta['body']``: fingerprint (if the body has one) and joints."""
    fingerprint = body.fingerprint() if hasattr(body, "fingerprint") else None
    return {"fingerprint": fingerprint, "joints": body_joints(body).tolist()}


def check_body(record: dict | None, body: torch.nn.Module) -> float:
    """How far ``body`` is from the recorded one: 0.0 for the same fingerprint, else the largest joint
    difference in metres at the recorded poses (``inf`` when the joint layout differs); 0.0 without a record."""
    if not record:
        return 0.0
    if record.get("fingerprint") and hasattr(body, "fingerprint") and body.fingerprint() == record["fingerprint"]:
        return 0.0
    recorded, joints = np.asarray(record["joints"], dtype=np.float64), body_joints(body)
    if recorded.shape != joints.shape:
        return float("inf")
    return float(np.abs(recorded - joints).max())


def model_config(config: dict, path) -> ModelConfig:
    """A checkpoint's stored config -> ``ModelConfig``; unknown keys or invalid values raise CheckpointError."""
    known = {f.name for f in fields(ModelConfig)}
    unknown = sorted(set(config) - known)
    if unknown:
        raise CheckpointError(f"{path}: unknown model config keys {unknown}; known: {sorted(known)}")
    try:
        return ModelConfig(**config)
    except ValueError as error:
        raise CheckpointError(f"{path}: invalid model config: {error}") from error


def load_model(path, body: torch.nn.Module) -> CrowdNet:
    """Build a ``CrowdNet`` around ``body`` from either checkpoint format, in eval mode.

    Project checkpoints rebuild the architecture their config names (ResNet-50 or the small backbone).
    When ``meta['body']`` records a body model that differs from ``body``, a warning is logged: the
    weights were trained against that body and their estimates will be off with this one.
    """
    ckpt = _read(path)
    if ckpt.get("format") == FORMAT:
        model = CrowdNet(body, model_config(ckpt["config"], path))
        load_strict(model, ckpt["network"], path, "3DCrowdNet model", model.network_state_dict())
        distance = check_body(ckpt.get("meta", {}).get("body"), body)
        if distance > BODY_TOLERANCE_M:
            log.warning("%s was trained with another body model (joints differ by up to %.4f m); its estimates "
                        "will be off with this one", path, distance)
    else:
        model = CrowdNet(body)
        network, body_buffers, ignored = split_official(ckpt["network"])
        load_strict(model, network, path, "3DCrowdNet model", model.network_state_dict())
        used = body.load_official_buffers(body_buffers)
        extra = sorted(set(body_buffers) - set(used))
        if extra:
            raise CheckpointError(f"{path}: unexpected SMPL-layer keys {extra}")
        log.info("loaded official checkpoint %s (epoch %s): %d network tensors, %d SMPL buffers, "
                 "%d VPoser-encoder tensors ignored", path, ckpt.get("epoch"), len(network), len(used), len(ignored))
    return model.eval()


def _plain(value, key: str):
    """``value`` as plain Python (what ``torch.load(weights_only=True)`` reads back), else TypeError.

    Subclasses of the plain types (``torch.__version__``, numpy scalars) become the plain type."""
    if value is None or isinstance(value, bool):
        return value
    for kind in (int, float, str):
        if isinstance(value, kind):
            return kind(value)
    if isinstance(value, np.generic):
        return _plain(value.item(), key)
    if isinstance(value, (list, tuple)):
        return [_plain(v, f"{key}[{i}]") for i, v in enumerate(value)]
    if isinstance(value, dict):
        return {str(k): _plain(v, f"{key}.{k}") for k, v in value.items()}
    raise TypeError(f"checkpoint meta {key}: {type(value).__name__} is not plain data "
                    "(expected None, bool, int, float, str, list or dict of those)")


def read_meta(path) -> dict:
    """The ``meta`` dict of a project checkpoint (empty for the official format)."""
    return dict(_read(path).get("meta", {}))


def save_checkpoint(model: CrowdNet, path, *, dtype: torch.dtype | None = None, **meta) -> Path:
    """Write the network weights and config (never the body model) to ``path``; ``meta['body']`` records
    which body model the weights go with (``body_record``) unless ``meta`` gives it.

    ``dtype`` (e.g. ``torch.float16``) stores the floating-point tensors in that type to halve the file;
    ``load_model`` casts them back to the model's float32 (the rounding changes outputs slightly).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    meta = _plain({"body": body_record(model.body), **meta}, "meta")
    config = {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(model.config).items()}
    network = model.network_state_dict()
    if dtype is not None:
        network = {k: v.to(dtype) if v.is_floating_point() else v for k, v in network.items()}
    ckpt = {"format": FORMAT, "version": VERSION, "config": config, "network": network, "meta": meta}
    tmp = path.with_name(path.name + ".tmp")
    torch.save(ckpt, tmp)
    tmp.replace(path)
    return path
