"""The Ray runner on GPU resources: Ray advertises GPUs that this machine does not have, so placement and
scheduling run for real while the models run on the CPU. One and two GPUs on one node, a two-node loopback
cluster with one GPU node, requests that cannot be placed or workers that die while starting."""
import os
import subprocess
import sys
import time

import pytest
import ray

from stream_helpers import interrupt_after, pipeline_overrides
from store_compare import assert_same_store
from stream.config import load_pipeline_config
from stream.pipeline.local import run_local
from stream.pipeline.ray_driver import run_ray
from ray_cluster import free_port, start_local_cluster
from stream.pipeline.ray_setup import NODE_IP, PlacementError, ray_session
from stream.store import open_store


@pytest.fixture(scope="module")
def rtmo_setup(rtmo_checkpoint, reduced_assets, tmp_path_factory):
    """``make(output, *overrides)`` -> config of a 6-frame clip with the default backend (RTMO, fixture weights:
    random, so it finds ~20 random "people" a frame) and the CPU-only local run's store as the reference."""
    from nets.synth import CrowdConfig
    from stream.demo.synth import write_synthetic_clip

    folder = tmp_path_factory.mktemp("rtmo_gpu")
    clip = write_synthetic_clip(folder, CrowdConfig(people=4, frames=6, width=320, height=240, seed=5))
    rtmo = ["pose2d.backend=rtmo", f"pose2d.checkpoint={rtmo_checkpoint('rtmo-s_crowdpose')}", "pose2d.device=cpu"]

    def make(output, *overrides):
        return load_pipeline_config(None, [*pipeline_overrides(clip, reduced_assets, output), *rtmo, *overrides])
    reference = run_local(make(folder / "reference.zarr")).store
    return make, reference


# RTMO run with another number of torch threads (a 1-CPU node) rounds differently: keypoints up to 0.003 px apart
RTMO_TOL = dict(atol=1e-4, pixel_atol=0.01)


def _by_kind(summary, kind: str) -> list[dict]:
    return [w for w in summary.workers if w["kind"] == kind]


def test_stream_process_on_one_gpu(rtmo_setup, mixed_cluster, tmp_path):
    """`stream process` as on a one-GPU machine (ray.num_gpus=1: the embedded Ray offers one GPU) with the
    default backend: one GPU worker runs RTMO and 3DCrowdNet, the store equals the CPU-only run, and a live
    cluster named by RAY_ADDRESS is not joined."""
    make, reference = rtmo_setup
    cfg = make(tmp_path / "one.zarr")
    p = cfg.pose2d
    args = [sys.executable, "-m", "stream", "process", cfg.input, "--out", cfg.output, "--no-progress",
            f"pose2d.checkpoint={p.checkpoint}", "pose2d.device=cpu", f"model.checkpoint={cfg.model.checkpoint}",
            f"body.smpl={cfg.body.smpl}", f"body.joint_regressor_extra={cfg.body.joint_regressor_extra}",
            f"model.max_batch={cfg.model.max_batch}", "model.device=cpu", "ray.num_gpus=1"]
    done = subprocess.run(args, capture_output=True, text=True, timeout=300,
                          env={**os.environ, "RAY_ADDRESS": mixed_cluster})
    assert done.returncode == 0, done.stderr[-3000:]
    assert "workers: 1 mesh (GPU 0; cpu) on 1 node(s)" in done.stdout, done.stdout
    assert_same_store(reference, cfg.output, **RTMO_TOL)


@pytest.fixture(scope="module")
def mixed_cluster():
    """Two `ray start` nodes on loopback, 1 CPU each; only the second advertises a GPU."""
    with start_local_cluster(num_nodes=2, cpus_per_node=1, gpus=(0, 1)) as cluster:
        yield cluster.address


def test_cluster_with_one_gpu_node(mixed_cluster, rtmo_setup, tmp_path):
    make, reference = rtmo_setup
    with ray_session(mixed_cluster) as info:
        assert info["nodes"] == 2 and info["resources"]["GPU"] == 1
        gpu_node = next(n["NodeID"] for n in ray.nodes() if n["Alive"] and n["Resources"].get("GPU"))
        summary = run_ray(make(tmp_path / "mixed.zarr"))
    assert summary.frames == summary.processed == 6
    assert_same_store(reference, summary.store, **RTMO_TOL)
    [mesh] = _by_kind(summary, "mesh")
    assert mesh["node"] == gpu_node and mesh["gpu_ids"] == ["0"]


@pytest.fixture(scope="module")
def two_gpus():
    """An embedded Ray with 2 CPUs and 2 advertised GPUs (RAY_ADDRESS names a dead address: not tried)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("RAY_ADDRESS", f"{NODE_IP}:{free_port()}")
        started = time.monotonic()
        with ray_session(num_cpus=2, num_gpus=2) as info:
            assert time.monotonic() - started < 60 and info["nodes"] == 1
            yield info


def test_two_gpus_each_worker_its_own(two_gpus, pipeline_config, reference_store):
    summary = run_ray(pipeline_config("model.max_wait_ms=5"))
    assert summary.frames == summary.processed == 36
    assert_same_store(reference_store, summary.store)
    meshes = _by_kind(summary, "mesh")
    assert sorted(g for w in meshes for g in w["gpu_ids"]) == ["0", "1"]     # one GPU each, distinct
    [poses] = _by_kind(summary, "pose")          # precomputed poses: a worker that holds nothing
    assert poses["gpu_ids"] == []


def test_impossible_request_fails_at_once_naming_the_resources(two_gpus, pipeline_config, tmp_path):
    started = time.monotonic()
    with pytest.raises(PlacementError, match=r"3 mesh worker.*1 GPU.*node 127.0.0.2 has 2 CPU, 2 GPU.*ray.num_mesh_workers"):
        run_ray(pipeline_config("ray.num_mesh_workers=3"))
    assert time.monotonic() - started < 30
    assert not (tmp_path / "out.zarr").exists()


def test_unplaceable_worker_fails_within_the_timeout(two_gpus, pipeline_config, tmp_path):
    """Both GPUs held by someone else: the run stops after ray.placement_timeout_s, saying so."""
    from ray.util.placement_group import placement_group, remove_placement_group

    holder = placement_group([{"GPU": 2}])
    ray.get(holder.ready())
    try:
        started = time.monotonic()
        with pytest.raises(PlacementError, match=r"not placed or not started within 3 s.*placement_timeout_s.*"
                                                 r"free now: .*0 GPU"):
            run_ray(pipeline_config("ray.placement_timeout_s=3"))
        assert time.monotonic() - started < 30
    finally:
        remove_placement_group(holder)
    assert not (tmp_path / "out.zarr").exists()


def test_worker_dying_at_start_reaches_the_user_and_the_store_resumes(two_gpus, pipeline_config, reference_store):
    """A mesh worker whose device cannot start (CUDA asked for, no driver: this machine) fails the run with
    torch's own reason; a store interrupted earlier is left as it was and resumes to the full result."""
    cfg = pipeline_config()
    interrupt_after(cfg, 12)
    with open_store(cfg.output) as store:
        done = store.frames_done
    assert 0 < done < 36
    with pytest.raises(PlacementError, match=r"mesh worker died while starting: .*(CUDA|cuda)"):
        run_ray(pipeline_config("model.device=cuda:99"), resume=True)
    with open_store(cfg.output) as store:
        assert store.frames_done == done and not store.complete
    assert run_ray(cfg, resume=True).frames == 36
    assert_same_store(reference_store, cfg.output)
