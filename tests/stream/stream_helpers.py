"""Plain helpers of the stream tests (the fixtures that use them are in conftest.py): real H.264 clips written
with PyAV, the pipeline overrides of the test clip, an interrupted local run."""
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


def remux_mpegts(src, dst, format="mpegts"):
    """Copy the video packets of ``src`` into ``dst`` (MPEG-TS: no index, decodable from any cut; or another
    container ``format``), without re-encoding."""
    with av.open(str(src)) as inp, av.open(str(dst), "w", format=format) as out:
        stream_in = inp.streams.video[0]
        stream_out = out.add_stream_from_template(stream_in)
        for packet in inp.demux(stream_in):
            if packet.dts is not None:
                packet.stream = stream_out
                out.mux(packet)
    return dst


def pipeline_overrides(clip, assets, output) -> list[str]:
    """``stream process`` overrides for ``clip`` with ``assets`` into ``output`` (CLI and config alike)."""
    return [f"input={clip.video}", f"output={output}", "pose2d.backend=precomputed",
            f"pose2d.poses={clip.detections['coco17']}", f"model.checkpoint={assets['checkpoint']}",
            f"body.smpl={assets['smpl']}", f"body.joint_regressor_extra={assets['joint_regressor_extra']}",
            "model.max_batch=16", "store.flush_frames=8", "model.device=cpu"]


class Interrupted(Exception):
    pass


def interrupt_after(cfg, frames: int) -> None:
    """Run ``cfg`` locally and stop it (an exception from the progress callback) once ``frames`` are stored."""
    from stream.pipeline.local import run_local

    stored = 0

    def progress(count, people):
        nonlocal stored
        stored += count
        if stored >= frames:
            raise Interrupted
    with pytest.raises(Interrupted):
        run_local(cfg, progress=progress)
