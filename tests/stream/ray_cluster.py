"""A Ray cluster of real ``ray start`` nodes on loopback, for tests (``stream`` itself never starts one).

    with start_local_cluster(num_nodes=2, cpus_per_node=1) as cluster:
        with ray_session(cluster.address) as info:
            info["nodes"]                      # 2

Each node is its own ``ray start --block`` process group with the switches of
``stream.pipeline.ray_setup.loopback_env`` (docs/ray.md says why a joining worker node still makes one UDP
``connect()`` to 8.8.8.8:53, which sends no packet).
"""
from __future__ import annotations

import logging
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from stream.pipeline.ray_setup import NODE_IP, loopback_env

logger = logging.getLogger(__name__)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class LocalCluster:
    """Ray nodes started by ``ray start --block`` on loopback; ``stop()`` ends every process they started."""

    address: str
    temp_dir: Path
    processes: list[subprocess.Popen] = field(default_factory=list)

    def stop(self, timeout_s: float = 30.0) -> None:
        """SIGTERM each ``ray start`` (it stops its node's processes), newest node first; then SIGKILL what is
        left in each node's process group."""
        for proc in reversed(self.processes):
            proc.terminate()
            try:
                proc.wait(timeout_s)
            except subprocess.TimeoutExpired:
                logger.warning("ray start (pid %d) still running %.0f s after SIGTERM; killing it", proc.pid,
                               timeout_s)
            _kill_group(proc)
        self.processes.clear()
        shutil.rmtree(self.temp_dir, ignore_errors=True)

    def __enter__(self) -> LocalCluster:
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


def _kill_group(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)  # start_new_session=True made the pid its group's id
    except ProcessLookupError:
        pass
    proc.wait()


def _die_with_parent() -> None:
    """In the child before exec (Linux): SIGTERM when the process that started the node dies, so a killed
    test run does not leave a cluster behind (``ray start --block`` shuts its node down on SIGTERM)."""
    if sys.platform.startswith("linux"):
        import ctypes
        ctypes.CDLL(None).prctl(1, signal.SIGTERM)   # PR_SET_PDEATHSIG = 1


def token_auth_env() -> dict[str, str]:
    """Token authentication, as the README's cluster steps set it up: the nodes and every driver share
    ``RAY_AUTH_MODE=token`` and one ``RAY_AUTH_TOKEN``. Set in this process's environment (once, then kept) so
    that this process and the processes it starts can join; a process's Ray reads its token once."""
    if os.environ.get("RAY_AUTH_MODE") != "token" or not os.environ.get("RAY_AUTH_TOKEN"):
        os.environ.update(RAY_AUTH_MODE="token", RAY_AUTH_TOKEN=secrets.token_hex(32))
    return {name: os.environ[name] for name in ("RAY_AUTH_MODE", "RAY_AUTH_TOKEN")}


def _start_node(args: list[str], env: dict[str, str], log: Path, timeout_s: float,
                cpu_set: str | None = None) -> subprocess.Popen:
    command = [sys.executable, "-m", "ray.scripts.scripts", "start", "--block", *args]  # `ray start`, this Ray
    if cpu_set is not None:
        command = ["taskset", "-c", cpu_set, *command]   # taskset execs the command: same pid, same group
    with open(log, "wb") as out:
        proc = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True,
                                preexec_fn=_die_with_parent)
    deadline = time.monotonic() + timeout_s
    while b"Ray runtime started" not in log.read_bytes():
        if proc.poll() is not None or time.monotonic() > deadline:
            _kill_group(proc)
            raise RuntimeError(f"`ray start {' '.join(args)}` did not start within {timeout_s:.0f} s "
                               f"(exit code {proc.returncode}); its output:\n{log.read_text(errors='replace')}")
        time.sleep(0.2)
    return proc


