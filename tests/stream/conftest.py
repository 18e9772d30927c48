"""Fixtures for the stream tests: short real H.264 clips, the export crowd, the pipeline clip and assets."""
import numpy as np
import pytest

from stream_helpers import pipeline_overrides, write_h264


@pytest.fixture()
def h264_clip(tmp_path):
    """``h264_clip(n=12, size=(96, 64), fps=24)`` -> path of an mp4 whose frame i is uniform grey 20 * i."""
    def make(n=12, size=(96, 64), fps=24, name="clip.mp4"):
        frames = [np.full((size[1], size[0], 3), 20 * i % 256, np.uint8) for i in range(n)]
        return write_h264(tmp_path / name, frames, fps)
    return make


# --- export tests (tests/stream/test_export_*.py): the stand-in body, a small synthetic crowd and its store.
# The crowd (seed 1, 4 people, 30 frames at 30 fps, 320x192) stored with min_visible=8 has a track that
# starts late (track 0) and one with frames missing inside it (track 1), so gaps and time offsets are exercised.

@pytest.fixture(scope="session")
def export_body(tmp_path_factory):
    from nets.body import BodyModel
    from nets.standin import write_standin_body

    return BodyModel.from_files(*write_standin_body(tmp_path_factory.mktemp("export_body")))


@pytest.fixture(scope="session")
def export_crowd(export_body):
    from nets.synth import CrowdConfig, make_crowd

    return make_crowd(export_body, CrowdConfig(people=4, frames=30, fps=30.0, width=320, height=192, seed=1))


@pytest.fixture(scope="session")
def export_store(export_crowd, tmp_path_factory):
    from stream.store import open_store
    from stream.demo.synth import store_from_crowd

    path = store_from_crowd(export_crowd, tmp_path_factory.mktemp("export_store") / "crowd.zarr", min_visible=8)
    store = open_store(path)
    frames = {s.track_id: (s.first_frame, s.last_frame, s.length) for s in store.summaries()}
    assert frames[0][0] > 0, frames                                   # a track that starts late
    assert frames[1][2] < frames[1][1] - frames[1][0] + 1, frames     # a track with a gap
    return store


# --- pipeline tests (tests/stream/pipeline/test_process.py, test_ray_pipeline.py): a synthetic crowd clip with simulated detections and a
# reduced (small-backbone) untrained 3DCrowdNet with the stand-in body, so a run takes seconds on a CPU.

@pytest.fixture(scope="session")
def pipeline_clip(tmp_path_factory):
    """6 people walking across each other for 36 frames, 320x240 at 30 fps; COCO-17 detections, moderate noise."""
    from nets.synth import CrowdConfig
    from stream.demo.synth import write_synthetic_clip

    config = CrowdConfig(people=6, frames=36, width=320, height=240, fps=30.0, seed=5)
    return write_synthetic_clip(tmp_path_factory.mktemp("pipeline_clip"), config, noise="moderate",
                                joint_sets=("coco17",))


@pytest.fixture(scope="session")
def reduced_assets(standin_files, tmp_path_factory):
    """{'smpl', 'joint_regressor_extra', 'checkpoint'}: the stand-in body and a seeded untrained reduced model."""
    import torch

    from nets.body import BodyModel
    from nets.checkpoint import save_checkpoint
    from nets.model import CrowdNet
    from train.reduced import REDUCED_CONFIG

    torch.manual_seed(0)
    model = CrowdNet(BodyModel.from_files(*standin_files), REDUCED_CONFIG)
    path = save_checkpoint(model, tmp_path_factory.mktemp("reduced") / "reduced_untrained.pt", standin=True)
    return {"smpl": standin_files[0], "joint_regressor_extra": standin_files[1], "checkpoint": path}


@pytest.fixture()
def pipeline_config(pipeline_clip, reduced_assets, tmp_path):
    """``pipeline_config(*overrides)`` -> PipelineConfig processing ``pipeline_clip`` into tmp_path/out.zarr."""
    from stream.config import load_pipeline_config

    def make(*overrides, clip=pipeline_clip):
        return load_pipeline_config(None, [*pipeline_overrides(clip, reduced_assets, tmp_path / "out.zarr"),
                                           *overrides])
    return make


@pytest.fixture(scope="session")
def reference_store(pipeline_clip, reduced_assets, tmp_path_factory):
    """The store of an uninterrupted local (no Ray) run of ``pipeline_clip`` with the default overrides."""
    from stream.config import load_pipeline_config
    from stream.pipeline.local import run_local

    output = tmp_path_factory.mktemp("reference") / "reference.zarr"
    return run_local(load_pipeline_config(None, pipeline_overrides(pipeline_clip, reduced_assets, output))).store


@pytest.fixture(scope="module")
def ray_cluster():
    """A real two-node `ray start` cluster on loopback; yields its address (join with ray_session(address))."""
    from ray_cluster import start_local_cluster

    with start_local_cluster(num_nodes=2, cpus_per_node=1) as cluster:
        yield cluster.address
