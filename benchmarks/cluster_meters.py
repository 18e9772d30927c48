"""What the processes of a loopback Ray cluster and this driver did between two moments (Linux /proc and
``ss``), for ``bench_cluster.py``.

    ports = Ports(gcs=6379, raylets={...}, objects={...})   # from ray.nodes(): NodeManagerPort, ObjectManagerPort
    before = take(roots)             # roots: each node's `ray start` pid, head first; this process is the driver
    ...                              # the run
    after = take(roots)
    tcp_bytes(before, after, ports)  # {"driver: GCS": B, ..., "between nodes: objects": B, ...}
    cpu_seconds(before, after)       # {"driver": s, "node0 workers": s, "node0 ray": s, ..., "machine busy": s}
    driver_figures(before, after)    # {"driver rchar+wchar": B, "driver object-store pages": B, "driver CPU": s}

TCP bytes are the kernel's counters of each established connection (``ss -ti``: bytes_sent, bytes_received), so
they count what gRPC sends with sendmsg/recvmsg, which /proc/<pid>/io's rchar and wchar do not (those count
read/write-family calls only). A connection opened and closed between the two moments is not seen. On loopback
both ends of a cluster connection are here: a connection's bytes are counted once, as received at each end.
A process belongs to node i when it is under node i's ``ray start``; its kind is "workers" (Ray's worker
processes: actors and tasks, titled ``ray::...``) or "ray" (Ray's own: GCS, raylet, agents, monitors).
"""
from __future__ import annotations

import os
import re
import subprocess
import time
from collections import Counter
from dataclasses import dataclass, field

from memory import proc_tree

TICK_S = 1.0 / os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class Ports:
    """The cluster's server ports, which name what a connection is for."""
    gcs: int
    raylets: frozenset = field(default_factory=frozenset)   # each node's NodeManagerPort
    objects: frozenset = field(default_factory=frozenset)   # each node's ObjectManagerPort


@dataclass(frozen=True)
class Snapshot:
    """Read at one moment; this process's own figures as (before, after) the snapshot's reads, which a
    difference of two snapshots leaves out (``driver_figures``)."""
    time: float
    driver_cpu: tuple      # time.process_time() of this process: every thread, Ray's own included
    driver_io: tuple       # rchar + wchar of this process
    plasma_bytes: int      # resident pages of this process's mapping of the node's object store (shared memory)
    busy: float            # seconds the machine's CPUs were busy since boot, summed over CPUs (/proc/stat)
    procs: dict            # pid -> (owner: "node<i>" | "driver", kind: "workers" | "ray", CPU seconds)
    sockets: dict          # (local, peer) -> (pid, bytes sent, bytes received)


def take(roots: list[int]) -> Snapshot:
    cpu, io, now = time.process_time(), _self_io(), time.perf_counter()
    owner = {pid: f"node{i}" for i, root in enumerate(roots) for pid in proc_tree(root)}
    owner[os.getpid()] = "driver"
    procs = {pid: (who, _kind(pid), _cpu_s(pid)) for pid, who in owner.items()}
    sockets, plasma, busy = _sockets(set(owner)), _plasma_bytes(), _machine_busy()
    return Snapshot(now, (cpu, time.process_time()), (io, _self_io()), plasma, busy, procs, sockets)


def read_proc(path: str) -> str:
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return ""


def _cpu_s(pid: int) -> float:
    fields = read_proc(f"/proc/{pid}/stat").rsplit(")", 1)[-1].split()
    return (int(fields[11]) + int(fields[12])) * TICK_S if len(fields) > 12 else 0.0   # utime + stime


def _kind(pid: int) -> str:
    return "workers" if read_proc(f"/proc/{pid}/cmdline").startswith("ray::") else "ray"


def _self_io() -> int:
    io = dict(line.split(": ") for line in read_proc("/proc/self/io").splitlines())
    return int(io["rchar"]) + int(io["wchar"])


