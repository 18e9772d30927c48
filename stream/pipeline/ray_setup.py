"""Starting or joining Ray: the one place in crowdmesh that calls ``ray.init``.

    from stream.pipeline.ray_setup import ray_session

    with ray_session(num_cpus=2) as info:          # embedded Ray that talks only over loopback
        print(info["resources"])
    with ray_session("auto"):                      # join a running cluster ("127.0.0.1:6379", "ray://...")
        ...

    with start_local_cluster(num_nodes=2, cpus_per_node=1) as cluster:   # real `ray start` nodes, for tests
        with ray_session(cluster.address) as info:
            info["nodes"]                      # 2

What the embedded Ray switches off, and why (facts read in Ray 2.60's source):

- Usage stats: every Ray process reads ``RAY_USAGE_STATS_ENABLED`` itself
  (``ray/_common/usage/usage_lib.py``, ``_usage_stats_enabledness``), so it is set in the environment the
  GCS, raylet and dashboard processes are spawned with.
- The cloud-metadata probe: ``include_dashboard=False`` does not stop the dashboard process;
  ``ray/_private/services.py`` ``start_api_server`` still starts ``dashboard/dashboard.py`` with
  ``--modules-to-load=UsageStatsHead``. ``UsageStatsHead.run``
  (``ray/dashboard/modules/usage_stats/usage_stats_head.py``) calls
  ``usage_lib.get_cluster_config_to_report("~/ray_bootstrap_config.yaml")`` before it looks at whether usage
  stats are enabled; when that file is absent (any cluster not made by ``ray up``) it calls
  ``usage_lib.get_cloud_from_metadata_requests``, which GETs http://169.254.169.254/metadata/instance (Azure),
  http://metadata.google.internal/computeMetadata/v1 (GCP, after a DNS lookup) and
  http://169.254.169.254/latest/meta-data/ (AWS) with ``requests``. For clusters made by ``ray start`` with
  usage stats disabled the same module also POSTs a "disabled" report to https://usage-stats.ray.io/
  (``_report_disabled_usage_sync``). Ray has no flag or variable that skips either. The supported switch is
  the one ``requests`` offers: the standard proxy variables. ``http_proxy``/``https_proxy`` point at a closed
  loopback port and ``no_proxy`` lists the loopback names, so those requests fail at once on 127.0.0.1 without
  a DNS lookup, while Ray's own loopback gRPC and HTTP go direct. Workers get the caller's proxy variables
  back through the job's ``runtime_env`` ``env_vars``, so code in tasks downloads as it would outside Ray.
- The node address: ``ray.init(_node_ip_address=...)`` and ``ray start --node-ip-address`` pass the value
  through ``services.resolve_ip_for_localhost``, which replaces "127.0.0.1", "localhost" and "::1" by the
  routable address that ``ray._raylet.node_ip_address_from_perspective`` finds with a UDP ``connect()`` to
  8.8.8.8:53. Any other 127.0.0.0/8 address is kept as given, and Linux puts that whole block on ``lo``,
  hence ``NODE_IP = "127.0.0.2"``.
- ``RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0`` (``ray_constants.ENABLE_RAY_CLUSTER``) makes
  ``services.get_node_ip_address`` answer 127.0.0.1 instead of asking 8.8.8.8; the runtime-env agent calls it
  when it starts. ``ray start --address`` (a worker node joining) refuses to run with it, so in a
  ``start_local_cluster`` each worker node's ``ray start`` and runtime-env agent still make one UDP
  ``connect()`` to 8.8.8.8:53 (a UDP connect sends no packet); the head and the embedded Ray make none.
- The dashboard UI is off (``include_dashboard=False``); the working directory is never shipped (no
  ``working_dir`` in the job's ``runtime_env``); metrics go from each raylet to its own node's agent, on loopback.

``scripts/check_ray_loopback.py`` runs a workload under ``strace -f`` and fails on any IPv4/IPv6 address
outside 127.0.0.0/8 and ::1; ``tests/stream/test_ray_setup.py`` runs it.
"""
from __future__ import annotations

import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

logger = logging.getLogger(__name__)

NODE_IP = "127.0.0.2"
CLOSED_LOOPBACK_PROXY = "http://127.0.0.1:9"  # the discard port: nothing listens there, so requests fail at once
PROXY_VARS = ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY")
_NO_PROXY = f"127.0.0.1,{NODE_IP},localhost,::1"


class PlacementError(RuntimeError):
    """A Ray worker that could not be placed, or that died while starting; the message names what it asked for,
    what the cluster has and the setting that changes it."""


def loopback_env() -> dict[str, str]:
    """Environment variables that keep Ray's own processes on this machine (see the module docstring)."""
    env = {"RAY_USAGE_STATS_ENABLED": "0", "no_proxy": _NO_PROXY, "NO_PROXY": _NO_PROXY}
    env.update({name: CLOSED_LOOPBACK_PROXY for name in PROXY_VARS})
    return env


