"""``MeshBatcher``: the crops of many calls (frames of one or many videos) in shared forward passes.

In order, from one caller (the local runner, the benchmark)::

    batcher = MeshBatcher(stage, max_batch=32)
    for frame, people in frames:
        for frame, rows in batcher.add(frame, stage.crops(frame.index, frame.bgr, people, camera)):
            store(frame, rows)                 # the calls whose pass has run, in call order
    for frame, rows in batcher.flush():
        store(frame, rows)

From concurrent asyncio tasks (Ray's ``MeshWorker``: many actor calls at once)::

    batcher = MeshBatcher(stage, max_batch=32, max_wait_s=0.005, executor=ThreadPoolExecutor(1))
    rows = await batcher.rows(crops)          # this call's rows, once a pass with it has run

A pass takes whole calls in arrival order while they fit in ``max_batch`` crops; a call that would go over
starts the next pass, and a call of more than ``max_batch`` crops goes alone (``MeshStage`` cuts it into
``max_batch`` forward passes). In order, a pass runs when the next call would not fit, or at ``flush``; from
tasks, when it is full or its oldest call has waited ``max_wait_s``, on ``executor`` (a thread, so that the
event loop goes on taking and cropping calls meanwhile).
"""
from __future__ import annotations

import asyncio
import time

from stream.mesh.stage import concat_rows, split_rows


class MeshBatcher:
    """Gathers crops (``MeshStage.crops``, one or more frames a call) into ``MeshStage`` calls: see the module
    docstring. The in-order methods (``add``/``flush``) and the concurrent one (``rows``) are not mixed."""

    def __init__(self, stage, max_batch: int, max_wait_s: float = 0.0, executor=None):
        if max_batch < 1:
            raise ValueError(f"max_batch = {max_batch!r}: expected a number of crops >= 1 (model.max_batch)")
        self.stage, self.max_batch, self.max_wait_s, self.executor = stage, max_batch, max_wait_s, executor
        self._pending: list[tuple[object, dict]] = []
        self._queued = 0          # crops in _pending
        self._queue: asyncio.Queue | None = None

    def run(self, calls: list[dict]) -> list[dict]:
        """One ``stage`` call on the crops of ``calls`` -> each call's rows, in order."""
        return split_rows(self.stage(concat_rows(calls)), [_count(c) for c in calls])

    def _fits(self, count: int, crops: dict) -> bool:
        return count == 0 or count + _count(crops) <= self.max_batch

    # -- in order -----------------------------------------------------------------------------------
    def add(self, key, crops: dict) -> list[tuple[object, dict]]:
        """Queue a call (``key``: anything the caller needs back) -> the ``(key, rows)`` of the calls whose pass
        ran now: the queued ones when this call would take them past ``max_batch``, and this one when full."""
        done = [] if self._fits(self._queued, crops) else self.flush()
        self._pending.append((key, crops))
        self._queued += _count(crops)
        if self._queued >= self.max_batch:
            done += self.flush()
        return done

    def flush(self) -> list[tuple[object, dict]]:
        """Run the queued calls -> their ``(key, rows)``."""
        if not self._pending:
            return []
        keys, calls = zip(*self._pending)
        self._pending, self._queued = [], 0
        return list(zip(keys, self.run(list(calls))))

    # -- concurrent ---------------------------------------------------------------------------------
    async def rows(self, crops: dict) -> dict:
        """This call's rows once a pass with it has run (a call without crops returns at once)."""
        if not _count(crops):
            return self.stage(crops)
        loop = asyncio.get_running_loop()
        if self._queue is None:
            self._queue = asyncio.Queue()
            loop.create_task(self._serve())
        done = loop.create_future()
        await self._queue.put((time.monotonic(), crops, done))
        return await done

    async def _serve(self) -> None:
        """Forever: gather queued calls into a pass (full, or the first waited ``max_wait_s``) and run it."""
        loop = asyncio.get_running_loop()
        carry = None     # a call that would have taken the last pass past max_batch: first in the next one
        while True:
            group = [carry or await self._queue.get()]
            carry = None
            count, deadline = _count(group[0][1]), group[0][0] + self.max_wait_s
            while count < self.max_batch:
                try:
                    item = await asyncio.wait_for(self._queue.get(), max(deadline - time.monotonic(), 0))
                except asyncio.TimeoutError:
                    break
                if not self._fits(count, item[1]):
                    carry = item
                    break
                group.append(item)
                count += _count(item[1])
            try:
                rows = await loop.run_in_executor(self.executor, self.run, [crops for _, crops, _ in group])
                for (_, _, done), r in zip(group, rows):
                    done.set_result(r)
            except Exception as err:  # every waiting call fails with it (Ray reports it to the driver)
                for _, _, done in group:
                    done.set_exception(err)


def _count(crops: dict) -> int:
    return len(crops["track_id"])
