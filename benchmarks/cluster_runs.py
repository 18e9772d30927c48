"""Driver runs on a loopback cluster, each measured with ``cluster_meters``, for ``bench_cluster.py``.

    with ClusterSession(nodes=2, cores=("0", "1")) as session:   # start_local_cluster + ray_session
        session.idle_rates(5.0)            # TCP bytes/s by category while nothing runs
        session.calibrate()                # known transfers and what each measure saw of them
        run = session.run(cfgs)            # one Driver run: figures of the driver, the nodes, the placement
    session.left_behind()                  # pids of the cluster's processes still alive after it stopped

A run is measured from just before its ``Driver`` is made to the driver's last poll (every result in, its actors
still alive: the driver kills them after). The driver is given a status callback, which makes it poll its
progress board as it does under ``stream batch``'s progress bar; each poll records the driver's CPU time, its Ray
calls and the videos that have ended. "after start-up" covers the end from the first poll at which every node has
stored frames: every node's workers and video runners are at work (the driver starts them node after node).
"""
from __future__ import annotations

import statistics
import time
from contextlib import ExitStack

import numpy as np

from cluster_meters import Ports, Snapshot, cpu_seconds, driver_figures, read_proc, take, tcp_bytes
from memory import proc_tree


def _ones(n: int) -> np.ndarray:
    return np.ones(n, np.uint8)


def _total(x: np.ndarray) -> int:
    return int(x.sum())


class ClusterSession:
    """A loopback cluster of ``nodes`` nodes (``--num-cpus=1``, node i on core list ``cores[i]``) joined by this
    process. Token authentication must be set up (``ray_cluster.token_auth_env``) before Ray starts here."""

    def __init__(self, nodes: int, cores: tuple[str, ...]):
        self.nodes, self.cores = nodes, tuple(cores[:nodes])
        self.seen: dict[int, str] = {}     # every cluster process a snapshot saw -> its start time

    def __enter__(self) -> ClusterSession:
        import ray
        from ray_cluster import start_local_cluster
        from stream.pipeline.ray_setup import ray_session
        with ExitStack() as stack:
            self.cluster = stack.enter_context(start_local_cluster(self.nodes, 1, cpu_sets=self.cores))
            stack.enter_context(ray_session(self.cluster.address))
            alive = [n for n in ray.nodes() if n["Alive"]]
            self.roots = [p.pid for p in self.cluster.processes]
            self.ports = Ports(gcs=int(self.cluster.address.rsplit(":", 1)[1]),
                               raylets=frozenset(n["NodeManagerPort"] for n in alive),
                               objects=frozenset(n["ObjectManagerPort"] for n in alive))
            self._stack = stack.pop_all()
        return self

    def __exit__(self, *exc) -> None:
        self._stack.close()    # leave Ray, then stop the nodes

    def take(self) -> Snapshot:
        snap = take(self.roots)
        self.seen.update({pid: _started(pid) for pid, (who, _, _) in snap.procs.items()
                          if who != "driver" and pid not in self.seen})
        return snap

    def cpus_allowed(self) -> dict:
        """node -> the CPU lists its processes may run on (taskset's pinning, inherited by Ray's workers)."""
        out = {}
        for i, root in enumerate(self.roots):
            lists = set()
            for pid in proc_tree(root):
                status = read_proc(f"/proc/{pid}/status")
                lists |= {line.split(":")[1].strip() for line in status.splitlines()
                          if line.startswith("Cpus_allowed_list:")}
            out[f"node{i}"] = " ".join(sorted(lists))
        return out

    def left_behind(self, wait_s: float = 15.0) -> list[int]:
        """The cluster's processes still running ``wait_s`` after it stopped (a worker outlives its raylet by a
        moment); a pid now used by another process does not count."""
        deadline = time.monotonic() + wait_s
        while True:
            alive = sorted(pid for pid, started in self.seen.items() if started and _started(pid) == started)
            if not alive or time.monotonic() > deadline:
                return alive
            time.sleep(0.5)

    def idle_rates(self, seconds: float) -> dict:
        before = self.take()
        time.sleep(seconds)
        after = self.take()
        return {k: v / (after.time - before.time) for k, v in tcp_bytes(before, after, self.ports).items()}

    def calibrate(self) -> list[dict]:
        """10 MB made on node1 and read by a task on node0; the same read by the driver; a 90 kB task result
        (under Ray's 100 KiB inline limit) returned to the driver."""
        import ray
        from stream.pipeline.ray_pools import on_node
        ones, total = ray.remote(num_cpus=0)(_ones), ray.remote(num_cpus=0)(_total)
        head = ray.get_runtime_context().get_node_id()
        other = next(n["NodeID"] for n in ray.nodes() if n["Alive"] and n["NodeID"] != head)
        big = ones.options(scheduling_strategy=on_node(other)).remote(10_000_000)
        ray.wait([big], fetch_local=False)   # by default ray.wait would pull it to the driver's node already
        moves = {"10 MB made on node1, read by a task on node0": lambda: ray.get(
                     total.options(scheduling_strategy=on_node(head)).remote(big)),
                 "the same 10 MB read by the driver (ray.get, sum)": lambda: int(ray.get(big).sum()),
                 "a 90 kB task result on node1 returned to the driver": lambda: ray.get(
                     ones.options(scheduling_strategy=on_node(other)).remote(90_000)).size}
        rows = []
        for what, move in moves.items():
            before = self.take()
            move()
            after = self.take()
            tcp, fig = tcp_bytes(before, after, self.ports), driver_figures(before, after)
            rows.append({"transfer": what, "between nodes: objects": tcp["between nodes: objects"],
                         "driver TCP": sum(v for k, v in tcp.items() if k.startswith("driver")),
                         "driver rchar+wchar": fig["driver rchar+wchar"],
                         "driver object-store pages": fig["driver object-store pages"]})
        return rows

    def run(self, cfgs: list) -> dict:
        driver, polls, ends, marks = _traced_driver(cfgs), [], {}, {}
        before = self.take()

        def status(state: dict) -> None:
            now = time.perf_counter()
            polls.append((now, time.process_time(), driver.calls, state["done"], state["running"]))
            ends.update({k: now for k, r in enumerate(driver.results) if r is not None and k not in ends})
            stored = {n: 0 for n in driver.where.values()}
            for key, node in driver.where.items():
                stored[node] += driver.seen.get(key, (0, 0))[0]
            if "first" not in marks and all(stored.values()):   # every node's workers and runners are at work
                marks["first"], marks["stored"] = self.take(), sum(stored.values())
            if state["done"] == state["videos"]:
                marks["after"], marks["cpus"] = self.take(), self.cpus_allowed()

        results = driver.run(None, status)
        failed = [r for r in results if isinstance(r, BaseException)]
        if failed:
            raise RuntimeError(f"{len(failed)} of {len(results)} videos failed; the first: {failed[0]!r}")
        first, after, frames = marks.get("first", marks["after"]), marks["after"], sum(r.processed for r in results)
        skip = next((i for i, p in enumerate(polls) if p[0] >= first.time), 0)   # the snapshot's poll interval
        quiet = [(b[1] - a[1], b[2] - a[2]) for i, (a, b) in enumerate(zip(polls, polls[1:]))
                 if a[3:] == b[3:] and i != skip - 1]
        mean = (lambda values: statistics.mean(values) if len(values) > 2 else float("nan"))
        nodes = by_node(driver.where, driver.pools.workers, after, results, ends, before.time)
        fig = driver_figures(before, after)     # less the snapshot taken in the driver mid-run
        if first is not after:
            fig["driver CPU"] -= first.driver_cpu[1] - first.driver_cpu[0]
            fig["driver rchar+wchar"] -= first.driver_io[1] - first.driver_io[0]
        return {"videos": len(cfgs), "frames": frames, "calls": driver.calls, "polls": len(polls),
                "polls/s": (len(polls) - 1) / (polls[-1][0] - polls[0][0]), "poll_cpu": mean([c for c, _ in quiet]),
                "poll_calls": mean([n for _, n in quiet]), "fps": sum(n["busy f/s"] for n in nodes["nodes"].values()),
                **nodes, **fig, "tcp": tcp_bytes(before, after, self.ports), "cpu": cpu_seconds(before, after),
                "after start-up": {"frames": frames - marks.get("stored", frames), "wall": after.time - first.time,
                                   "cpu": cpu_seconds(first, after)}, "cpus allowed": marks["cpus"]}


