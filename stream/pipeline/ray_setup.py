"""Starting or joining Ray: the one place in crowdmesh that calls ``ray.init``.

    from stream.pipeline.ray_setup import ray_session

    with ray_session(num_cpus=2) as info:          # embedded Ray that talks only over loopback
        print(info["resources"])
    with ray_session("auto"):                      # join a running cluster ("127.0.0.1:6379", "ray://...")
        ...

The embedded Ray talks only over loopback (usage stats off, the dashboard's cloud-metadata probe sent to a closed
loopback port, the node on 127.0.0.2) and is always a new one. Ray's lines on the driver (its logger ``ray``
and the crash reports its raylets send) go into the logging tree under ``ray``, for the application to
route (``stream`` writes them to a file, ``-v`` shows them). Why each setting is needed, as read in Ray's
source: docs/ray.md.
"""
from __future__ import annotations

import logging
import os
from contextlib import contextmanager
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
    """Environment variables that keep Ray's own processes on this machine (docs/ray.md says why)."""
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


def _log_raylet_report(data: dict, *args, **kwargs) -> None:
    """Stands in for Ray's ``print_to_stdstream``: each report of Ray's error channel goes to the logger
    ``ray.raylet`` instead of stdout."""
    for line in data.get("lines", []):
        logging.getLogger("ray.raylet").warning("(%s) %s", data.get("pid", "ray"), line)


def route_ray_lines() -> None:
    """Send Ray's lines on this driver into the logging tree, under the logger ``ray`` (docs/ray.md).

    ``import ray`` gives that logger a stderr handler of its own and stops it from propagating; both are undone.
    Reports of Ray's error channel (a worker that died, an actor whose creation failed), which Ray prints to
    stdout, are logged on ``ray.raylet``. Safe to call again."""
    import ray._private.worker as ray_worker

    ray_logger = logging.getLogger("ray")
    for handler in list(ray_logger.handlers):
        ray_logger.removeHandler(handler)
    ray_logger.propagate = True
    if hasattr(ray_worker, "print_to_stdstream"):
        ray_worker.print_to_stdstream = _log_raylet_report
    else:
        logger.debug("this Ray has no ray._private.worker.print_to_stdstream; its error reports go to stdout")


def init_ray(address: str = "", *, num_cpus: int | None = None, num_gpus: int | None = None,
             log_to_driver: bool = False) -> dict:
    """Start an embedded loopback-only Ray (``address=""``: always a new one, whatever else runs on the
    machine) or join ``address``; returns what Ray sees.

    The result: ``address`` (the GCS address), ``node_ip`` (this driver's node), ``nodes`` (alive nodes),
    ``resources`` (``ray.cluster_resources()``) and ``logs`` (the folder of this node's Ray process logs).
    ``num_cpus``/``num_gpus`` size the embedded Ray only. Ray's lines go to the logger ``ray``
    (``route_ray_lines``).
    """
    import ray

    route_ray_lines()
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
    session = context.address_info.get("session_dir")
    logs = Path(session) / "logs" if session else None
    logger.debug("Ray at %s; the logs of its processes on this node: %s", context.address_info["gcs_address"], logs)
    return {"address": context.address_info["gcs_address"], "node_ip": context.address_info["node_ip_address"],
            "nodes": len(nodes), "resources": ray.cluster_resources(), "logs": logs}


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
