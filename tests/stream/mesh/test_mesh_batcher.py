"""stream.mesh.batcher.MeshBatcher: whole calls in passes of at most max_batch crops, in order or from concurrent
tasks, each call answered with its own rows."""
import asyncio
from types import SimpleNamespace

import numpy as np
import pytest

from stream_helpers import pipeline_overrides
from stream.mesh.batcher import MeshBatcher


class Recording:
    """The real mesh stage, noting the crops of each call it gets."""

    def __init__(self, stage):
        self.stage, self.sizes = stage, []

    def __call__(self, crops):
        self.sizes.append(len(crops["track_id"]))
        return self.stage(crops)


@pytest.fixture(scope="module")
def frame_crops(pipeline_clip, reduced_assets, tmp_path_factory):
    """(mesh stage, the crops of the clip's first 12 frames): 2-6 people a frame, some frames empty."""
    from stream.config import load_pipeline_config
    from stream.pipeline.setup import load_mesh_stage
    from stream.pose2d.precomputed import PrecomputedPoses
    from stream.source.frames import FrameSource

    cfg = load_pipeline_config(None, pipeline_overrides(pipeline_clip, reduced_assets, tmp_path_factory.mktemp("b")))
    stage = load_mesh_stage(cfg, "coco17")
    poses = PrecomputedPoses.from_file(pipeline_clip.detections["coco17"])
    crops = []
    for frame, _ in zip(FrameSource(str(pipeline_clip.video)), range(12)):
        p = poses.get(frame.index)
        people = [SimpleNamespace(track_id=i, keypoints=k, box=b, score=s)
                  for i, (k, b, s) in enumerate(zip(p.keypoints, p.boxes, p.scores))][:frame.index % 7]
        crops.append(stage.crops(frame.index, frame.bgr, people, (320.0, (159.5, 119.5))))
    assert sum(len(c["track_id"]) for c in crops) > 20 and min(len(c["track_id"]) for c in crops) == 0
    return stage, crops


def assert_rows_equal(got, expected):
    assert got.keys() == expected.keys()
    for key in got:
        np.testing.assert_allclose(got[key], expected[key], atol=1e-5, rtol=2e-5, err_msg=key)   # as store_compare


@pytest.mark.parametrize("max_batch", [4, 9])
def test_in_order_calls_go_whole_into_passes_of_at_most_max_batch(frame_crops, max_batch):
    stage, crops = frame_crops
    recording = Recording(stage)
    batcher = MeshBatcher(recording, max_batch)
    answers = [batcher.add(i, c) for i, c in enumerate(crops)]
    assert any(not a for a in answers)                # some calls wait for a fuller pass
    done = [d for a in answers for d in a] + batcher.flush()
    assert [key for key, _ in done] == list(range(len(crops)))
    sizes = [len(c["track_id"]) for c in crops]
    for passed in recording.sizes:                    # a pass holds whole calls; only a lone big call exceeds
        assert passed <= max_batch or passed in sizes
    assert sum(recording.sizes) == sum(sizes) and len(recording.sizes) < len(crops)
    for (_, rows), c in zip(done, crops):
        assert_rows_equal(rows, stage(c))


def test_concurrent_calls_share_passes_and_get_their_own_rows(frame_crops):
    stage, crops = frame_crops
    recording = Recording(stage)
    calls = [c for c in crops if len(c["track_id"])]

    async def run_all():
        batcher = MeshBatcher(recording, max_batch=12, max_wait_s=0.5)
        return await asyncio.gather(*(batcher.rows(c) for c in calls))

    rows = asyncio.run(run_all())
    assert len(recording.sizes) < len(calls) and max(recording.sizes) <= 12
    for got, c in zip(rows, calls):
        assert_rows_equal(got, stage(c))


def test_a_failed_pass_fails_every_call_in_it(frame_crops):
    stage, crops = frame_crops
    good = next(c for c in crops if len(c["track_id"]))
    bad = {**good, "img": good["img"][:, :1]}        # one channel: the pass cannot be put together

    async def run_both():
        batcher = MeshBatcher(stage, max_batch=32, max_wait_s=0.5)
        return await asyncio.gather(batcher.rows(good), batcher.rows(bad), return_exceptions=True)

    results = asyncio.run(run_both())
    assert all(isinstance(r, ValueError) for r in results), results
    assert str(results[0]) == str(results[1])


def test_max_batch_below_one_is_refused(frame_crops):
    with pytest.raises(ValueError, match="max_batch = 0"):
        MeshBatcher(frame_crops[0], 0)
