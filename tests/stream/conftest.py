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
