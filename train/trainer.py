"""Training loop: Adam with the official parameter groups, the paper's step schedule, AMP on CUDA,
resumable checkpoints, CSV metrics; one process (CPU / one GPU) or many workers through Ray Train.

    cfg = load_config("configs/train/synthetic.yaml", ["optim.max_steps=50"])
    result = fit(cfg)                   # -> FitResult(epoch, step, checkpoint path, last metrics)
    model = load_trained(result.checkpoint, body)

Training checkpoint (``<output_dir>/checkpoint/snapshot_<epoch>.pth``): ``{format: 'crowdmesh-train',
config (the TrainConfig as a dict), arch, model_config, network, optimizer, scaler, epoch (the next
epoch to run), step}``. ``export_official`` writes the release layout (``ckpt['network']`` with
``module.*`` keys) and ``export_project`` the ``nets.checkpoint`` format (official architecture).

Deviations from the release, on purpose: the backbone keeps its own learning rate under decay
(``set_lr`` BUG), the optimizer state is restored on resume, GradScaler updates normally.
"""
from __future__ import annotations

import csv
import logging
import os
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from torch.utils.data import DataLoader

from nets.body import BodyModel
from nets.model import CrowdNet, ModelConfig
from nets.standin import make_standin_body
from train.config import ModelSection, TrainConfig, from_dict, to_dict
from train.losses import crowdnet_losses
from train.reduced import REDUCED_CONFIG, ReducedCrowdNet

log = logging.getLogger(__name__)

FORMAT, VERSION = "crowdmesh-train", 1
GROUPS = ("backbone", "pose2feat", "position_net", "rotation_net")
ARCHS = ("official", "reduced")


def make_body(section: ModelSection) -> BodyModel:
    """The real SMPL files when configured, else the synthetic stand-in body (nets.standin)."""
    if section.smpl_path:
        return BodyModel.from_files(section.smpl_path, section.joint_regressor_extra)
    return BodyModel(*make_standin_body())


def build_model(section: ModelSection, body: torch.nn.Module) -> CrowdNet:
    """An untrained network for ``section.arch``; the VPoser prior frozen unless ``train_vposer``."""
    if section.arch == "official":
        model = CrowdNet(body, ModelConfig())
    elif section.arch == "reduced":
        model = ReducedCrowdNet(body, REDUCED_CONFIG, tuple(section.widths))
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
    return SyntheticCrowdDataset(body, cfg.data.synthetic, model_config, split=split)


def _unwrap(model):
    return model.module if hasattr(model, "module") else model


def training_state(model, optimizer, scaler, cfg: TrainConfig, epoch: int, step: int) -> dict:
    net = _unwrap(model)
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
    model = build_model(cfg.model, body if body is not None else make_body(cfg.model))
    load_strict(model, state["network"], path, f"{cfg.model.arch} 3DCrowdNet", model.network_state_dict())
    return model.eval()


def _load_init(model: CrowdNet, path, body) -> None:
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
    net = _unwrap(model)
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
    return save_checkpoint(_unwrap(model), path, **meta)


@dataclass
class FitResult:
    epoch: int          # epochs completed
    step: int           # optimiser steps taken in total
    checkpoint: Path | None
    metrics: dict
    losses: list        # total loss per step of this run


class _CsvLog:
    def __init__(self, path: Path, enabled: bool):
        self.path, self.enabled, self.writer, self.file = path, enabled, None, None

    def write(self, row: dict) -> None:
        if not self.enabled:
            return
        if self.writer is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            new = not self.path.exists()
            self.file = open(self.path, "a", newline="")
            self.writer = csv.DictWriter(self.file, fieldnames=list(row))
            if new:
                self.writer.writeheader()
        self.writer.writerow(row)
        self.file.flush()

    def close(self) -> None:
        if self.file:
            self.file.close()


def pick_device(cfg: TrainConfig) -> torch.device:
    if cfg.device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(cfg.device)


