"""``stream process`` on Ray: a real two-node cluster on loopback (``ray start`` processes), the same store as
the plain run, a killed mesh worker, a killed driver and ``--resume``."""
import os
import signal
import subprocess
import sys
import time

import pytest
import ray

from stream_helpers import pipeline_overrides
from store_compare import assert_same_store
from stream.pipeline.ray_driver import run_ray
from stream.pipeline.ray_setup import ray_session
from stream.store import open_store


@pytest.fixture(scope="module")
def joined(ray_cluster):
    """This test process joined to the loopback cluster as a Ray driver."""
    with ray_session(ray_cluster) as info:
        yield info


def test_ray_run_equals_the_plain_run(joined, pipeline_config, reference_store):
    assert joined["nodes"] == 2
    summary = run_ray(pipeline_config("model.max_wait_ms=5"))
    assert summary.frames == summary.processed == 36
    assert_same_store(reference_store, summary.store)


def test_killed_mesh_worker_loses_and_repeats_nothing(joined, pipeline_config, reference_store):
    killed = []

    def kill_once(frames, people, seen=[0]):
        seen[0] += frames
        if seen[0] >= 6 and not killed:
            names = [n["name"] if isinstance(n, dict) else n for n in ray.util.list_named_actors(all_namespaces=True)]
            name = next(n for n in names if n.startswith("crowdmesh-mesh-"))
            pid = ray.get(ray.get_actor(name).pid.remote())
            os.kill(pid, signal.SIGKILL)          # the worker process dies; its calls are retried on a restart
            killed.append(pid)
    cfg = pipeline_config("ray.max_frames_in_flight=4", "model.max_batch=4")
    summary = run_ray(cfg, progress=kill_once)
    assert killed
    assert summary.frames == summary.processed == 36
    assert_same_store(reference_store, summary.store)


def test_killed_driver_then_resume_equals_the_uninterrupted_run(ray_cluster, joined, pipeline_clip,
                                                                 reduced_assets, reference_store, tmp_path):
    out = tmp_path / "killed.zarr"
    args = [sys.executable, "-m", "stream", "process", str(pipeline_clip.video),
            *pipeline_overrides(pipeline_clip, reduced_assets, out)[1:], "ray.max_frames_in_flight=2",
            "model.max_batch=2", "--address", ray_cluster, "--no-progress"]
    driver = subprocess.Popen(args, start_new_session=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    done = 0
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and driver.poll() is None:
        if (out / "tracks" / "zarr.json").exists():   # the store is made (its last group is there)
            with open_store(out) as store:
                done = store.frames_done
            if done >= 8:
                break
        time.sleep(0.02)
    assert driver.poll() is None, driver.communicate()[0].decode()[-2000:]
    os.killpg(driver.pid, signal.SIGKILL)
    driver.wait()
    with open_store(out) as store:
        assert 8 <= store.frames_done < 36 and not store.complete
    resumed = subprocess.run([*args[:-3], "--resume", "--address", ray_cluster, "--no-progress"],
                             capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert_same_store(reference_store, out)
    with open_store(out) as store:
        assert len(store.attrs["resumes"]) == 1 and store.attrs["resumes"][0]["frames_done"] >= done


def test_batch_of_inputs_on_shared_pools(joined, pipeline_config, pipeline_clip, reference_store, tmp_path):
    """`stream batch`: two inputs at once (each with its own poses file) give the reference store each."""
    import dataclasses
    import shutil

    from stream.pipeline.ray_driver import run_many

    cfgs = []
    for stem in ("first", "second"):
        shutil.copy(pipeline_clip.video, tmp_path / f"{stem}.mp4")
        shutil.copy(pipeline_clip.detections["coco17"], tmp_path / f"{stem}.json")
        cfg = pipeline_config(f"input={tmp_path / stem}.mp4", f"output={tmp_path / stem}.zarr",
                              f"pose2d.poses={tmp_path / stem}.json")
        cfgs.append(cfg)
    missing = dataclasses.replace(cfgs[0], input=str(tmp_path / "missing.mp4"), output=str(tmp_path / "m.zarr"))
    *results, failed = run_many([*cfgs, missing])      # a bad input fails alone
    assert isinstance(failed, FileNotFoundError) and "missing.mp4" in str(failed)
    for result in results:
        assert not isinstance(result, BaseException), result
        assert result.frames == 36
        assert_same_store(reference_store, result.store)
