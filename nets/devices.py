"""Where and in what precision a network runs: the one place that turns "auto" into a device or a dtype.

    device = resolve_device("auto")              # cuda where torch sees a GPU, else cpu
    precision = resolve_precision("auto", device)   # "bf16" on CUDA, "fp32" on CPU
    with autocast(device, precision):            # a no-op for "fp32": the fp32 path is untouched
        out = model(x)

Precisions are "fp32", "bf16" and "fp16" (torch autocast; bf16 also runs on CPU). fp16 autocast on CPU
is refused: it is slow and not what a GPU would compute, so it measures nothing useful.
"""
from __future__ import annotations

import contextlib

import torch

__all__ = ["DTYPES", "PRECISIONS", "autocast", "resolve_device", "resolve_precision"]

DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}
PRECISIONS = ("auto", "fp32", *DTYPES)


def resolve_device(name: str | torch.device = "auto") -> torch.device:
    """"auto" -> cuda when torch sees a GPU, else cpu; any other name as torch spells it ("cuda:1")."""
    if str(name) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def resolve_precision(name: str, device: str | torch.device) -> str:
    """"auto" -> "bf16" on CUDA, "fp32" elsewhere; others checked against ``PRECISIONS`` and the device."""
    device = torch.device(device)
    if name not in PRECISIONS:
        raise ValueError(f"precision {name!r}: expected one of {', '.join(PRECISIONS)}")
    if name == "auto":
        return "bf16" if device.type == "cuda" else "fp32"
    if name == "fp16" and device.type != "cuda":
        raise ValueError(f"precision 'fp16' on {device}: fp16 autocast needs CUDA; use bf16 or fp32 on CPU")
    return name


def autocast(device: str | torch.device, precision: str):
    """Autocast context for ``precision`` on ``device``'s type; nothing at all for "fp32"."""
    if precision == "fp32":
        return contextlib.nullcontext()
    return torch.autocast(torch.device(device).type, dtype=DTYPES[precision])
