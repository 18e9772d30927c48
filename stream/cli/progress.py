"""A progress bar for ``stream process`` on stderr: frames done of the total, frames/s, people/s and ETA.

    with process_progress(total=len(source), enabled=True) as advance:
        advance(frames=8, people=31)          # after each group of stored frames
"""
from __future__ import annotations

import time
from contextlib import contextmanager


@contextmanager
def process_progress(total: int | None, enabled: bool = True, label: str = "process"):
    """Yields ``advance(frames, people)``; a no-op when disabled. ``total`` None = unknown (live input)."""
    if not enabled:
        yield lambda frames, people: None
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
    start, counts = time.perf_counter(), {"frames": 0, "people": 0}
    columns = (TextColumn(label), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[rates]}"),
               TimeRemainingColumn())
    with Progress(*columns, console=Console(stderr=True)) as bar:
        task = bar.add_task(label, total=total, rates="")

        def advance(frames: int, people: int) -> None:
            counts["frames"] += frames
            counts["people"] += people
            seconds = max(time.perf_counter() - start, 1e-9)
            bar.update(task, advance=frames, rates=f"{counts['frames'] / seconds:.1f} frames/s "
                                                   f"{counts['people'] / seconds:.1f} people/s")
        yield advance
