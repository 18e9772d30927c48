"""Checkpoints: the official 3DCrowdNet release format and the project's own.

Official (``snapshot_6.pth.tar``): ``{'network': {'module.<name>': tensor}, 'epoch': int}``. Every
network weight is loaded strictly; the SMPL-layer buffers it carries (``human_model_layer.th_*``)
overwrite the body model's, as the official code does. Ignored on purpose, and only these:
``OFFICIAL_IGNORED`` (the VPoser encoder, used only to train VPoser itself).

Project: ``{'format': 'crowdmesh', 'version': 1, 'config': ModelConfig as dict, 'network': state,
'meta': dict}``, never containing the body model. All loads use ``torch.load(weights_only=True)``.
"""
import logging
from dataclasses import asdict, fields
from pathlib import Path

import torch

from nets.assets import SOURCES, missing_asset
from nets.model import CrowdNet, ModelConfig

log = logging.getLogger(__name__)

FORMAT, VERSION = "crowdmesh", 1
OFFICIAL_IGNORED = ("vposer.vposer.bodyprior_enc_",)
_BODY_PREFIX = "human_model_layer."


class CheckpointError(ValueError):
    """A checkpoint that does not fit the model; the message lists the offending keys."""


def _read(path) -> dict:
    path = Path(path)
    if not path.is_file():
        raise missing_asset("3DCrowdNet checkpoint", path, "--checkpoint / model.checkpoint", SOURCES["checkpoint"])
    ckpt = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(ckpt, dict) or "network" not in ckpt:
        keys = sorted(ckpt)[:10] if isinstance(ckpt, dict) else type(ckpt).__name__
        raise CheckpointError(f"{path}: expected a checkpoint dict with a 'network' entry "
                              f"(official release or crowdmesh format), got {keys}")
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


def load_model(path, body: torch.nn.Module) -> CrowdNet:
    """Build a ``CrowdNet`` around ``body`` from either checkpoint format, in eval mode."""
    ckpt = _read(path)
    if ckpt.get("format") == FORMAT:
        known = {f.name for f in fields(ModelConfig)}
        unknown = sorted(set(ckpt["config"]) - known)
        if unknown:
            raise CheckpointError(f"{path}: unknown model config keys {unknown}; known: {sorted(known)}")
        model = CrowdNet(body, ModelConfig(**ckpt["config"]))
        load_strict(model, ckpt["network"], path, "3DCrowdNet model", model.network_state_dict())
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


def save_checkpoint(model: CrowdNet, path, **meta) -> Path:
    """Write the network weights and config (never the body model) to ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    ckpt = {"format": FORMAT, "version": VERSION, "config": asdict(model.config),
            "network": model.network_state_dict(), "meta": dict(meta)}
    tmp = path.with_name(path.name + ".tmp")
    torch.save(ckpt, tmp)
    tmp.replace(path)
    return path