def train_step(model, optimizer, scaler, batch: dict, amp: bool) -> tuple[torch.Tensor, dict]:
    """One optimiser step on ``batch`` (already on the model's device): forward (autocast when ``amp``), the
    official losses, backward (through ``scaler`` when given). Returns (total loss, loss terms)."""
    device_type = batch["img"].device.type
    with torch.autocast(device_type, enabled=amp):
        output = model(batch["img"], batch["joints"], batch["joints_mask"])
    terms = crowdnet_losses(output, batch)
    loss = sum(terms.values())
    optimizer.zero_grad(set_to_none=True)
    if scaler is not None:
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()
    else:
        loss.backward()
        optimizer.step()
    return loss, terms


def _train_loop(cfg: TrainConfig, ray_mode: bool = False) -> FitResult:
    """The loop both modes run; in Ray mode it is the per-worker function's body."""
    torch.manual_seed(cfg.seed)
    if ray_mode:
        import ray.train
        import ray.train.torch as rtt
        ctx = ray.train.get_context()
        rank, world = ctx.get_world_rank(), ctx.get_world_size()
        device = rtt.get_device()
    else:
        rank, world, device = 0, 1, pick_device(cfg)
    out = Path(cfg.output_dir)
    body = make_body(cfg.model)
    model = build_model(cfg.model, body)
    if cfg.model.init_checkpoint:
        _load_init(model, cfg.model.init_checkpoint, body)
    dataset = make_dataset(cfg, body, model.config, "train")
    g = torch.Generator().manual_seed(cfg.seed)
    loader = DataLoader(dataset, batch_size=cfg.data.batch_size, shuffle=True,
                        drop_last=len(dataset) >= cfg.data.batch_size,
                        num_workers=cfg.data.workers, generator=g, persistent_workers=False)
    use_amp = cfg.amp and device.type == "cuda"
    scaler = torch.amp.GradScaler("cuda") if use_amp else None
    model.to(device)
    optimizer = make_optimizer(model, cfg)

    start_epoch, step = 0, 0
    state = None
    if ray_mode:
        ckpt = ray.train.get_checkpoint()
        if ckpt:
            with ckpt.as_directory() as d:
                state = read_state(Path(d) / "state.pth")
    else:
        last = latest_checkpoint(out / "checkpoint")
        if last is not None:
            state = read_state(last)
    if state is not None:
        from nets.checkpoint import load_strict
        load_strict(model, state["network"], "resume checkpoint", "model", model.network_state_dict())
        optimizer.load_state_dict(state["optimizer"])
        if scaler is not None and state.get("scaler"):
            scaler.load_state_dict(state["scaler"])
        start_epoch, step = int(state["epoch"]), int(state["step"])
        log.info("resumed at epoch %d, step %d", start_epoch, step)

    if ray_mode:
        model = rtt.prepare_model(model, parallel_strategy_kwargs={"find_unused_parameters": True})
        loader = rtt.prepare_data_loader(loader)
    csv_log = _CsvLog(out / "metrics.csv", rank == 0)
    losses_run, metrics, ckpt_path = [], {}, None
    max_steps = cfg.optim.max_steps
    progress = None
    if cfg.progress and rank == 0:
        from rich.progress import Progress
        progress = Progress(transient=True)
        progress.start()
    try:
        for epoch in range(start_epoch, cfg.optim.end_epoch):
            if max_steps and step >= max_steps:
                break
            set_lr(optimizer, epoch, cfg)
            g.manual_seed(cfg.seed * 100003 + epoch)  # the shuffle of an epoch is the same after a resume
            dataset.set_epoch(epoch)
            if ray_mode and hasattr(loader, "sampler") and hasattr(loader.sampler, "set_epoch"):
                loader.sampler.set_epoch(epoch)
            set_train_mode(_unwrap(model), cfg)
            task = progress.add_task(f"epoch {epoch}", total=len(loader)) if progress else None
            t0, epoch_steps = time.perf_counter(), 0
            for batch in loader:
                batch = {k: v.to(device, non_blocking=True) for k, v in batch.items()}
                loss, terms = train_step(model, optimizer, scaler, batch, use_amp)
                step += 1
                epoch_steps += 1
                losses_run.append(float(loss.detach()))
                metrics = {"epoch": epoch, "step": step, "loss": losses_run[-1],
                           **{k: float(v.detach()) for k, v in terms.items()},
                           "lr": optimizer.param_groups[1]["lr"], "lr_backbone": optimizer.param_groups[0]["lr"],
                           "time": time.perf_counter() - t0}
                if step % cfg.log_every == 0:
                    csv_log.write(metrics)
                if progress:
                    progress.update(task, advance=1, description=f"epoch {epoch} loss {losses_run[-1]:.3f}")
                if max_steps and step >= max_steps:
                    break
            # max_steps may stop inside an epoch: then the checkpoint says to run this epoch again
            finished = epoch_steps == len(loader)
            next_epoch = epoch + 1 if finished else epoch
            state = training_state(model, optimizer, scaler, cfg, next_epoch, step)
            if ray_mode:
                import ray.train
                with tempfile.TemporaryDirectory() as tmp:
                    checkpoint = None
                    if rank == 0:
                        torch.save(state, Path(tmp) / "state.pth")
                        checkpoint = ray.train.Checkpoint.from_directory(tmp)
                    ray.train.report({**metrics, "epoch": next_epoch}, checkpoint=checkpoint)
            if rank == 0:
                ckpt_path = save_state(state, out / "checkpoint" / f"snapshot_{next_epoch}.pth")
            if ray_mode and epoch == cfg.ray.fail_once_after_epoch and rank == min(1, world - 1):
                marker = out / f"injected_failure_epoch{epoch}"
                if not marker.exists():
                    marker.parent.mkdir(parents=True, exist_ok=True)
                    marker.touch()
                    raise RuntimeError(f"injected worker failure after epoch {epoch} (ray.fail_once_after_epoch)")
            metrics = {**metrics, "epoch": next_epoch}
    finally:
        if progress:
            progress.stop()
        csv_log.close()
    return FitResult(epoch=int(metrics.get("epoch", start_epoch)), step=step, checkpoint=ckpt_path,
                     metrics=metrics, losses=losses_run)


