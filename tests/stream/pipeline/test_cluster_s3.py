"""`stream batch` with inputs and stores on an S3-compatible server (moto, on 127.0.0.1) and a two-node loopback
cluster whose nodes get the endpoint and credentials from their environment, as on a real cluster."""
import json
import subprocess
import sys

import fsspec

from ray_cluster import start_local_cluster
from s3_server import s3_bucket, s3_server  # noqa: F401 - fixtures
from store_compare import assert_same_store
from stream_helpers import pipeline_overrides


def test_batch_reads_and_writes_s3_urls_on_a_cluster(s3_bucket, pipeline_clip, reduced_assets, reference_store,
                                                      tmp_path):
    s3 = fsspec.filesystem("s3", skip_instance_cache=True)
    for stem in ("a", "b"):
        s3.put(str(pipeline_clip.video), f"{s3_bucket}/in/{stem}.mp4")
    overrides = [o for o in pipeline_overrides(pipeline_clip, reduced_assets, tmp_path) if not o.startswith(
        ("input=", "output=", "pose2d.poses="))]
    poses = pipeline_clip.detections["coco17"]         # both copies have the clip's detections
    out = f"{s3_bucket}/stores"
    with start_local_cluster(num_nodes=2, cpus_per_node=1) as cluster:   # the nodes inherit AWS_ENDPOINT_URL
        done = subprocess.run([sys.executable, "-m", "stream", "batch", f"{s3_bucket}/in/", *overrides,
                               f"pose2d.poses={poses}", "--out-dir", out, "--address", cluster.address,
                               "--no-progress"], capture_output=True, text=True, timeout=400)
    assert done.returncode == 0, done.stderr[-3000:]
    with fsspec.open(f"{out}/summary.json") as f:
        summary = json.load(f)
    assert summary["counts"]["done"] == 2 and [r["input"] for r in summary["inputs"]] == [
        f"{s3_bucket}/in/a.mp4", f"{s3_bucket}/in/b.mp4"]
    for stem in ("a", "b"):
        assert_same_store(reference_store, f"{out}/{stem}.zarr")
    assert not any(p.endswith(".partial") for p in s3.find(out))
