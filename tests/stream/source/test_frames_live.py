"""FrameSource on live inputs (standard input, a named pipe, TCP/UDP URLs), variable frame rates and truncated files.

Clips are encoded here with PyAV; live inputs are fed by real pipes and real sockets on 127.0.0.1.
"""
import json
import os
import socket
import subprocess
import sys
import threading
import time
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from stream.source.frames import FrameClock, FrameSource, FrameSourceError, LiveSourceError

SIZE = (64, 48)  # W, H
REPO = Path(__file__).resolve().parents[3]


def write_clip(path, n=20, fps=25, fmt=None, times=None, noise=False, options=None):
    """An H.264 clip of ``n`` frames (grey level 8 * i, or random noise); ``times`` in seconds gives a VFR clip."""
    rng = np.random.default_rng(0)
    with av.open(str(path), "w", format=fmt, options=options or {}) as out:
        stream = out.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = *SIZE, "yuv420p"
        if times is not None:
            stream.time_base = stream.codec_context.time_base = Fraction(1, 1000)
        for i in range(n):
            img = rng.integers(0, 256, (SIZE[1], SIZE[0], 3), np.uint8) if noise else \
                np.full((SIZE[1], SIZE[0], 3), 8 * i, np.uint8)
            frame = av.VideoFrame.from_ndarray(img, format="bgr24")
            if times is not None:
                frame.pts, frame.time_base = round(times[i] * 1000), Fraction(1, 1000)
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# A separate process that connects to URL (retrying until the receiver listens) and sends N frames of MPEG-TS,
# PAUSE seconds apart, then stays silent for HOLD seconds before it ends the stream.
SENDER = r"""
import sys, time
import av, numpy as np
url, n, pause, hold = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4])
deadline = time.monotonic() + 10
while True:
    try:
        out = av.open(url, "w", format="mpegts", options={"flush_packets": "1"})
        break
    except ConnectionRefusedError:
        if time.monotonic() > deadline:
            raise
        time.sleep(0.02)
with out:
    stream = out.add_stream("libx264", rate=25, options={"tune": "zerolatency"})
    stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
    for i in range(n):
        frame = av.VideoFrame.from_ndarray(np.full((48, 64, 3), 8 * i, np.uint8), format="bgr24")
        for packet in stream.encode(frame):
            out.mux(packet)
        time.sleep(pause)
    time.sleep(hold)
    for packet in stream.encode():
        out.mux(packet)
"""

# Reads standard input with FrameSource("-") and prints what came out as JSON.
READER = r"""
import json
from stream.source.frames import FrameSource
source = FrameSource("-")
frames = [(f.index, f.time, f.bgr.shape) for f in source]
print(json.dumps({"kind": source.kind, "len": len(source), "fps": source.fps, "frames": frames}))
"""


@pytest.fixture()
def sender():
    """``sender(url, n, pause=0, hold=0)`` starts the sender process; it is stopped after the test."""
    procs = []

    def start(url, n, pause=0.0, hold=0.0):
        procs.append(subprocess.Popen([sys.executable, "-c", SENDER, url, str(n), str(pause), str(hold)]))
        return procs[-1]
    yield start
    for proc in procs:
        proc.kill()
        proc.wait(timeout=10)


def test_variable_frame_rate_file_keeps_true_times(tmp_path):
    times = [0, 0.04, 0.1, 0.25, 0.26, 0.5, 0.9, 1.0, 1.3, 1.31]
    for name in ("vfr.mp4", "vfr.mkv"):
        frames = list(FrameSource(write_clip(tmp_path / name, n=len(times), times=times)))
        np.testing.assert_allclose([f.time for f in frames], times, atol=1e-3, err_msg=name)


def test_file_that_starts_late_keeps_its_first_time(tmp_path):
    source = FrameSource(write_clip(tmp_path / "late.ts", n=10, fmt="mpegts"))
    with av.open(str(source.path)) as container:
        start = container.streams.video[0].start_time * container.streams.video[0].time_base
    times = [f.time for f in source]
    assert start > 0 and times[0] == pytest.approx(float(start), abs=1e-3)
    np.testing.assert_allclose(np.diff(times), 0.04, atol=1e-3)


def test_clock_rules():
    live = FrameClock(fps=25, live=True)
    assert [round(live(t), 3) for t in (1.4, 1.44, None, 1.6, 0.2, 0.24)] == [0, 0.04, 0.08, 0.2, 0.24, 0.28]
    file = FrameClock(fps=None, live=False)
    assert [file(t) for t in (1.4, None, 2.0)] == [1.4, 1.44, 2.0]


def test_standard_input(tmp_path):
    clip = write_clip(tmp_path / "clip.ts", n=15, fmt="mpegts")
    done = subprocess.run([sys.executable, "-c", READER], input=clip.read_bytes(), capture_output=True, timeout=60,
                          cwd=REPO)
    assert done.returncode == 0, done.stderr.decode()
    out = json.loads(done.stdout)
    assert out["kind"] == "live" and out["len"] == 0 and out["fps"] == 25
    assert [f[0] for f in out["frames"]] == list(range(15))
    assert all(f[2] == [SIZE[1], SIZE[0], 3] for f in out["frames"])
    np.testing.assert_allclose([f[1] for f in out["frames"]], np.arange(15) / 25, atol=1e-3)


