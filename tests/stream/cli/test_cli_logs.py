"""What a real ``stream process`` prints: crowdmesh's lines on the terminal, Ray's in ``$CROWDMESH_HOME/logs/ray.log``
and with ``-v`` on stderr too (stream.cli.logs, stream.pipeline.ray_setup); a checkpoint that is no checkpoint is
named as such, on Ray and without."""
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from stream_helpers import pipeline_overrides
from stream.store import open_store

RAY_LINES = ("Started a local Ray instance", "Token authentication", "(raylet)", "ray::", "Traceback")


def stream_process(clip, assets, out: Path, home: Path, *args: str, verbose: bool = False):
    command = [sys.executable, "-m", "stream", *(["-v"] if verbose else []), "process", str(clip.video),
               *pipeline_overrides(clip, assets, out)[1:], "--no-progress", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=300,
                          env={**os.environ, "CROWDMESH_HOME": str(home)})


@pytest.mark.parametrize("verbose", [False, True])
def test_ray_lines_go_to_the_log_file_and_with_v_to_stderr(pipeline_clip, reduced_assets, tmp_path, verbose):
    done = stream_process(pipeline_clip, reduced_assets, tmp_path / "out.zarr", tmp_path / "home", verbose=verbose)
    assert done.returncode == 0, done.stderr[-3000:]
    assert re.match(r"36 frames \(36 processed now\)", done.stdout)
    assert open_store(tmp_path / "out.zarr").frames_done == 36
    log = (tmp_path / "home" / "logs" / "ray.log").read_text()
    assert "INFO ray._private.worker: Started a local Ray instance." in log
    assert not any(line in done.stdout for line in RAY_LINES)
    if verbose:
        assert "INFO ray: Started a local Ray instance." in done.stderr
        session_logs = re.search(r"the logs of its processes on this node: (\S+)", done.stderr).group(1)
        assert Path(session_logs).is_dir() and any(Path(session_logs).glob("raylet*"))
    else:
        assert not any(line in done.stderr for line in RAY_LINES), done.stderr
        assert all(line.startswith(("INFO ", "WARNING ")) for line in done.stderr.splitlines()), done.stderr


@pytest.mark.parametrize("ray", [True, False])
def test_a_file_that_is_no_checkpoint_is_named_and_exits_2(pipeline_clip, reduced_assets, tmp_path, ray):
    bad = tmp_path / "snapshot_6.pth.tar"
    bad.write_bytes(np.random.default_rng(0).bytes(100_000))
    done = stream_process(pipeline_clip, reduced_assets, tmp_path / "out.zarr", tmp_path / "home",
                          f"model.checkpoint={bad}", *([] if ray else ["--no-ray"]))
    assert done.returncode == 2, done.stderr[-3000:]
    error = done.stderr.splitlines()[-1]
    assert error.startswith("error: ") and f"{bad} is not a 3DCrowdNet checkpoint" in error
    assert "snapshot_*.pth.tar" in error and "checkpoint crowdmesh wrote" in error
    assert "weights_only" not in done.stdout + done.stderr
    assert not any(line in done.stdout + done.stderr for line in RAY_LINES), done.stdout + done.stderr
