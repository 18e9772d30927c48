"""Timing shared by the benchmarks: one warm-up, then rounds that interleave the settings; progress marks of a run."""
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


class Progress:
    """``progress(frames, people)`` callback of ``run_local`` / ``run_ray`` that keeps when each pass was stored."""

    def __init__(self):
        self.marks: list[tuple[float, int, int]] = []

    def __call__(self, frames: int, people: int) -> None:
        self.marks.append((time.perf_counter(), frames, people))

    def first(self, start: float) -> float:
        """Seconds from ``start`` to the first stored pass (model loading, actors, the first pass)."""
        return self.marks[0][0] - start if self.marks else float("nan")

    def steady(self) -> tuple[float, float]:
        """(frames/s, crops/s) between the first and the last callback (nan with fewer than two)."""
        if len(self.marks) < 2:
            return float("nan"), float("nan")
        span = self.marks[-1][0] - self.marks[0][0]
        return (sum(m[1] for m in self.marks[1:]) / span, sum(m[2] for m in self.marks[1:]) / span)