def _plasma_bytes() -> int:
    """Resident bytes of this process's mappings of Ray's object store (``/dev/shm/plasma...``): the pages of
    objects it read (or wrote) through shared memory."""
    total, plasma = 0, False
    for line in read_proc("/proc/self/smaps").splitlines():
        head = line.split()
        if head and re.match(r"^[0-9a-f]+-[0-9a-f]+$", head[0]):
            plasma = len(head) > 5 and "plasma" in head[5]
        elif plasma and head and head[0] == "Rss:":
            total += int(head[1]) * 1024
    return total


def _machine_busy() -> float:
    ticks = [int(v) for v in read_proc("/proc/stat").splitlines()[0].split()[1:8]]
    return (sum(ticks) - ticks[3] - ticks[4]) * TICK_S   # all but idle and iowait


def _address(text: str) -> str:
    return text.replace("[::ffff:", "").replace("]", "")   # an IPv4 peer of a dual-stack socket


def _sockets(pids: set[int]) -> dict:
    """(local, peer) -> (pid, bytes sent, bytes received) of the established TCP connections of ``pids``."""
    out = subprocess.run(["ss", "-tinpH", "state", "established"], capture_output=True, text=True,
                         check=True).stdout.splitlines()
    found = {}
    for line, info in zip(out, out[1:]):
        owners = [int(p) for p in re.findall(r"pid=(\d+)", line)]
        if line[:1].isspace() or not owners or owners[0] not in pids:
            continue
        fields = line.split()
        sent, received = (re.search(rf"{name}:(\d+)", info) for name in ("bytes_sent", "bytes_received"))
        found[(_address(fields[2]), _address(fields[3]))] = (
            owners[0], int(sent.group(1)) if sent else 0, int(received.group(1)) if received else 0)
    return found


def _port(address: str) -> int:
    return int(address.rsplit(":", 1)[1])


def _service(ports: Ports, *addresses: str) -> str:
    used = {_port(a) for a in addresses}
    if ports.gcs in used:
        return "GCS"
    if used & ports.objects:
        return "objects"
    return "raylets" if used & ports.raylets else "calls"


def tcp_bytes(before: Snapshot, after: Snapshot, ports: Ports) -> Counter:
    """Bytes over TCP between the moments: "driver: <service>" (sent + received by the driver, by what its peer
    is: GCS, raylets, objects, or calls: actor and task calls to workers) and "between nodes: <service>" (bytes
    over connections whose ends are on different nodes)."""
    owner = {pid: who for pid, (who, _, _) in after.procs.items()}
    pid_at = {key: pid for key, (pid, _, _) in after.sockets.items()}
    out = Counter()
    for (local, peer), (pid, sent, received) in after.sockets.items():
        _, sent0, received0 = before.sockets.get((local, peer), (pid, 0, 0))
        me, other = owner.get(pid), owner.get(pid_at.get((peer, local)))
        if me == "driver":
            out[f"driver: {_service(ports, peer)}"] += sent - sent0 + received - received0
        elif me and other and other not in (me, "driver"):
            out[f"between nodes: {_service(ports, local, peer)}"] += received - received0
    return out


def cpu_seconds(before: Snapshot, after: Snapshot) -> Counter:
    """CPU seconds between the moments: "driver", "node<i> workers", "node<i> ray", and "machine busy" (every
    process on the machine, ours and others'). A process that ended between the moments is missed."""
    out = Counter()
    for pid, (who, kind, seconds) in after.procs.items():
        out[who if who == "driver" else f"{who} {kind}"] += seconds - before.procs.get(pid, (who, kind, 0.0))[2]
    out["machine busy"] = after.busy - before.busy
    return out


def driver_figures(before: Snapshot, after: Snapshot) -> dict:
    return {"wall": after.time - before.time, "driver CPU": after.driver_cpu[0] - before.driver_cpu[1],
            "driver rchar+wchar": after.driver_io[0] - before.driver_io[1],
            "driver object-store pages": after.plasma_bytes - before.plasma_bytes}
