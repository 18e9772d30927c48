"""Crops/s of the batched 3DCrowdNet forward vs one person per forward (the official demo's loop).

    python benchmarks/bench_mesh.py [--device cpu|cuda] [--people 32] [--batches 1 8 32] [--bf16]

Weights are the untrained stand-in (speed does not depend on their values); the body model is the
project's synthetic stand-in. Prints one line per setting and the ratio against the baseline loop,
both measured in this run on the same inputs.
"""
import argparse
import tempfile
import time

import torch

from nets.body import BodyModel
from nets.model import CrowdNet
from nets.standin import write_standin_body


def timed(fn, min_seconds: float) -> float:
    """Seconds per call: one warm-up call, then repeat until ``min_seconds`` have passed."""
    fn()
    sync()
    n, start = 0, time.perf_counter()
    while True:
        fn()
        sync()
        n += 1
        if time.perf_counter() - start >= min_seconds:
            return (time.perf_counter() - start) / n


def sync():
    if torch.cuda.is_available():
        torch.cuda.synchronize()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--people", type=int, default=32, help="people in the test image")
    ap.add_argument("--batches", type=int, nargs="+", default=[1, 8, 32])
    ap.add_argument("--bf16", action="store_true", help="also time bf16 autocast + channels_last (GPU)")
    ap.add_argument("--min-seconds", type=float, default=3.0)
    args = ap.parse_args()

    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    device = torch.device(args.device)
    with tempfile.TemporaryDirectory() as tmp:
        body = BodyModel.from_files(*write_standin_body(tmp))
    torch.manual_seed(0)
    model = CrowdNet(body).eval().to(device)
    g = torch.Generator().manual_seed(0)
    n = args.people
    img = torch.rand(n, 3, 256, 256, generator=g).to(device)
    joints = (torch.rand(n, 30, 2, generator=g) * 64).to(device)
    mask = torch.ones(n, 30, 1, device=device)
    bbox = torch.tensor([[100.0, 50.0, 200.0, 200.0]]).repeat(n, 1).to(device)

    def forward_all(batch: int, autocast: bool = False):
        def fn():
            with torch.no_grad(), torch.autocast(device.type, torch.bfloat16, enabled=autocast):
                for s in range(0, n, batch):
                    model(img[s:s + batch], joints[s:s + batch], mask[s:s + batch], bbox[s:s + batch])
        return fn

    print(f"device {device} ({torch.cuda.get_device_name(device) if device.type == 'cuda' else 'CPU'}), "
          f"torch {torch.__version__}, threads {torch.get_num_threads()}, {n} people")
    baseline = n / timed(forward_all(1), args.min_seconds)
    print(f"one person per forward (official demo loop): {baseline:8.2f} crops/s")
    for batch in args.batches:
        rate = n / timed(forward_all(batch), args.min_seconds)
        print(f"batched forward, batch {batch:3d}:           {rate:8.2f} crops/s  x{rate / baseline:.2f} vs loop")
    if args.bf16 and device.type == "cuda":
        model = model.to(memory_format=torch.channels_last)
        img = img.contiguous(memory_format=torch.channels_last)
        for batch in args.batches:
            rate = n / timed(forward_all(batch, autocast=True), args.min_seconds)
            print(f"bf16 + channels_last, batch {batch:3d}:      {rate:8.2f} crops/s  x{rate / baseline:.2f} vs loop")


if __name__ == "__main__":
    main()
