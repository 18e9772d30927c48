"""Learning check (TRAINING.md §7): the reduced model learns on synthetic crowds, on CPU in minutes.

    python benchmarks/learning_check.py [dotted.key=value ...]      # default 600 steps, batch 16

Trains ``configs/train/synthetic.yaml`` from scratch into a temporary folder and prints:
  (a) mean loss of the last 50 steps / first 50            gate <= 0.5
  (b) held-out MPJPE trained / untrained (same init)       gate <= 0.6
  (c) held-out PA-MPJPE trained / untrained                gate <= 0.8
plus the mean-pose baseline, in the paper's table layout. Exit status 1 if a gate fails.
"""
from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]


def run(overrides: list[str]) -> dict:
    from train import trainer
    from train.config import load_config
    from train.evaluate import evaluate, format_table, mean_pose_baseline
    with tempfile.TemporaryDirectory() as tmp:
        cfg = load_config(ROOT / "configs/train/synthetic.yaml", [f"output_dir={tmp}", "progress=false", *overrides])
        torch.manual_seed(cfg.seed)                      # the same init as trainer._train_loop
        body = trainer.make_body(cfg.body)
        untrained = trainer.build_model(cfg.model, body)
        train_set = trainer.make_dataset(cfg, body, untrained.config, "train")
        test_set = trainer.make_dataset(cfg, body, untrained.config, "test")
        before = evaluate(untrained, test_set)
        t0 = time.perf_counter()
        result = trainer.fit(cfg)
        seconds = time.perf_counter() - t0
        after = evaluate(trainer.load_trained(result.checkpoint, body), test_set)
        baseline = mean_pose_baseline(train_set, test_set)
    losses = np.array(result.losses)
    k = min(50, len(losses) // 2)
    figures = {
        "steps": result.step, "train_crops": len(train_set), "test_crops": len(test_set), "seconds": seconds,
        "loss_first": float(losses[:k].mean()), "loss_last": float(losses[-k:].mean()),
        "loss_ratio": float(losses[-k:].mean() / losses[:k].mean()),
        "mpjpe_ratio": after["mpjpe"] / before["mpjpe"], "pa_mpjpe_ratio": after["pa_mpjpe"] / before["pa_mpjpe"],
        "before": before, "after": after, "baseline": baseline,
    }
    print(f"{result.step} steps, batch {cfg.data.batch_size}, {len(train_set)} train / {len(test_set)} held-out crops, "
          f"{seconds:.0f} s ({seconds / max(result.step, 1):.2f} s/step)")
    print(format_table({"untrained (same init)": before, "mean pose (train split)": baseline,
                        f"trained {result.step} steps": after}))
    print(f"(a) loss last {k} / first {k}: {figures['loss_last']:.3f} / {figures['loss_first']:.3f} "
          f"= {figures['loss_ratio']:.3f}  (gate <= 0.5)")
    print(f"(b) MPJPE trained / untrained: {after['mpjpe']:.1f} / {before['mpjpe']:.1f} = {figures['mpjpe_ratio']:.3f}"
          "  (gate <= 0.6)")
    print(f"(c) PA-MPJPE trained / untrained: {after['pa_mpjpe']:.1f} / {before['pa_mpjpe']:.1f} "
          f"= {figures['pa_mpjpe_ratio']:.3f}  (gate <= 0.8)")
    return figures


def main(argv: list[str]) -> int:
    torch.set_num_threads(max(1, torch.get_num_threads()))
    f = run(argv)
    ok = f["loss_ratio"] <= 0.5 and f["mpjpe_ratio"] <= 0.6 and f["pa_mpjpe_ratio"] <= 0.8
    print("gates:", "PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    sys.exit(main(sys.argv[1:]))
