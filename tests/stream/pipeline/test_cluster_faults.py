"""`stream batch` and `stream process` on loopback clusters of real `ray start` nodes (token authentication on):
a broken input among good ones, a killed video runner, a lost node, Ctrl-C on the driver, a node that does not see
the output folder. Every finished store equals the uninterrupted local run's."""
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import ray

from ray_cluster import find_processes, ray_processes, raylet_pid, start_local_cluster
from store_compare import assert_same_store
from stream_helpers import pipeline_overrides
from stream.pipeline.ray_driver import run_many
from stream.pipeline.ray_setup import ray_session
from stream.pipeline.video_runner import Job, SharedStorageError, VideoRunner
from stream.store import open_store

FAST_NODE_DEATH = {"RAY_health_check_initial_delay_ms": "0", "RAY_health_check_period_ms": "500",
                   "RAY_health_check_timeout_ms": "500", "RAY_health_check_failure_threshold": "3"}


def _clips(clip, folder: Path, stems) -> list[str]:
    """Copies of the test clip, each with its own poses file ``<stem>.json`` (pose2d.poses={stem})."""
    for stem in stems:
        shutil.copy(clip.video, folder / f"{stem}.mp4")
        shutil.copy(clip.detections["coco17"], folder / f"{stem}.json")
    return [str(folder / f"{stem}.mp4") for stem in stems]


def _batch_args(clip, assets, folder: Path, inputs, out: Path, *extra) -> list[str]:
    overrides = [o for o in pipeline_overrides(clip, assets, out) if not o.startswith(("input=", "output=",
                                                                                       "pose2d.poses="))]
    return [sys.executable, "-m", "stream", "batch", *inputs, *overrides, f"pose2d.poses={folder}/{{stem}}.json",
            "--out-dir", str(out), "--no-progress", *extra]


def test_batch_isolates_a_broken_input_writes_a_summary_and_skips_complete_stores(
        ray_cluster, pipeline_clip, reduced_assets, reference_store, tmp_path):
    _clips(pipeline_clip, tmp_path, ["a", "b", "c"])
    (tmp_path / "broken.mp4").write_bytes(os.urandom(4096))
    (tmp_path / "list.txt").write_text("a.mp4\nb.mp4\n# c comes from the glob\nbroken.mp4\n")
    out = tmp_path / "out"
    args = _batch_args(pipeline_clip, reduced_assets, tmp_path, ["@" + str(tmp_path / "list.txt"),
                       str(tmp_path / "[c].mp4")], out, "--address", ray_cluster)
    done = subprocess.run(args, capture_output=True, text=True, timeout=400)
    assert done.returncode == 2, done.stderr[-3000:]
    assert "failed: " + str(tmp_path / "broken.mp4") in done.stderr
    summary = json.loads((out / "summary.json").read_text())
    rows = {Path(r["input"]).stem: r for r in summary["inputs"]}
    assert summary["counts"] == {"done": 3, "skipped": 0, "failed": 1, "interrupted": 0}
    assert "broken.mp4" in rows["broken"]["error"] and rows["broken"]["status"] == "failed"
    for stem in "abc":
        assert rows[stem]["status"] == "done" and rows[stem]["frames"] == 36 and rows[stem]["tracks"] > 0
        assert_same_store(reference_store, out / f"{stem}.zarr")
    again = subprocess.run(_batch_args(pipeline_clip, reduced_assets, tmp_path, [str(tmp_path / "*.mp4")], out,
                                       "--address", ray_cluster), capture_output=True, text=True, timeout=400)
    assert again.returncode == 2, again.stderr[-3000:]
    rows = json.loads((out / "summary.json").read_text())["inputs"]
    assert [r["status"] for r in rows] == ["skipped", "skipped", "failed", "skipped"], rows   # a, b, broken, c


def _kill_when(stored: int, kill):
    """A progress callback that calls ``kill()`` once ``stored`` frames are in the stores."""
    state = {"frames": 0, "killed": False}

    def progress(frames, people):
        state["frames"] += frames
        if state["frames"] >= stored and not state["killed"]:
            state["killed"] = True
            kill()
    return progress, state


