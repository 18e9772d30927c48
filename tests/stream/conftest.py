"""Fixtures for the stream tests: short real H.264 clips written with PyAV."""
from fractions import Fraction

import av
import numpy as np
import pytest


def write_h264(path, frames, fps=24):
    """Encode (H, W, 3) uint8 BGR frames into a real H.264 mp4 with PyAV; returns the path."""
    h, w = frames[0].shape[:2]
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=Fraction(fps))
        stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
        for img in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(img), format="bgr24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


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
    from stream.synth import store_from_crowd

    path = store_from_crowd(export_crowd, tmp_path_factory.mktemp("export_store") / "crowd.zarr", min_visible=8)
    store = open_store(path)
    frames = {s.track_id: (s.first_frame, s.last_frame, s.length) for s in store.summaries()}
    assert frames[0][0] > 0, frames                                   # a track that starts late
    assert frames[1][2] < frames[1][1] - frames[1][0] + 1, frames     # a track with a gap
    return store
