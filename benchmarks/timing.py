"""Timing shared by the benchmarks: one warm-up, then rounds that interleave the settings."""
import statistics
import time

import torch


def sync():
    if torch.cuda.is_available():
        torch.cuda.synchronize()


def timed(fn) -> float:
    """Seconds of one call."""
    sync()
    start = time.perf_counter()
    fn()
    sync()
    return time.perf_counter() - start


def median_seconds(runs: dict, repeats: int) -> dict:
    """{setting: fn} -> {setting: median seconds over ``repeats`` rounds}, after one warm-up call each.

    Each round runs every setting once, so drift on a shared machine hits all settings alike.
    """
    for fn in runs.values():
        fn()
    seconds = {key: [] for key in runs}
    for _ in range(repeats):
        for key, fn in runs.items():
            seconds[key].append(timed(fn))
    return {key: statistics.median(t) for key, t in seconds.items()}