def _video_runner_pids() -> list[int]:
    return find_processes(lambda pid, cmd: cmd.startswith(b"ray::VideoRunner"))


def test_killed_video_runner_resumes_its_video(ray_cluster, pipeline_config, reference_store, tmp_path):
    cfg = pipeline_config("ray.max_frames_in_flight=4", "model.max_batch=4")
    progress, state = _kill_when(10, lambda: [os.kill(pid, signal.SIGKILL) for pid in _video_runner_pids()])
    with ray_session(ray_cluster):
        [result] = run_many([cfg], progress=progress)
    assert state["killed"] and not isinstance(result, BaseException), result
    assert result.attempts == 2 and result.frames == 36 and result.processed < 36   # the rest was kept
    assert_same_store(reference_store, result.store)


def test_lost_node_costs_time_not_frames(pipeline_config, pipeline_clip, reference_store, tmp_path):
    """Two videos on two nodes (one each); the worker node's raylet is killed: both stores are complete and
    equal the uninterrupted run, the lost node's video having started again on the head."""
    cfgs = [pipeline_config(f"output={tmp_path / stem}.zarr", "ray.max_inputs=1", "ray.max_frames_in_flight=4",
                            "model.max_batch=4") for stem in ("first", "second")]
    with start_local_cluster(num_nodes=2, cpus_per_node=1, env=FAST_NODE_DEATH) as cluster:
        progress, state = _kill_when(12, lambda: os.kill(raylet_pid(cluster.processes[1]), signal.SIGKILL))
        with ray_session(cluster.address):
            results = run_many(cfgs, progress=progress)
            alive = sum(n["Alive"] for n in ray.nodes())
    assert state["killed"] and alive == 1, (state, alive)
    for result in results:
        assert not isinstance(result, BaseException), result
        assert result.frames == 36
        assert_same_store(reference_store, result.store)
    assert sorted(r.attempts for r in results) == [1, 2], [r.attempts for r in results]


def test_ctrl_c_stops_within_10_s_and_resume_completes(pipeline_clip, reduced_assets, reference_store, tmp_path):
    """SIGINT to `stream process` alone (embedded Ray): it ends within 10 s, exit 130, the store at a durable
    frame, no Ray process left; `--resume` completes it to the uninterrupted result."""
    out = tmp_path / "interrupted.zarr"
    args = [sys.executable, "-m", "stream", "process", str(pipeline_clip.video),
            *pipeline_overrides(pipeline_clip, reduced_assets, out)[1:], "ray.max_frames_in_flight=4",
            "model.max_batch=4", "--no-progress"]
    before = ray_processes()
    driver = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 180
    while driver.poll() is None and time.monotonic() < deadline:
        if (out / "tracks" / "zarr.json").exists():
            with open_store(out) as store:
                if store.frames_done >= 8:
                    break
        time.sleep(0.05)
    assert driver.poll() is None, driver.communicate()
    os.kill(driver.pid, signal.SIGINT)
    sent = time.monotonic()
    stdout, stderr = driver.communicate(timeout=60)
    assert time.monotonic() - sent < 10, stderr[-2000:]
    assert driver.returncode == 130 and "--resume" in stderr, stderr[-2000:]
    with open_store(out) as store:
        assert 8 <= store.frames_done < 36 and not store.complete
    time.sleep(1)
    assert ray_processes() <= before
    resumed = subprocess.run([*args, "--resume"], capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert_same_store(reference_store, out)


def test_a_node_that_does_not_see_the_output_folder_is_refused(pipeline_config, tmp_path):
    cfg = pipeline_config()
    job = Job(0, cfg, marker=str(tmp_path / ".crowdmesh-marker"))    # the driver's file is not here
    error = VideoRunner(board=None).run(job, [], [])
    assert isinstance(error, SharedStorageError)
    assert "shared filesystem" in str(error) and "s3://" in str(error) and str(tmp_path) in str(error)
    assert not Path(cfg.output).exists()
