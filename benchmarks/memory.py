"""Peak memory of a process and of the processes under it (Linux /proc), for the benchmarks.

    with TreeSampler() as sampler:        # samples every 0.2 s in a thread
        run()
    sampler.peak_rss, sampler.peak_pss    # KiB, summed over this process and its descendants
    peak_rss_self_kb()                    # this process's own high-water mark
    proc_tree(pid)                        # pid and every process under it
"""
from __future__ import annotations

import os
import resource
import threading

def proc_tree(root: int) -> list[int]:
    """``root`` and every process under it (their pids, from each process's parent in /proc)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(entry))
    tree, todo = [], [root]
    while todo:
        pid = todo.pop()
        tree.append(pid)
        todo += children.get(pid, [])
    return tree


def _memory_kb(pid: int) -> tuple[int, int]:
    """(RSS, PSS) of one process in KiB; (0, 0) when it is gone."""
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            fields = dict(line.split(":", 1) for line in list(f)[1:] if ":" in line)   # line 1: the address range
        return int(fields["Rss"].split()[0]), int(fields["Pss"].split()[0])
    except (OSError, KeyError, ValueError):
        return 0, 0


class TreeSampler:
    """Peak over time of the summed RSS and PSS of this process and every process under it."""

    def __init__(self, every_s: float = 0.2):
        self.every_s, self.peak_rss, self.peak_pss, self.processes = every_s, 0, 0, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self._stop.is_set():
            tree = proc_tree(os.getpid())
            rss, pss = map(sum, zip(*(_memory_kb(p) for p in tree)))
            self.peak_rss, self.peak_pss = max(self.peak_rss, rss), max(self.peak_pss, pss)
            self.processes = max(self.processes, len(tree))
            self._stop.wait(self.every_s)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


def peak_rss_self_kb() -> int:
    """This process's peak RSS (VmHWM). Not ``ru_maxrss``: Linux carries the parent's high-water mark over
    fork + exec into it, so a child of a big benchmark process would report the parent's peak."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
