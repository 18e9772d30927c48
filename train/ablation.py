"""The ablation runner: model variants trained on the same synthetic crowds, same steps and seeds, scored on
one held-out set (``train.ablation_eval``), results cached per run.

    python -m train ablate --config configs/train/ablation.yaml [dotted.key=value ...]
    results = run_ablation(load_ablation("configs/train/ablation.yaml"))   # {variant: [scores per seed]}

A run is one (variant, seed): the ``train`` recipe with the variant's ``overrides`` (dotted keys of the
training recipe, e.g. ``model.regressor=gap``) and ``seed``, trained by ``train.trainer.fit`` into
``<output_dir>/runs/<variant>-s<seed>`` (only its final snapshot is kept). Its ``run.json`` keeps a hash of the
run's training config and, once scored, the hash of the evaluation set with the scores: a rerun trains only runs
whose config changed (or never finished) and scores only runs whose model or evaluation set changed. Runs go
``jobs`` at a time, each in its own process with its share of the CPU threads (small models train faster so on
CPU than one run on all cores). Writes ``<output_dir>/ablation.md`` (the tables) and ``results.json``.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from multiprocessing import get_context
from pathlib import Path

from nets.config import apply_override, check, from_dict, is_int, load_yaml, to_dict
from train.ablation_eval import EvalSetConfig, eval_sets, format_ablation, format_differences, score_model
from train.config import TrainConfig

log = logging.getLogger(__name__)

_NOT_HASHED = ("output_dir", "progress", "log_every")   # change where or how a run reports, not what it learns


@dataclass(frozen=True)
class Variant:
    name: str
    overrides: tuple[str, ...] = ()   # dotted keys of the training recipe: the only differences to the others
    seeds: tuple[int, ...] = (0, 1, 2)

    def __post_init__(self):
        check(self, "name", bool(self.name) and self.name.replace("_", "").replace("-", "").isalnum(),
              "a name of letters, digits, - and _")
        check(self, "seeds", bool(self.seeds) and all(is_int(s) and s >= 0 for s in self.seeds),
              "a list of seeds >= 0")


@dataclass(frozen=True)
class AblationConfig:
    train: TrainConfig = field(default_factory=TrainConfig)    # the recipe every variant starts from
    variants: tuple[Variant, ...] = ()
    eval: EvalSetConfig = field(default_factory=EvalSetConfig)
    jobs: int = 2                   # runs at a time (processes); each gets cpu_count // jobs threads
    output_dir: str = "output/ablation"

    def __post_init__(self):
        names = [v.name for v in self.variants]
        check(self, "variants", bool(names) and len(set(names)) == len(names), "variants with distinct names")
        check(self, "jobs", is_int(self.jobs) and self.jobs >= 1, "an int >= 1")


@dataclass(frozen=True)
class Run:
    variant: str
    seed: int
    config: TrainConfig

    @property
    def folder(self) -> Path:
        return Path(self.config.output_dir)

    @property
    def key(self) -> str:
        return config_hash({k: v for k, v in to_dict(self.config).items() if k not in _NOT_HASHED})


def load_ablation(path=None, overrides=()) -> AblationConfig:
    """Read ``configs/train/ablation.yaml``-style YAML, apply dotted overrides; every variant's overrides are
    checked against the training recipe here, before anything trains."""
    cfg = load_yaml(AblationConfig, path, overrides, where="configs/train/")
    plan_runs(cfg)
    return cfg


def config_hash(data) -> str:
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:16]


def plan_runs(cfg: AblationConfig) -> list[Run]:
    """One ``Run`` per (variant, seed), its training config complete."""
    runs = []
    for variant in cfg.variants:
        for seed in variant.seeds:
            data = to_dict(cfg.train)
            for override in variant.overrides:
                apply_override(TrainConfig, data, override)
            folder = Path(cfg.output_dir) / "runs" / f"{variant.name}-s{seed}"
            data.update(seed=seed, output_dir=str(folder), progress=False)
            runs.append(Run(variant.name, seed, from_dict(TrainConfig, data, prefix=f"variants.{variant.name}.")))
    return runs


def _read_record(folder: Path) -> dict:
    try:
        return json.loads((folder / "run.json").read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return {}


def _write_record(folder: Path, record: dict) -> None:
    tmp = folder / "run.json.tmp"
    tmp.write_text(json.dumps(record, indent=1))
    os.replace(tmp, folder / "run.json")


def _execute(run: Run, eval_section: EvalSetConfig, threads: int) -> dict:
    """Train ``run`` unless its record says this config finished; score it unless its record holds scores of
    this model on this evaluation set. Returns the record."""
    import torch
    from train import trainer
    torch.set_num_threads(threads)
    record, eval_key = _read_record(run.folder), config_hash(to_dict(eval_section))
    trained = record.get("train_key") != run.key or not Path(record.get("checkpoint", "")).is_file()
    if trained:
        shutil.rmtree(run.folder, ignore_errors=True)   # another config's checkpoints must not be resumed
        start = time.perf_counter()
        result = trainer.fit(run.config)
        for snapshot in Path(result.checkpoint).parent.glob("*.pth"):   # the final one is all a run needs
            if snapshot != Path(result.checkpoint):
                snapshot.unlink()
        record = {"variant": run.variant, "seed": run.seed, "train_key": run.key, "checkpoint": str(result.checkpoint),
                  "steps": result.step, "train_seconds": round(time.perf_counter() - start, 1),
                  "final_loss": result.metrics.get("loss")}
        _write_record(run.folder, record)
    if record.get("eval_key") != eval_key:
        start = time.perf_counter()
        model = trainer.load_trained(record["checkpoint"])
        sets = eval_sets(eval_section, model.body, model.config)
        scores = score_model(model, sets, eval_section.occlusion_bins, eval_section.batch_size,
                             trainer.pick_device(run.config))
        record = {**record, "eval_key": eval_key, "scores": scores,
                  "eval_seconds": round(time.perf_counter() - start, 1)}
        _write_record(run.folder, record)
    return {**record, "cached": not trained}


def run_ablation(cfg: AblationConfig, echo=log.info) -> dict[str, list[dict]]:
    """Train and score every run (cached ones are reused), write the tables; -> {variant: [scores per seed]}.
    ``echo`` gets a line per finished run and the tables (``python -m train ablate`` prints them)."""
    runs = plan_runs(cfg)
    threads = max(1, (os.cpu_count() or 1) // cfg.jobs)
    start, records = time.perf_counter(), {}
    if cfg.jobs == 1:
        for run in runs:
            records[run.folder.name] = _report(_execute(run, cfg.eval, threads), len(records) + 1, len(runs), echo)
    else:
        with ProcessPoolExecutor(cfg.jobs, mp_context=get_context("spawn")) as pool:
            futures = {pool.submit(_execute, run, cfg.eval, threads): run for run in runs}
            for future in futures:   # in plan order; each waits for its own run
                records[futures[future].folder.name] = _report(future.result(), len(records) + 1, len(runs), echo)
    results = {v.name: [records[f"{v.name}-s{s}"]["scores"] for s in v.seeds] for v in cfg.variants}
    text = format_ablation(results) + "\n\n" + format_differences(results, cfg.variants[0].name) + "\n"
    out = Path(cfg.output_dir)
    (out / "ablation.md").write_text(text)
    (out / "results.json").write_text(json.dumps({"config": to_dict(cfg), "runs": records}, indent=1))
    echo(text)
    echo(f"ablation: {len(runs)} runs in {time.perf_counter() - start:.0f} s; tables in {out / 'ablation.md'}")
    return results


def _report(record: dict, done: int, total: int, echo) -> dict:
    how = "cached" if record["cached"] else "trained"
    echo(f"[{done}/{total}] {record['variant']} seed {record['seed']}: {record['steps']} steps, "
         f"{how} ({record['train_seconds']} s), scored in {record.get('eval_seconds', '-')} s, "
         f"all-samples clean MPJPE {record['scores'].get('clean', {}).get('all', {}).get('mpjpe', float('nan')):.1f} mm")
    return record
