"""Training checkpoints: write and read the resumable state, rebuild the trained network, export it.

    save_state(training_state(model, optimizer, scaler, cfg, epoch, step), path)
    state = read_state(latest_checkpoint(Path(cfg.output_dir) / "checkpoint"))
    model = load_trained(path, body)                  # either arch, strict, eval mode

Training checkpoint (``<output_dir>/checkpoint/snapshot_<epoch>.pth``): ``{format: 'crowdmesh-train',
config (the TrainConfig as a dict), arch, model_config, network, optimizer, scaler, epoch (the next
epoch to run), step}``. ``export_official`` writes the release layout (``ckpt['network']`` with
``module.*`` keys) and ``export_project`` the ``nets.checkpoint`` format (official architecture).
"""
from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import torch

from nets.model import CrowdNet
from train.build import build_model, make_body, unwrap
from train.config import TrainConfig, from_dict, to_dict

FORMAT, VERSION = "crowdmesh-train", 1


def training_state(model, optimizer, scaler, cfg: TrainConfig, epoch: int, step: int) -> dict:
    net = unwrap(model)
    return {"format": FORMAT, "version": VERSION, "config": to_dict(cfg), "arch": cfg.model.arch,
            "model_config": asdict(net.config), "network": net.network_state_dict(),
            "optimizer": optimizer.state_dict(), "scaler": scaler.state_dict() if scaler else None,
            "epoch": epoch, "step": step}


def save_state(state: dict, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    torch.save(state, tmp)
    tmp.replace(path)
    return path


def read_state(path) -> dict:
    if not Path(path).is_file():
        raise FileNotFoundError(f"training checkpoint {path} not found; fit writes <output_dir>/checkpoint/"
                                "snapshot_<epoch>.pth")
    state = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise ValueError(f"{path}: not a crowdmesh training checkpoint (format {FORMAT!r})")
    return state


def latest_checkpoint(folder: Path) -> Path | None:
    snaps = sorted(folder.glob("snapshot_*.pth"), key=lambda p: int(p.stem.split("_")[1]))
    return snaps[-1] if snaps else None


def load_trained(path, body: torch.nn.Module | None = None) -> CrowdNet:
    """Rebuild the trained network (either arch) from a training checkpoint, strictly, in eval mode."""
    from nets.checkpoint import load_strict
    state = read_state(path)
    cfg = from_dict(TrainConfig, state["config"])
    model = build_model(cfg.model, body if body is not None else make_body(cfg.body))
    load_strict(model, state["network"], path, f"{cfg.model.arch} 3DCrowdNet", model.network_state_dict())
    return model.eval()


def load_init(model: CrowdNet, path, body) -> None:
    """Start from weights: a training checkpoint (either arch) or, for the official arch, any
    ``nets.checkpoint`` format (the release's snapshot included). Strict: every key must fit."""
    from nets.checkpoint import load_model, load_strict
    try:
        source = load_trained(path, body)
    except ValueError:     # not a training checkpoint: a project or official one (nets.checkpoint)
        source = load_model(path, body)
    load_strict(model, source.network_state_dict(), path, "model", model.network_state_dict())


def export_official(model: CrowdNet, path, epoch: int) -> Path:
    """Official release layout: ``{'network': {'module.<name>': tensor}, 'epoch'}``, the VPoser under
    ``module.vposer.vposer.`` and the SMPL layer's buffers as ``module.human_model_layer.th_*``."""
    net = unwrap(model)
    network = {}
    for k, v in net.network_state_dict().items():
        k = k.replace("vposer.", "vposer.vposer.", 1) if k.startswith("vposer.") else k
        network["module." + k] = v
    smpl = net.body.smpl
    n_verts, n_poses = smpl.v_template.shape[0], smpl.posedirs.shape[0]
    body = {"th_betas": torch.zeros(1, smpl.shapedirs.shape[-1]), "th_shapedirs": smpl.shapedirs,
            "th_posedirs": smpl.posedirs.T.reshape(n_verts, 3, n_poses), "th_v_template": smpl.v_template[None],
            "th_J_regressor": smpl.J_regressor, "th_weights": smpl.lbs_weights, "th_faces": smpl.faces_tensor}
    network.update({f"module.human_model_layer.{k}": v.detach().clone() for k, v in body.items()})
    return save_state({"network": network, "epoch": int(epoch)}, Path(path))


def export_project(model: CrowdNet, path, **meta) -> Path:
    """``nets.checkpoint`` format: loads in `stream process` / `stream image` (model.checkpoint=), either architecture."""
    from nets.checkpoint import save_checkpoint
    return save_checkpoint(unwrap(model), path, **meta)
