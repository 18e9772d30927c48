"""What a training recipe builds: the body, the network, the optimizer and its schedule, the dataset, the device.

    body = make_body(cfg.body)                        # SMPL files or the synthetic stand-in
    model = build_model(cfg.model, body)              # untrained, "official" or "reduced"
    optimizer = make_optimizer(model, cfg)            # one Adam group per part (GROUPS)
    set_lr(optimizer, epoch, cfg)                     # the step schedule, per group
    dataset = make_dataset(cfg, body, model.config, "train")
"""
from __future__ import annotations

from dataclasses import replace

import torch

from nets.body import BodyConfig, BodyModel
from nets.devices import resolve_device
from nets.model import CrowdNet, ModelConfig
from nets.standin import make_standin_body
from train.config import TrainConfig, TrainModelConfig
from train.reduced import REDUCED_CONFIG, ReducedCrowdNet

GROUPS = ("backbone", "pose2feat", "position_net", "rotation_net")
ARCHS = ("official", "reduced")


def make_body(section: BodyConfig) -> BodyModel:
    """The real SMPL files when configured (``body.smpl``), else the synthetic stand-in body (nets.standin)."""
    if section.smpl:
        return BodyModel.from_files(section.smpl, section.joint_regressor_extra)
    return BodyModel(*make_standin_body())


def build_model(section: TrainModelConfig, body: torch.nn.Module) -> CrowdNet:
    """An untrained network for ``section.arch`` and its variant (``regressor``, ``pose_guidance``); the VPoser
    prior frozen unless ``train_vposer``."""
    variant = {"regressor": section.regressor, "pose_guidance": section.pose_guidance}
    if section.arch == "official":
        model = CrowdNet(body, ModelConfig(**variant))
    elif section.arch == "reduced":
        model = ReducedCrowdNet(body, replace(REDUCED_CONFIG, **variant), tuple(section.widths))
    else:
        raise ValueError(f"model.arch: unknown architecture {section.arch!r}; valid: {list(ARCHS)}")
    if section.train_vposer:
        # no real prior: start the decoder at the rest pose (identity 6D), small weights
        with torch.no_grad():
            out = model.vposer.bodyprior_dec_out
            out.weight.mul_(0.1)
            out.bias.copy_(torch.tensor([1.0, 0.0, 0.0, 1.0, 0.0, 0.0]).repeat(out.bias.numel() // 6))
    else:
        model.vposer.requires_grad_(False)
    model.body.requires_grad_(False)
    return model


def unwrap(model):
    """The network inside a DistributedDataParallel wrapper (Ray Train), or ``model`` itself."""
    return model.module if hasattr(model, "module") else model


def lr_factor(epoch: int, decay_epochs, factor: float) -> float:
    """Step schedule: divided by ``factor`` once for every decay epoch <= ``epoch``."""
    return factor ** -sum(1 for e in decay_epochs if epoch >= e)


def make_optimizer(model: CrowdNet, cfg: TrainConfig) -> torch.optim.Adam:
    groups = [{"name": name, "params": list(getattr(model, name).parameters()),
               "lr": cfg.optim.lr_backbone if name == "backbone" else cfg.optim.lr} for name in GROUPS]
    if cfg.model.train_vposer:
        groups.append({"name": "vposer", "params": list(model.vposer.parameters()), "lr": cfg.optim.lr})
    for g in groups:
        g["base_lr"] = g["lr"]
    return torch.optim.Adam(groups, lr=cfg.optim.lr)


def set_lr(optimizer: torch.optim.Optimizer, epoch: int, cfg: TrainConfig) -> None:
    """Each group at its own base lr times the schedule (the release overwrote the backbone's: BUG)."""
    f = lr_factor(epoch, cfg.optim.lr_decay_epochs, cfg.optim.lr_decay_factor)
    for g in optimizer.param_groups:
        g["lr"] = g["base_lr"] * f


def set_train_mode(model: CrowdNet, cfg: TrainConfig) -> None:
    model.train()
    if not cfg.model.train_vposer:
        model.vposer.eval()  # the release's model.train() undid this


def eval_set_names(cfg: TrainConfig) -> list[str]:
    """``data.test`` split at commas: "synthetic" or names of ``train.pipeline.TEST_SETS``."""
    return [n.strip() for n in cfg.data.test.split(",") if n.strip()]


def make_dataset(cfg: TrainConfig, body, model_config: ModelConfig, split: str):
    """The torch Dataset of ``data.train`` (split "train"; official readers mixed 50/50 by
    ``train.pipeline``) or of the synthetic ``data.test`` (split "test"; the official test sets are
    read by ``train.evaluate.evaluate_recipe``)."""
    names = list(cfg.data.train) if split == "train" else eval_set_names(cfg)
    if "synthetic" in names and names != ["synthetic"]:
        key = "data.train" if split == "train" else "data.test"
        raise ValueError(f"{key}: {names}: 'synthetic' cannot be mixed with the official datasets")
    if names != ["synthetic"]:
        if split != "train":
            raise ValueError(f"data.test: {names}: official test sets are not one Dataset; "
                             "use train.evaluate.evaluate_recipe (python -m train eval)")
        from train.pipeline import make_training_set
        return make_training_set(cfg, body, model_config)
    from train.synthetic import SyntheticCrowdDataset
    return SyntheticCrowdDataset(body, cfg.data.synthetic, model_config, split=split,
                                 posefix=cfg.data.posefix and split == "train")


def pick_device(cfg: TrainConfig) -> torch.device:
    """``cfg.device`` through ``nets.devices.resolve_device`` ("auto": cuda when torch sees a GPU, else cpu)."""
    return resolve_device(cfg.device)
