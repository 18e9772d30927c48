"""Progress bars on stderr (rich), one kind for every command: label, bar, count, note, time left.

    with progress_bar("poses", total=len(source), enabled=progress) as advance:
        advance(8)                                          # 8 more frames done
    with progress_bar("rtmo-l.pth", total=size, unit="bytes", completed=start) as advance:
        advance(len(chunk))                                 # bytes, with the transfer speed
    with process_progress(total=len(source), enabled=True) as advance:
        advance(frames=8, people=31)                        # note: frames/s and people/s since the start

Disabled bars yield a function that does nothing; ``total`` None is an unknown length (live input).
"""
from __future__ import annotations

import time
from contextlib import contextmanager

UNITS = ("items", "bytes")


@contextmanager
def progress_bar(label: str, total: int | None, *, enabled: bool = True, unit: str = "items", completed: int = 0):
    """Yields ``advance(n, note=None)``: ``n`` more done, and the text after the count replaced by ``note``.

    ``unit`` "items" shows done/total, "bytes" the sizes and the transfer speed; ``completed`` is where the bar
    starts (a resumed download).
    """
    if unit not in UNITS:
        raise ValueError(f"progress unit {unit!r}: expected one of {', '.join(UNITS)}")
    if not enabled:
        yield lambda n, note=None: None
        return
    from rich.console import Console
    from rich.progress import (BarColumn, DownloadColumn, MofNCompleteColumn, Progress, TextColumn,
                               TimeRemainingColumn, TransferSpeedColumn)
    count = (DownloadColumn(), TransferSpeedColumn()) if unit == "bytes" else (MofNCompleteColumn(),)
    columns = (TextColumn("{task.description}"), BarColumn(), *count, TextColumn("{task.fields[note]}"),
               TimeRemainingColumn())
    with Progress(*columns, console=Console(stderr=True)) as bar:
        task = bar.add_task(label, total=total, completed=completed, note="")

        def advance(n: int, note: str | None = None) -> None:
            bar.update(task, advance=n, **({} if note is None else {"note": note}))
        advance.progress, advance.task = bar, task     # for callers that change the total or the label
        yield advance


@contextmanager
def process_progress(total: int | None, enabled: bool = True, label: str = "process"):
    """``stream process``/``batch``: yields ``advance(frames, people)``; the note shows frames/s and people/s."""
    with progress_bar(label, total, enabled=enabled) as bar:
        yield _counter(bar)


def _counter(bar):
    """``advance(frames, people)`` of ``bar``: the frames advance it, the note shows frames/s and people/s."""
    start, counts = time.perf_counter(), {"frames": 0, "people": 0}

    def advance(frames: int, people: int) -> None:
        counts["frames"] += frames
        counts["people"] += people
        seconds = max(time.perf_counter() - start, 1e-9)
        bar(frames, f"{counts['frames'] / seconds:.1f} frames/s {counts['people'] / seconds:.1f} people/s")
    return advance


@contextmanager
def batch_progress(videos: int, enabled: bool = True):
    """``stream batch``: one bar over the frames of every video, labelled with the videos done.

    Yields ``(advance(frames, people), status(state))``; ``state``: ``videos``, ``done``, ``failed`` and
    ``totals`` (each started video's frame count, None if unknown). The bar's total counts the videos not
    started yet at the mean length of those known, so the time left covers the whole batch.
    """
    with progress_bar(f"batch 0/{videos} videos", None, enabled=enabled) as bar:
        if not enabled:
            yield (lambda frames, people: None), (lambda state: None)
            return
        task, rich = bar.task, bar.progress

        def status(state: dict) -> None:
            known = [t for t in state["totals"].values() if t]
            unknown = state["videos"] - len(known)
            total = sum(known) + (unknown * sum(known) / len(known) if known else 0)
            failed = f", {state['failed']} failed" if state["failed"] else ""
            rich.update(task, total=total or None,
                        description=f"batch {state['done']}/{state['videos']} videos{failed}")
        yield _counter(bar), status