def test_tcp_stream(sender):
    port = free_port()
    sender(f"tcp://127.0.0.1:{port}", 30, pause=0.04)  # 1.2 s of stream, never 1 s without data
    source = FrameSource(f"tcp://127.0.0.1:{port}?listen=1", live_timeout_s=1.0)
    assert source.kind == "live" and source.is_video and len(source) == 0 and source.fps is None
    frames = list(source)
    assert source.fps == 25 and [f.index for f in frames] == list(range(30))
    assert all(f.bgr.shape == (SIZE[1], SIZE[0], 3) and f.name is None for f in frames)
    np.testing.assert_allclose([f.time for f in frames], np.arange(30) / 25, atol=1e-3)
    assert np.all(np.diff([f.bgr.mean() for f in frames]) > 0)  # grey 8 * i: in order


def test_stream_that_goes_silent(sender):
    port = free_port()
    sender(f"tcp://127.0.0.1:{port}", 10, hold=20)
    frames = []
    with pytest.raises(LiveSourceError, match=rf"127\.0\.0\.1:{port}.* stopped after") as err:
        for frame in FrameSource(f"tcp://127.0.0.1:{port}?listen=1", live_timeout_s=0.7):
            frames.append(frame)
    assert 0 < len(frames) <= 10
    assert f"stopped after {len(frames)} frames (no data for 0.7 s)" in str(err.value)


def test_dead_urls_fail_fast_and_name_the_url():
    port = free_port()
    with pytest.raises(LiveSourceError, match=rf"tcp://127\.0\.0\.1:{port} could not be opened \(Connection refused\)"):
        list(FrameSource(f"tcp://127.0.0.1:{port}"))
    start = time.monotonic()
    with pytest.raises(LiveSourceError, match=rf"udp://127\.0\.0\.1:{port} could not be opened \(no data for 0\.5 s\)"):
        list(FrameSource(f"udp://127.0.0.1:{port}", live_timeout_s=0.5))
    assert time.monotonic() - start < 5


def test_live_input_is_read_once():
    source = FrameSource("udp://127.0.0.1:9")
    iter(source)  # opens nothing until the first frame is asked for
    with pytest.raises(FrameSourceError, match="was already read"):
        iter(source)
    with pytest.raises(ValueError, match="live_timeout_s"):
        FrameSource("-", live_timeout_s=0)


def test_named_pipe(tmp_path):
    data = write_clip(tmp_path / "clip.mkv", n=12).read_bytes()
    fifo = tmp_path / "camera"
    os.mkfifo(fifo)
    with pytest.raises(LiveSourceError, match="nothing written to it within 0.3 s"):
        list(FrameSource(fifo, live_timeout_s=0.3))
    writer = threading.Thread(target=lambda: fifo.write_bytes(data))
    writer.start()
    source = FrameSource(fifo)
    frames = list(source)
    writer.join(timeout=10)
    assert source.kind == "live" and len(frames) == 12
    np.testing.assert_allclose([f.time for f in frames], np.arange(12) / 25, atol=1e-3)


def test_truncated_files(tmp_path):
    def cut(name, **kw):
        path = write_clip(tmp_path / name, n=100, noise=True, **kw)
        data = path.read_bytes()
        (tmp_path / f"cut_{name}").write_bytes(data[: len(data) // 2])
        return tmp_path / f"cut_{name}"

    frames = []
    with pytest.raises(FrameSourceError, match=r"cut_front\.mp4.* after \d+ frames") as err:
        for frame in FrameSource(cut("front.mp4", options={"movflags": "faststart"})):
            frames.append(frame)
    assert 20 < len(frames) < 100 and [f.index for f in frames] == list(range(len(frames)))
    assert f"after {len(frames)} frames" in str(err.value)

    with pytest.raises(FrameSourceError, match=r"cut_clip\.mkv ends after \d+ frames .* looks truncated"):
        list(FrameSource(cut("clip.mkv")))

    # the index of a plain mp4 is at its end, so the cut file does not open at all
    with pytest.raises(FrameSourceError, match=r"cut_clip\.mp4 could not be opened as a video"):
        FrameSource(cut("clip.mp4"))

    # MPEG-TS states no length: a cut stream is a shorter stream, its frames come out and iteration ends
    assert 20 < len(list(FrameSource(cut("clip.ts", fmt="mpegts")))) < 100


def test_not_a_video(tmp_path):
    with av.open(str(tmp_path / "sound.mkv"), "w") as out:
        stream = out.add_stream("pcm_s16le", rate=8000)
        frame = av.AudioFrame.from_ndarray(np.zeros((1, 800), np.int16), format="s16", layout="mono")
        frame.sample_rate = 8000
        for packet in stream.encode(frame):
            out.mux(packet)
    with pytest.raises(FrameSourceError, match=r"sound\.mkv has no video stream"):
        FrameSource(tmp_path / "sound.mkv")
    (tmp_path / "notes.mp4").write_text("this is text")
    with pytest.raises(FrameSourceError, match=r"notes\.mp4 could not be opened as a video"):
        FrameSource(tmp_path / "notes.mp4")
