"""Training throughput (samples/s) of the training step and of the data pipeline alone.

    python benchmarks/bench_train.py [--steps 3] [--batch-official 4] [--batch-reduced 16] [--samples 24]

Training step = forward, the seven losses, backward and Adam on one fixed batch (no data loading), for
the official model (ResNet-50, 256 px, 64³) and the reduced one (train.reduced, 128 px), on CPU with
the threads torch has, and on GPU with AMP (batch 64) when CUDA is available. Median of ``--steps``
timed steps after one warm-up.

Data pipeline = ``dataset[i]`` in this process (one DataLoader worker's rate): the synthetic dataset
(``train.synthetic``; the crowds are rendered before timing) and the official-format pipeline
(``train.pipeline``: image decode, crop + augmentation, PoseFix, SMPL fit targets) on the tiny fixture
datasets of ``tests/train/make_fixtures.py``, both at the official 256-px geometry (the reduced model's
128-px crops cost less). The last lines give data/training = (samples/s of one data worker) / (samples/s
of training): data is not the bottleneck with at least 1/ratio DataLoader workers.
"""
import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "train"))   # make_fixtures

from make_fixtures import write_fixtures  # noqa: E402
from timing import sync  # noqa: E402

from nets.model import ModelConfig  # noqa: E402
from train import trainer  # noqa: E402
from train.config import SyntheticConfig, load_config  # noqa: E402
from train.pipeline import make_training_set  # noqa: E402
from train.synthetic import SyntheticCrowdDataset  # noqa: E402

SMALL_CROWDS = SyntheticConfig(sequences=1, people=4, frames=6)


def train_rate(arch: str, batch_size: int, steps: int, device: torch.device, amp: bool, body) -> float:
    """Samples/s of full training steps on one fixed synthetic batch."""
    cfg = load_config(None, [f"model.arch={arch}", "model.train_vposer=false"])
    model = trainer.build_model(cfg.model, body)
    data = SyntheticCrowdDataset(body, SMALL_CROWDS, model.config, "train")
    batch = torch.utils.data.default_collate([data[i % len(data)] for i in range(batch_size)])
    batch = {k: v.to(device) for k, v in batch.items()}
    model.to(device)
    trainer.set_train_mode(model, cfg)
    optimizer = trainer.make_optimizer(model, cfg)
    scaler = torch.amp.GradScaler("cuda") if amp else None

    def step():
        trainer.train_step(model, optimizer, scaler, batch, amp)

    step()
    seconds = []
    for _ in range(steps):
        sync()
        t0 = time.perf_counter()
        step()
        sync()
        seconds.append(time.perf_counter() - t0)
    return batch_size / statistics.median(seconds)


def data_rate(dataset, samples: int) -> float:
    """Samples/s of ``dataset[i]`` in this process, after one warm-up sample."""
    dataset[0]
    t0 = time.perf_counter()
    for i in range(samples):
        dataset[i % len(dataset)]
    return samples / (time.perf_counter() - t0)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--steps", type=int, default=3, help="timed training steps per setting")
    ap.add_argument("--batch-official", type=int, default=4, help="CPU batch of the ResNet-50 model")
    ap.add_argument("--batch-reduced", type=int, default=16, help="CPU batch of the reduced model")
    ap.add_argument("--samples", type=int, default=24, help="timed samples per data pipeline")
    args = ap.parse_args()
    body = trainer.make_body(load_config(None).body)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} CPU threads, "
          f"CUDA: {torch.cuda.get_device_name(0) if torch.cuda.is_available() else 'no'}")

    rates = {}
    cpu = torch.device("cpu")
    rates["train official CPU"] = train_rate("official", args.batch_official, args.steps, cpu, False, body)
    rates["train reduced CPU"] = train_rate("reduced", args.batch_reduced, args.steps, cpu, False, body)
    if torch.cuda.is_available():
        gpu = torch.device("cuda")
        rates["train official GPU AMP"] = train_rate("official", 64, max(args.steps, 10), gpu, True, body)
        rates["train reduced GPU AMP"] = train_rate("reduced", 64, max(args.steps, 10), gpu, True, body)

    official = ModelConfig()
    synthetic = SyntheticCrowdDataset(body, SMALL_CROWDS, official, "train")
    rates["data synthetic 256px"] = data_rate(synthetic, args.samples)
    with tempfile.TemporaryDirectory() as tmp:
        write_fixtures(Path(tmp), seed=0)
        cfg = load_config(ROOT / "configs/train/3dpw_crowd.yaml",
                          [f"data.root={tmp}", "data.human36m_subjects=[1]",
                           "data.train=[Human36M, MuCo, MSCOCO, MPII, CrowdPose]"])
        rates["data official-format 256px"] = data_rate(make_training_set(cfg, body, official), args.samples)

    for name, rate in rates.items():
        print(f"{name:<32}{rate:>10.1f} samples/s")
    for key in [k for k in rates if k.startswith("train")]:
        for data in ("data synthetic 256px", "data official-format 256px"):
            ratio = rates[data] / rates[key]
            print(f"data/training  {data[5:]:<24} / {key[6:]:<20}{ratio:>8.2f}  "
                  f"(DataLoader workers needed: {max(1, int(np.ceil(1 / ratio)))})")

if __name__ == "__main__":
    main()