def _started(pid: int) -> str:
    """When the process started (clock ticks after boot; "" when gone)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return ""


def _traced_driver(cfgs: list):
    """A ``Driver`` that also keeps the node each input was sent to (``where``: input -> node id)."""
    from stream.pipeline.ray_driver import Driver

    class TracedDriver(Driver):
        def _assign(self) -> None:
            super()._assign()
            self.where.update({job.key: node for job, node, _ in self.active.values()})

    driver = TracedDriver(cfgs, resume=False, force=False, overwrite=True)
    driver.where = {}
    return driver


def by_node(where: dict, workers: list, after: Snapshot, results: list, ends: dict, began: float) -> dict:
    """Per node ("node<i>": the process tree its workers are in): frames, busy f/s (its frames over the span from
    its first video's start to its last video's end, each video's start being the poll that saw it end less the
    runner's own ``RunSummary.seconds``: the node's rate once its workers are up, as the driver starts them node
    after node), when its first video began (s after the run began). ``placement_ok``: each node that ran videos
    has pose and mesh workers whose processes are all under that node (each worker's own report of its node and
    pid, checked against the process snapshot), and no two nodes share a process tree."""
    owner = {pid: who for pid, (who, _, _) in after.procs.items()}
    groups = {}
    for w in workers:
        groups.setdefault(w["node"], []).append((w["kind"], owner.get(w["pid"])))
    name = {node: kinds[0][1] for node, kinds in groups.items()}
    nodes = {}
    for node in set(where.values()):
        keys = [k for k, n in where.items() if n == node]
        starts = [ends[k] - results[k].seconds for k in keys]
        frames = sum(results[k].processed for k in keys)
        nodes[str(name.get(node))] = {"frames": frames, "busy f/s": frames / (max(ends[k] for k in keys) - min(starts)),
                                      "first video began s": min(starts) - began}
    ok = all(name.get(node) is not None and {k for k, _ in groups[node]} >= {"pose", "mesh"}
             and {o for _, o in groups[node]} == {name[node]} for node in set(where.values()))
    return {"nodes": nodes, "placement_ok": ok and len(set(name.values())) == len(name)}
