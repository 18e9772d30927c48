"""Crops/s of the batched 3DCrowdNet forward vs one person per forward (the official demo's loop).

    python benchmarks/bench_mesh.py [--device cpu|cuda] [--people 32] [--batches 1 8 32] [--bf16] [--repeats 3]

Variants: ``fp32`` (the loaded network) and ``fp32 for_inference`` (BatchNorm folded into the convs,
channels-last), plus ``bf16 for_inference`` with --bf16. Weights are the untrained stand-in (speed does not depend on their values); the body model is the
project's synthetic stand-in. Prints one line per setting and the ratio against the baseline loop,
both measured in this run on the same inputs.
"""
import argparse
import tempfile

import torch

from nets.body import BodyModel
from nets.model import CrowdNet
from nets.standin import write_standin_body
from timing import median_seconds


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--people", type=int, default=32, help="people in the test image")
    ap.add_argument("--batches", type=int, nargs="+", default=[1, 8, 32])
    ap.add_argument("--bf16", action="store_true", help="also time bf16 autocast (GPU)")
    ap.add_argument("--repeats", type=int, default=3, help="rounds; each setting's median is reported")
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

    nets = {"fp32": model, "fp32 for_inference": model.for_inference()}
    if args.bf16:
        nets["bf16 for_inference"] = nets["fp32 for_inference"]

    def forward_all(batch: int, variant: str):
        net, bf16 = nets[variant], variant.startswith("bf16")

        def fn():
            with torch.no_grad(), torch.autocast(device.type, torch.bfloat16, enabled=bf16):
                for s in range(0, n, batch):
                    net(img[s:s + batch], joints[s:s + batch], mask[s:s + batch], bbox[s:s + batch])
        return fn

    print(f"device {device} ({torch.cuda.get_device_name(device) if device.type == 'cuda' else 'CPU'}), "
          f"torch {torch.__version__}, threads {torch.get_num_threads()}, {n} people, median of {args.repeats}")
    settings = [(b, v) for v in nets for b in args.batches]
    seconds = median_seconds({s: forward_all(*s) for s in settings}, args.repeats)
    rate = {s: n / t for s, t in seconds.items()}
    baseline = rate.get((1, "fp32"))
    for (batch, variant), r in rate.items():
        label = f"{variant}, batch {batch}" + (" (official demo: one per forward)" if (batch, variant) == (1, "fp32") else "")
        ratio = f"  x{r / baseline:.2f} vs official loop" if baseline else ""
        print(f"{label:52s} {r:8.2f} crops/s{ratio}")


if __name__ == "__main__":
    main()
