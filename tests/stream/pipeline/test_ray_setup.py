"""stream.pipeline.ray_setup: the embedded Ray stays on loopback (proved under strace) and a real two-node cluster runs.

The strace proofs need /usr/bin/strace (Debian/Ubuntu: ``apt-get install -y strace``); without it they fail
and say so rather than pass unproved.
"""
import importlib.util
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from ray_cluster import find_processes, start_local_cluster
from stream.pipeline.ray_setup import init_ray, ray_session

SCRIPT = Path(__file__).resolve().parents[3] / "scripts" / "check_ray_loopback.py"


def _check_module():
    spec = importlib.util.spec_from_file_location("check_ray_loopback", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run_check(tmp_path: Path, *args: str) -> tuple[int, dict]:
    """Run scripts/check_ray_loopback.py, trace kept in ``tmp_path``; returns its exit status and JSON summary."""
    if shutil.which("strace") is None:
        pytest.fail("strace is not installed, and the loopback proof traces Ray's processes with it: "
                    "apt-get install -y strace")
    command = [sys.executable, str(SCRIPT), "--trace", str(tmp_path / "strace.txt"), *args]
    proc = subprocess.run(command, capture_output=True, text=True, timeout=300)
    lines = proc.stdout.strip().splitlines()
    assert lines, f"check_ray_loopback.py printed nothing; stderr:\n{proc.stderr}"
    return proc.returncode, json.loads(lines[-1])


def test_parser_keeps_loopback_and_flags_everything_else():
    check = _check_module()
    trace = "\n".join([
        '7 connect(6, {sa_family=AF_INET, sin_port=htons(53), sin_addr=inet_addr("8.8.8.8")}, 16) = 0',
        '7 connect(7, {sa_family=AF_INET, sin_port=htons(36849), sin_addr=inet_addr("127.0.0.2")}, 16) = 0',
        '8 connect(7, {sa_family=AF_INET6, sin6_port=htons(80), sin6_flowinfo=htonl(0), '
        'inet_pton(AF_INET6, "::ffff:127.0.0.2", &sin6_addr), sin6_scope_id=0}, 28) = -1 EINPROGRESS',
        '8 connect(9, {sa_family=AF_INET6, sin6_port=htons(443), sin6_flowinfo=htonl(0), '
        'inet_pton(AF_INET6, "2001:db8::1", &sin6_addr), sin6_scope_id=0}, 28) = -1 ENETUNREACH',
        '9 sendto(5, ""..., 40, 0, {sa_family=AF_INET, sin_port=htons(53), sin_addr=inet_addr("10.0.0.53")}, 16)',
        '9 connect(3, {sa_family=AF_UNIX, sun_path="/tmp/ray/session/sockets/raylet"}, 110) = 0',
        '9 sendmsg(4, {msg_name={sa_family=AF_NETLINK, nl_pid=0, nl_groups=00000000}, msg_namelen=12}, 0) = 20',
        '9 connect(8, {sa_family=AF_INET, sin_port=htons(80), <unknown form>}, 16) = 0',
    ])
    destinations = check.inet_destinations(trace)
    outside = sorted(d for d in destinations if not check.is_loopback(d))
    assert sum(destinations.values()) == 6
    assert outside[:3] == ["10.0.0.53:53", "8.8.8.8:53", "[2001:db8::1]:443"]
    assert outside[3].startswith("unparsed: ")


def test_metadata_probe_is_caught_without_the_switches(tmp_path):
    returncode, summary = run_check(tmp_path, "--probe", "--no-switches")
    assert returncode == 1
    assert "169.254.169.254:80" in summary["non_loopback"]


def test_metadata_probe_goes_to_a_closed_loopback_port_with_the_switches(tmp_path):
    returncode, summary = run_check(tmp_path, "--probe")
    assert (returncode, summary["non_loopback"]) == (0, {})
    assert summary["loopback_calls"] >= 1  # the probe's requests went to the loopback proxy address


def test_embedded_ray_workload_connects_only_over_loopback(tmp_path):
    returncode, summary = run_check(tmp_path)
    assert (returncode, summary["non_loopback"]) == (0, {})
    assert summary["loopback_calls"] > 10  # GCS, raylet and worker traffic was seen, so the trace is real


def test_init_ray_refuses_resources_when_joining_a_cluster():
    with pytest.raises(ValueError, match="num_cpus=1"):
        init_ray("127.0.0.1:6379", num_cpus=1)


def _processes_under(path: Path) -> list[int]:
    return find_processes(lambda pid, cmd: str(path).encode() in cmd)


def test_local_cluster_runs_a_task_on_each_of_two_nodes():
    import ray
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    @ray.remote(num_cpus=1)
    def node_of_task():
        return ray.get_runtime_context().get_node_id()

    with start_local_cluster(num_nodes=2, cpus_per_node=1) as cluster:
        with ray_session(cluster.address) as info:
            node_ids = sorted(n["NodeID"] for n in ray.nodes() if n["Alive"])
            pinned = [node_of_task.options(scheduling_strategy=NodeAffinitySchedulingStrategy(i, soft=False))
                      for i in node_ids]
            ran_on = sorted(ray.get([task.remote() for task in pinned]))
        assert (info["nodes"], info["resources"]["CPU"], info["node_ip"]) == (2, 2.0, "127.0.0.2")
        assert ran_on == node_ids
    assert _processes_under(cluster.temp_dir) == []