def _ray_worker(config: dict) -> None:
    _train_loop(from_dict(TrainConfig, config), ray_mode=True)


def fit(cfg: TrainConfig) -> FitResult:
    """Train as ``cfg`` says: in this process, or through Ray Train when ``cfg.ray.enabled``."""
    if not cfg.ray.enabled:
        return _train_loop(cfg)
    os.environ.setdefault("RAY_TRAIN_V2_ENABLED", "1")
    from ray.train import CheckpointConfig, FailureConfig, RunConfig, ScalingConfig
    from ray.train.torch import TorchTrainer
    storage = cfg.ray.storage_path or str(Path(cfg.output_dir).resolve() / "ray")
    if not os.path.isabs(storage):
        raise ValueError(f"ray.storage_path must be absolute (Ray fails on relative URIs), got {storage!r}")
    trainer = TorchTrainer(
        _ray_worker, train_loop_config=to_dict(cfg),
        scaling_config=ScalingConfig(num_workers=cfg.ray.num_workers, use_gpu=cfg.ray.use_gpu),
        run_config=RunConfig(name=cfg.ray.name, storage_path=storage,
                             failure_config=FailureConfig(max_failures=cfg.ray.max_failures),
                             checkpoint_config=CheckpointConfig(num_to_keep=2)))
    result = trainer.fit()
    if result.error:
        raise result.error
    ckpt = latest_checkpoint(Path(cfg.output_dir) / "checkpoint")
    return FitResult(epoch=int(result.metrics.get("epoch", 0)), step=int(result.metrics.get("step", 0)),
                     checkpoint=ckpt, metrics=dict(result.metrics), losses=[])
