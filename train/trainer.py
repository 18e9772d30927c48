"""Training loop: Adam with the official parameter groups, the paper's step schedule, AMP on CUDA,
resumable checkpoints, CSV metrics; one process (CPU / one GPU) or many workers through Ray Train.

    cfg = load_config("configs/train/synthetic.yaml", ["optim.max_steps=50"])
    result = fit(cfg)                   # -> FitResult(epoch, step, checkpoint path, last metrics)
    model = load_trained(result.checkpoint, body)

What the loop builds comes from ``train.build`` (body, network, optimizer and schedule, dataset) and
the checkpoints it writes and reads from ``train.checkpoints``; both are re-exported here.

Deviations from the release, on purpose: the backbone keeps its own learning rate under decay
(``set_lr`` BUG), the optimizer state is restored on resume, GradScaler updates normally.
"""
from __future__ import annotations

import csv
import logging
import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import torch
from torch.utils.data import DataLoader

from train.build import (ARCHS, GROUPS, build_model, eval_set_names, lr_factor, make_body, make_dataset,
                         make_optimizer, pick_device, set_lr, set_train_mode, unwrap)
from train.checkpoints import (FORMAT, VERSION, export_official, export_project, latest_checkpoint, load_init,
                               load_trained, read_state, save_state, training_state)
from train.config import TrainConfig, from_dict, to_dict
from train.losses import crowdnet_losses

__all__ = ["ARCHS", "FORMAT", "GROUPS", "VERSION", "FitResult", "build_model", "eval_set_names", "export_official",
           "export_project", "fit", "latest_checkpoint", "load_trained", "lr_factor", "make_body", "make_dataset",
           "make_optimizer", "pick_device", "read_state", "save_state", "set_lr", "set_train_mode", "train_step",
           "training_state"]

log = logging.getLogger(__name__)


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


@dataclass
class _Worker:
    """Where one copy of the loop runs: its rank and the world size (0 and 1 outside Ray), its device."""
    rank: int
    world: int
    device: torch.device
    ray_mode: bool


def _worker(cfg: TrainConfig, ray_mode: bool) -> _Worker:
    if not ray_mode:
        return _Worker(0, 1, pick_device(cfg), False)
    import ray.train
    import ray.train.torch as rtt
    ctx = ray.train.get_context()
    return _Worker(ctx.get_world_rank(), ctx.get_world_size(), rtt.get_device(), True)


def _data(cfg: TrainConfig, body, model: torch.nn.Module):
    """(training set, its loader, the loader's shuffle generator, reseeded at each epoch)."""
    # make_dataset is looked up in this module: scripts/train_demo_weights.py swaps it for its own
    dataset = make_dataset(cfg, body, model.config, "train")
    g = torch.Generator().manual_seed(cfg.seed)
    loader = DataLoader(dataset, batch_size=cfg.data.batch_size, shuffle=True,
                        drop_last=len(dataset) >= cfg.data.batch_size,
                        num_workers=cfg.data.workers, generator=g, persistent_workers=False)
    return dataset, loader, g


def _resume_state(out: Path, ray_mode: bool) -> dict | None:
    """The state to resume from: Ray's last reported checkpoint, else the newest snapshot in ``out``."""
    if ray_mode:
        import ray.train
        ckpt = ray.train.get_checkpoint()
        if ckpt:
            with ckpt.as_directory() as d:
                return read_state(Path(d) / "state.pth")
        return None
    last = latest_checkpoint(out / "checkpoint")
    return read_state(last) if last is not None else None


def _restore(model, optimizer, scaler, state: dict | None) -> tuple[int, int]:
    """Load ``state`` (strictly) into the model, optimizer and scaler; returns (start epoch, step)."""
    if state is None:
        return 0, 0
    from nets.checkpoint import load_strict
    load_strict(model, state["network"], "resume checkpoint", "model", model.network_state_dict())
    optimizer.load_state_dict(state["optimizer"])
    if scaler is not None and state.get("scaler"):
        scaler.load_state_dict(state["scaler"])
    start_epoch, step = int(state["epoch"]), int(state["step"])
    log.info("resumed at epoch %d, step %d", start_epoch, step)
    return start_epoch, step


def _report_to_ray(state: dict, metrics: dict, rank: int) -> None:
    """``ray.train.report`` the epoch's metrics; rank 0 attaches ``state`` as the checkpoint."""
    import ray.train
    with tempfile.TemporaryDirectory() as tmp:
        checkpoint = None
        if rank == 0:
            torch.save(state, Path(tmp) / "state.pth")
            checkpoint = ray.train.Checkpoint.from_directory(tmp)
        ray.train.report(metrics, checkpoint=checkpoint)


def _inject_failure(out: Path, epoch: int) -> None:
    """Fail once after ``epoch`` (``ray.fail_once_after_epoch``, for the resume test): a marker file remembers."""
    marker = out / f"injected_failure_epoch{epoch}"
    if not marker.exists():
        marker.parent.mkdir(parents=True, exist_ok=True)
        marker.touch()
        raise RuntimeError(f"injected worker failure after epoch {epoch} (ray.fail_once_after_epoch)")


def _start_progress(enabled: bool):
    if not enabled:
        return None
    from rich.progress import Progress
    progress = Progress(transient=True)
    progress.start()
    return progress


