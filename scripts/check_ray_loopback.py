"""Prove that Ray started by ``stream.pipeline.ray_setup`` talks only over loopback.

Runs a workload under ``strace -f`` (every forked and spawned process: GCS, raylet, dashboard, agents,
workers), collects each IPv4/IPv6 address given to connect/sendto/sendmsg/sendmmsg and fails when one lies
outside 127.0.0.0/8 and ::1 (IPv4-mapped forms included). Unix and netlink sockets are not network traffic
and are ignored.

    python3 scripts/check_ray_loopback.py                         # init_ray(), tasks, an actor, shutdown
    python3 scripts/check_ray_loopback.py --probe                 # only Ray's cloud-metadata probe
    python3 scripts/check_ray_loopback.py --probe --no-switches   # negative control: expected to fail

``--no-switches`` leaves out what ``stream.pipeline.ray_setup`` adds for the probe (the proxy variables of
``loopback_env()``; for the full workload also ``RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0``), keeping usage stats
off, the dashboard off and the loopback node address. The last line printed is a JSON summary. Exit status:
0 loopback only, 1 a non-loopback address (or the workload failed), 2 strace missing.
"""
from __future__ import annotations

import argparse
import ipaddress
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

SYSCALLS = "connect,sendto,sendmsg,sendmmsg"
_INET4 = re.compile(r'sa_family=AF_INET, sin_port=htons\((\d+)\), sin_addr=inet_addr\("([^"]+)"\)')
_INET6 = re.compile(r'sa_family=AF_INET6, sin6_port=htons\((\d+)\).*?inet_pton\(AF_INET6, "([^"]+)"')


def inet_destinations(trace: str) -> Counter:
    """``strace -f`` text -> Counter of "address:port" for every AF_INET/AF_INET6 socket address in it.

    A line that names an inet family but whose address cannot be read counts as "unparsed: <line>", so a
    format this parser does not know fails the check instead of passing it.
    """
    found = Counter()
    for line in trace.splitlines():
        if "sa_family=AF_INET" not in line:
            continue
        hits = [f"{a}:{p}" for p, a in _INET4.findall(line)] + [f"[{a}]:{p}" for p, a in _INET6.findall(line)]
        found.update(hits or [f"unparsed: {line.strip()}"])
    return found


def is_loopback(destination: str) -> bool:
    """``"127.0.0.2:80"``, ``"[::1]:80"`` or ``"[::ffff:127.0.0.1]:80"`` -> True; anything else -> False."""
    host = destination.rsplit(":", 1)[0].strip("[]")
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return False
    mapped = getattr(ip, "ipv4_mapped", None)
    return (mapped or ip).is_loopback


def _probe(switches: bool) -> None:
    from stream.pipeline.ray_setup import PROXY_VARS, loopback_env

    for name in (*PROXY_VARS, "no_proxy", "NO_PROXY"):
        os.environ.pop(name, None)  # the probe goes where it would on a machine without a proxy
    if switches:
        os.environ.update(loopback_env())  # what the dashboard process inherits from init_ray()
    from ray._common.usage.usage_lib import get_cloud_from_metadata_requests

    print("cloud detected by Ray's probe:", get_cloud_from_metadata_requests())


def _workload(switches: bool) -> None:
    import ray

    from stream.pipeline.ray_setup import NODE_IP, init_ray, shutdown_ray

    if switches:
        print("init_ray ->", init_ray(num_cpus=1))
    else:
        os.environ["RAY_USAGE_STATS_ENABLED"] = "0"
        ray.init(num_cpus=1, include_dashboard=False, _node_ip_address=NODE_IP)

    @ray.remote
    def square(x):
        return x * x

    @ray.remote
    class Counter_:
        def __init__(self):
            self.total = 0

        def add(self, x):
            self.total += x
            return self.total

    counter = Counter_.remote()
    squares = ray.get([square.remote(i) for i in range(4)])
    totals = ray.get([counter.add.remote(s) for s in squares])
    print("squares", squares, "running totals", totals)
    # The dashboard's usage-stats module probes right after it starts; wait until it says it has run, so a
    # fast workload cannot end before the probe would have happened. (Private path: this is a check script.)
    log = Path(ray._private.worker.global_worker.node.get_logs_dir_path()) / "dashboard.log"
    deadline = time.monotonic() + 30
    while "Usage reporting is" not in (log.read_text(errors="replace") if log.exists() else ""):
        if time.monotonic() > deadline:
            raise TimeoutError(f"{log} never reported that the usage-stats module ran")
        time.sleep(0.2)
    shutdown_ray()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--probe", action="store_true", help="run only Ray's cloud-metadata probe")
    parser.add_argument("--no-switches", action="store_true", help="negative control: leave the switches out")
    parser.add_argument("--trace", type=Path, help="keep the strace output here")
    parser.add_argument("--timeout", type=float, default=180.0, help="seconds before the workload is killed")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        (_probe if args.probe else _workload)(switches=not args.no_switches)
        return 0

    strace = shutil.which("strace")
    if strace is None:
        print("strace not found: install it (Debian/Ubuntu: apt-get install -y strace)", file=sys.stderr)
        return 2
    trace = args.trace or Path(tempfile.mkdtemp(prefix="loopback")) / "strace.txt"
    child = [sys.executable, __file__, "--child"] + ["--probe"] * args.probe + ["--no-switches"] * args.no_switches
    repo_path = [str(Path(__file__).resolve().parents[1])] + os.environ.get("PYTHONPATH", "").split(os.pathsep)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in repo_path if p)}  # `stream` from this checkout
    command = [strace, "-f", "-qq", "-s", "0", "-e", f"trace={SYSCALLS}", "-o", str(trace), *child]
    try:
        returncode = subprocess.run(command, env=env, timeout=args.timeout).returncode
    except subprocess.TimeoutExpired:
        returncode = -1
        print(f"workload still running after {args.timeout:.0f} s; killed", file=sys.stderr)
    destinations = inet_destinations(trace.read_text(errors="replace"))
    outside = {d: n for d, n in destinations.items() if not is_loopback(d)}
    summary = {"workload_exit": returncode, "inet_calls": sum(destinations.values()),
               "loopback_calls": sum(n for d, n in destinations.items() if is_loopback(d)),
               "non_loopback": outside, "trace": str(trace)}
    print(json.dumps(summary))
    return 0 if returncode == 0 and not outside else 1


if __name__ == "__main__":
    sys.exit(main())