def start_local_cluster(num_nodes: int = 2, cpus_per_node: int = 1, *, gpus: tuple[int, ...] = (),
                        timeout_s: float = 60.0, env: dict[str, str] | None = None,
                        cpu_sets: tuple[str, ...] | None = None) -> LocalCluster:
    """Start a head and ``num_nodes - 1`` worker nodes with the ``ray start`` CLI, all on loopback.

    ``env``: more environment variables for the nodes (e.g. Ray system settings ``RAY_<name>``).
    ``gpus``: GPUs each node advertises (head first; missing entries 0). Ray schedules on them as on real
    ones (``ray.get_gpu_ids()``); the work itself runs on whatever torch finds.
    ``cpu_sets``: per node (head first), the cores its processes may run on, as ``taskset -c`` takes them
    (``("0", "1")``: a core each); None = any core.

    Each node is its own ``ray start --block`` process group (so ``stop()`` ends exactly these processes) with
    free ports, usage stats and the dashboard off and the proxy switch of ``loopback_env()``; the nodes share a
    fresh ``--temp-dir`` so they collide with no other Ray on the machine.
    """
    if num_nodes < 1 or cpus_per_node < 0:
        raise ValueError(f"num_nodes={num_nodes}, cpus_per_node={cpus_per_node}: "
                         "expected num_nodes >= 1 and cpus_per_node >= 0.")
    if cpu_sets is not None and len(cpu_sets) != num_nodes:
        raise ValueError(f"cpu_sets={cpu_sets!r}: expected one core list per node ({num_nodes}), e.g. "
                         f"{tuple(str(i) for i in range(num_nodes))!r}, or None for any core.")
    sets = list(cpu_sets) if cpu_sets is not None else [None] * num_nodes
    temp_dir = Path(tempfile.mkdtemp(prefix="rayc", dir="/tmp"))  # short: Ray's socket paths live under it
    env = {**os.environ, **loopback_env(), **token_auth_env(), **(env or {})}
    common = [f"--node-ip-address={NODE_IP}", f"--num-cpus={cpus_per_node}", "--disable-usage-stats"]
    node_gpus = [*gpus, *[0] * num_nodes][:num_nodes]
    port = free_port()
    cluster = LocalCluster(address=f"{NODE_IP}:{port}", temp_dir=temp_dir)
    try:
        head = ["--head", f"--port={port}", "--include-dashboard=false", f"--temp-dir={temp_dir}",
                f"--dashboard-agent-listen-port={free_port()}"]
        head_env = {**env, "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0"}  # a worker node's `ray start` refuses it
        cluster.processes.append(_start_node(head + common + [f"--num-gpus={node_gpus[0]}"], head_env,
                                             temp_dir / "node0.log", timeout_s, sets[0]))
        for i in range(1, num_nodes):
            worker = [f"--address={cluster.address}", f"--dashboard-agent-listen-port={free_port()}",
                      f"--num-gpus={node_gpus[i]}"]
            cluster.processes.append(_start_node(worker + common, env, temp_dir / f"node{i}.log", timeout_s,
                                                 sets[i]))
    except BaseException:
        cluster.stop()
        raise
    return cluster


def find_processes(match) -> list[int]:
    """Pids of this machine's processes whose command line (bytes, arguments separated by NUL) ``match(pid,
    cmdline)`` accepts."""
    pids = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            pid = int(cmdline.parent.name)
            if match(pid, cmdline.read_bytes()):
                pids.append(pid)
        except (OSError, ValueError):    # a process that ended meanwhile
            pass
    return pids


def raylet_pid(node: subprocess.Popen) -> int:
    """The raylet process of a node started by ``start_local_cluster`` (a process of the node's group)."""
    found = find_processes(lambda pid, cmd: cmd.split(b"\0")[0].endswith(b"/raylet") and os.getpgid(pid) == node.pid)
    if not found:
        raise LookupError(f"no raylet in the process group of `ray start` pid {node.pid}")
    return found[0]


def ray_processes() -> set[int]:
    """Every Ray raylet and GCS server process on the machine."""
    return set(find_processes(lambda pid, cmd: cmd.split(b"\0")[0].endswith((b"/raylet", b"/gcs_server"))))