class _Loop:
    """The loop both modes run (in Ray mode, the per-worker function's body): ``__init__`` builds the model,
    data and optimizer and resumes; ``run`` trains epoch by epoch, a checkpoint after each."""

    def __init__(self, cfg: TrainConfig, ray_mode: bool):
        torch.manual_seed(cfg.seed)
        self.cfg, self.worker, self.out = cfg, _worker(cfg, ray_mode), Path(cfg.output_dir)
        body = make_body(cfg.body)
        model = build_model(cfg.model, body)
        if cfg.model.init_checkpoint:
            load_init(model, cfg.model.init_checkpoint, body)
        self.dataset, loader, self.shuffle = _data(cfg, body, model)
        self.use_amp = cfg.amp and self.worker.device.type == "cuda"
        self.scaler = torch.amp.GradScaler("cuda") if self.use_amp else None
        model.to(self.worker.device)
        self.optimizer = make_optimizer(model, cfg)
        self.start_epoch, self.step = _restore(model, self.optimizer, self.scaler, _resume_state(self.out, ray_mode))
        if ray_mode:
            import ray.train.torch as rtt
            model = rtt.prepare_model(model, parallel_strategy_kwargs={"find_unused_parameters": True})
            loader = rtt.prepare_data_loader(loader)
        self.model, self.loader = model, loader
        self.losses, self.metrics, self.checkpoint = [], {}, None

    def run(self) -> FitResult:
        cfg, max_steps = self.cfg, self.cfg.optim.max_steps
        csv_log = _CsvLog(self.out / "metrics.csv", self.worker.rank == 0)
        progress = _start_progress(cfg.progress and self.worker.rank == 0)
        try:
            for epoch in range(self.start_epoch, cfg.optim.end_epoch):
                if max_steps and self.step >= max_steps:
                    break
                self._start_epoch(epoch)
                finished = self._epoch(epoch, csv_log, progress)
                # max_steps may stop inside an epoch: then the checkpoint says to run this epoch again
                self._end_epoch(epoch, epoch + 1 if finished else epoch)
        finally:
            if progress:
                progress.stop()
            csv_log.close()
        return FitResult(epoch=int(self.metrics.get("epoch", self.start_epoch)), step=self.step,
                         checkpoint=self.checkpoint, metrics=self.metrics, losses=self.losses)

    def _start_epoch(self, epoch: int) -> None:
        cfg, loader = self.cfg, self.loader
        set_lr(self.optimizer, epoch, cfg)
        self.shuffle.manual_seed(cfg.seed * 100003 + epoch)  # the shuffle of an epoch is the same after a resume
        self.dataset.set_epoch(epoch)
        if self.worker.ray_mode and hasattr(loader, "sampler") and hasattr(loader.sampler, "set_epoch"):
            loader.sampler.set_epoch(epoch)
        set_train_mode(unwrap(self.model), cfg)

    def _epoch(self, epoch: int, csv_log: _CsvLog, progress) -> bool:
        """One pass over the loader, cut short at ``optim.max_steps``; True when the epoch was finished."""
        cfg, max_steps, optimizer = self.cfg, self.cfg.optim.max_steps, self.optimizer
        task = progress.add_task(f"epoch {epoch}", total=len(self.loader)) if progress else None
        t0, epoch_steps = time.perf_counter(), 0
        for batch in self.loader:
            batch = {k: v.to(self.worker.device, non_blocking=True) for k, v in batch.items()}
            loss, terms = train_step(self.model, optimizer, self.scaler, batch, self.use_amp)
            self.step += 1
            epoch_steps += 1
            self.losses.append(float(loss.detach()))
            self.metrics = {"epoch": epoch, "step": self.step, "loss": self.losses[-1],
                            **{k: float(v.detach()) for k, v in terms.items()},
                            "lr": optimizer.param_groups[1]["lr"], "lr_backbone": optimizer.param_groups[0]["lr"],
                            "time": time.perf_counter() - t0}
            if self.step % cfg.log_every == 0:
                csv_log.write(self.metrics)
            if progress:
                progress.update(task, advance=1, description=f"epoch {epoch} loss {self.losses[-1]:.3f}")
            if max_steps and self.step >= max_steps:
                break
        return epoch_steps == len(self.loader)

    def _end_epoch(self, epoch: int, next_epoch: int) -> None:
        """Checkpoint (Ray report on every rank, snapshot file on rank 0), then the injected failure if asked."""
        cfg, worker = self.cfg, self.worker
        state = training_state(self.model, self.optimizer, self.scaler, cfg, next_epoch, self.step)
        if worker.ray_mode:
            _report_to_ray(state, {**self.metrics, "epoch": next_epoch}, worker.rank)
        if worker.rank == 0:
            self.checkpoint = save_state(state, self.out / "checkpoint" / f"snapshot_{next_epoch}.pth")
        if worker.ray_mode and epoch == cfg.ray.fail_once_after_epoch and worker.rank == min(1, worker.world - 1):
            _inject_failure(self.out, epoch)
        self.metrics = {**self.metrics, "epoch": next_epoch}


def _train_loop(cfg: TrainConfig, ray_mode: bool = False) -> FitResult:
    """The loop both modes run; in Ray mode it is the per-worker function's body."""
    return _Loop(cfg, ray_mode).run()


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