@contextmanager
def _environ(updates: dict[str, str]) -> Iterator[None]:
    """Set ``updates`` in ``os.environ`` (inherited by processes spawned meanwhile), then restore it."""
    saved = {name: os.environ.get(name) for name in updates}
    os.environ.update(updates)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def init_ray(address: str = "", *, num_cpus: int | None = None, num_gpus: int | None = None,
             log_to_driver: bool = False) -> dict:
    """Start an embedded loopback-only Ray (``address=""``: always a new one, whatever else runs on the
    machine) or join ``address``; returns what Ray sees.

    The result: ``address`` (the GCS address), ``node_ip`` (this driver's node), ``nodes`` (alive nodes) and
    ``resources`` (``ray.cluster_resources()``). ``num_cpus``/``num_gpus`` size the embedded Ray only.
    """
    import ray

    if ray.is_initialized():
        raise RuntimeError("Ray is already initialized in this process; call shutdown_ray() before init_ray().")
    if address and (num_cpus is not None or num_gpus is not None):
        raise ValueError(f"num_cpus={num_cpus}, num_gpus={num_gpus} given while joining {address!r}: "
                         "a running cluster's resources are set where its nodes start; pass neither.")
    if address:
        context = ray.init(address=address, log_to_driver=log_to_driver)
    else:
        workers_env = {name: os.environ.get(name, "") for name in (*PROXY_VARS, "no_proxy", "NO_PROXY")}
        with _environ({**loopback_env(), "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0"}):
            # "local": always a new Ray of our own, never one found through RAY_ADDRESS or the address file a
            # `ray start` left in /tmp/ray (a dead one would be retried for minutes, a live one joined silently)
            context = ray.init(address="local", num_cpus=num_cpus, num_gpus=num_gpus, log_to_driver=log_to_driver,
                               include_dashboard=False, _node_ip_address=NODE_IP,
                               runtime_env={"env_vars": workers_env})
    nodes = [n for n in ray.nodes() if n["Alive"]]
    return {"address": context.address_info["gcs_address"], "node_ip": context.address_info["node_ip_address"],
            "nodes": len(nodes), "resources": ray.cluster_resources()}


def shutdown_ray() -> None:
    """Disconnect from Ray; an embedded Ray's processes stop with it."""
    import ray

    ray.shutdown()


@contextmanager
def ray_session(address: str = "", **kwargs) -> Iterator[dict]:
    """``init_ray(address, **kwargs)`` for the ``with`` block; shuts Ray down however the block ends."""
    info = init_ray(address, **kwargs)
    try:
        yield info
    finally:
        shutdown_ray()


def _free_port() -> int:
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


def _start_node(args: list[str], env: dict[str, str], log: Path, timeout_s: float) -> subprocess.Popen:
    command = [sys.executable, "-m", "ray.scripts.scripts", "start", "--block", *args]  # `ray start`, this Ray
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
                        timeout_s: float = 60.0) -> LocalCluster:
    """Start a head and ``num_nodes - 1`` worker nodes with the ``ray start`` CLI, all on loopback.

    ``gpus``: GPUs each node advertises (head first; missing entries 0). Ray schedules on them as on real
    ones (``ray.get_gpu_ids()``); the work itself runs on whatever torch finds.

    Each node is its own ``ray start --block`` process group (so ``stop()`` ends exactly these processes) with
    free ports, usage stats and the dashboard off and the proxy switch of ``loopback_env()``; the nodes share a
    fresh ``--temp-dir`` so they collide with no other Ray on the machine.
    """
    if num_nodes < 1 or cpus_per_node < 0:
        raise ValueError(f"num_nodes={num_nodes}, cpus_per_node={cpus_per_node}: "
                         "expected num_nodes >= 1 and cpus_per_node >= 0.")
    temp_dir = Path(tempfile.mkdtemp(prefix="rayc", dir="/tmp"))  # short: Ray's socket paths live under it
    # The nodes take this process's RAY_AUTH_MODE, "disabled" where unset, so that this process can join: with
    # the mode unset a head turns token auth on by itself where it finds a token, but a worker node's
    # `ray start` and a `ray.init` given an address do not, and the head refuses them.
    env = {**os.environ, **loopback_env(), "RAY_AUTH_MODE": os.environ.get("RAY_AUTH_MODE", "disabled")}
    common = [f"--node-ip-address={NODE_IP}", f"--num-cpus={cpus_per_node}", "--disable-usage-stats"]
    node_gpus = [*gpus, *[0] * num_nodes][:num_nodes]
    port = _free_port()
    cluster = LocalCluster(address=f"{NODE_IP}:{port}", temp_dir=temp_dir)
    try:
        head = ["--head", f"--port={port}", "--include-dashboard=false", f"--temp-dir={temp_dir}",
                f"--dashboard-agent-listen-port={_free_port()}"]
        head_env = {**env, "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0"}  # a worker node's `ray start` refuses it
        cluster.processes.append(_start_node(head + common + [f"--num-gpus={node_gpus[0]}"], head_env,
                                             temp_dir / "node0.log", timeout_s))
        for i in range(1, num_nodes):
            worker = [f"--address={cluster.address}", f"--dashboard-agent-listen-port={_free_port()}",
                      f"--num-gpus={node_gpus[i]}"]
            cluster.processes.append(_start_node(worker + common, env, temp_dir / f"node{i}.log", timeout_s))
    except BaseException:
        cluster.stop()
        raise
    return cluster
