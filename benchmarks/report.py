"""A benchmark report made of sections, each run on its own, printed as tables and written as JSON.

    record = run_section(fn, device, *args)   # fn(device, *args) -> {name: value or list of row dicts}
    print_section("mesh", record)             # a header (status, seconds, peak GPU memory), then the tables
    json.dumps(report, default=plain)         # numpy scalars as Python numbers

A failing section is recorded (error and traceback, logged) rather than raised, so the next one still runs;
each record has its wall time and, on CUDA, the peak allocated GPU memory.
"""
from __future__ import annotations

import logging
import time
import traceback

import numpy as np
import torch

log = logging.getLogger(__name__)


def run_section(fn, device: torch.device, *args) -> dict:
    cuda = device.type == "cuda"
    if cuda:
        torch.cuda.synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
    start = time.perf_counter()
    record = {"error": None, "traceback": None, "results": None}
    try:
        record["results"] = fn(device, *args)
    except Exception as err:  # noqa: BLE001 - any failure is recorded and the other sections still run
        log.exception("section %s failed", fn.__name__)
        record.update(error=f"{type(err).__name__}: {err}", traceback=traceback.format_exc()[-4000:])
    if cuda:
        torch.cuda.synchronize(device)
    record["seconds"] = time.perf_counter() - start
    record["peak_gpu_memory_mib"] = torch.cuda.max_memory_allocated(device) / 2**20 if cuda else None
    return record


def fmt(value) -> str:
    if isinstance(value, (float, np.floating)):
        return f"{value:,.1f}" if abs(value) >= 100 else f"{value:.3g}"
    return str(value)


def print_section(name: str, record: dict) -> None:
    mem = record["peak_gpu_memory_mib"]
    status = "ok" if record["error"] is None else f"FAILED: {record['error']}"
    print(f"\n== {name}: {status} ({record['seconds']:.1f} s" + (f", peak GPU {mem:,.0f} MiB)" if mem else ")"))
    for key, value in (record["results"] or {}).items():
        if not (isinstance(value, list) and value and isinstance(value[0], dict)):
            print(f"  {key}: {fmt(value)}")
            continue
        print(f"  {key}:")
        columns = list(value[0])
        cells = [[fmt(row.get(c)) for c in columns] for row in value]
        widths = [max(len(c), *(len(r[i]) for r in cells)) for i, c in enumerate(columns)]
        for line in [columns, *cells]:
            print("    " + "  ".join(v.rjust(w) for v, w in zip(line, widths)))


def plain(value):
    """numpy scalars to Python numbers for json."""
    return value.item() if isinstance(value, np.generic) else str(value)
