"""Frames in (one image, an image folder, a video or a live stream) and a video out, as uint8 BGR arrays::

    source = FrameSource("clip.mp4")             # or "photo.jpg", "folder/", "-", "udp://127.0.0.1:5000",
                                                 # "s3://bucket/clip.mp4"
    for frame in source:                         # Frame(index, name, time, bgr)
        frame.bgr                                # (H, W, 3) uint8 BGR
    with VideoWriter("out.mp4", fps=source.fps) as out:
        out.write(bgr)

Image folders are read in natural order of file name (``2.png`` before ``10.png``), image extensions
only (``IMAGE_EXTENSIONS``), hidden files and sub-folders skipped. Images are read with OpenCV's
``IMREAD_COLOR``, so grayscale, 16-bit and RGBA files come out as 8-bit BGR.

Videos and live streams are decoded with PyAV. A live input is ``-`` (an encoded stream on standard input:
MPEG-TS, Matroska, NUT, ... as PyAV detects it), a named pipe (FIFO), or a URL whose scheme is in
``LIVE_SCHEMES`` (``stream.source.remote``). It is opened when iteration starts, can be iterated once, has
no length and ``fps`` is known once the first frame is out. A network URL that sends nothing for
``live_timeout_s`` seconds, or a named pipe nothing is written to for that long, ends with
``LiveSourceError``; once data flows, standard input and pipes wait for their writer to send or close.
A URL of another scheme (``s3://``, ``gs://``, ``memory://``, ...) is a video file read through fsspec
(``stream.source.remote``); ``file://`` is a local path.

A damaged or truncated video gives every frame it can, then raises ``FrameSourceError`` naming the file and
the frames decoded: on a decoding error, or when the frames fall well short of the duration its header
states. A cut MPEG-TS states no duration, so it reads as a shorter stream and ends without an error.

``time`` (``FrameClock``): a video file gives each frame's own presentation time, as stored, so a variable
frame rate comes out true and a file that starts late (MPEG-TS often does) keeps its first time. A live
stream gives times from its first frame, which is 0, and never lets them go back: a jump back (a restarted
sender, a timestamp wrap) continues one frame step after the previous time. A frame without a timestamp
gets the previous time plus one frame step (``1 / fps``).
"""
from __future__ import annotations

import contextlib
import logging
import os
import re
import select
import sys
from fractions import Fraction
from pathlib import Path
from typing import Iterator, NamedTuple

import av
import cv2
import numpy as np

from stream.pose2d.base import FrameError, as_bgr8
from stream.source.remote import is_live_url, is_remote, open_remote

log = logging.getLogger(__name__)

IMAGE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp", ".jp2", ".pgm", ".ppm"})
FALLBACK_FPS = 25.0   # frame step for frames without a timestamp when the stream states no rate


class FrameSourceError(ValueError):
    """An input that gives no frames: unreadable, empty, truncated, or not an image, folder or video."""


class FrameSourceNotFoundError(FrameSourceError, FileNotFoundError):
    """The input path does not exist."""


class LiveSourceError(FrameSourceError, ConnectionError):
    """A live input (standard input, a named pipe, a URL) that could not be opened or stopped sending."""


class Frame(NamedTuple):
    index: int            # position in the input, from 0
    name: str | None      # image file name (images), None for video frames
    time: float | None    # presentation time in seconds (video), None for images
    bgr: np.ndarray       # (H, W, 3) uint8 BGR

    @property
    def label(self) -> str:
        return self.name if self.name is not None else f"frame {self.index} ({self.time:.3f} s)"


def read_image(path) -> np.ndarray:
    """One image file -> (H, W, 3) uint8 BGR, or FrameSourceError naming the file."""
    path = Path(path)
    if not path.is_file():
        raise FrameSourceNotFoundError(f"image {path} does not exist; pass an image, an image folder or a video")
    if path.stat().st_size == 0:
        raise FrameSourceError(f"image {path} is an empty file (0 bytes); expected a JPEG/PNG/... image")
    bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if bgr is None:
        raise FrameSourceError(f"image {path} could not be decoded; expected a readable image file "
                               f"({', '.join(sorted(IMAGE_EXTENSIONS))})")
    return as_bgr8(bgr, str(path))


def _natural_key(path: Path):
    return [int(t) if t.isdigit() else t.lower() for t in re.split(r"(\d+)", path.name)]


def list_images(folder) -> list[Path]:
    folder = Path(folder)
    return sorted((p for p in folder.iterdir() if p.is_file() and not p.name.startswith(".")
                   and p.suffix.lower() in IMAGE_EXTENSIONS), key=_natural_key)


class FrameClock:
    """Frame times in seconds from presentation times (``None`` where a frame has none); rule in the module doc.

    ``clock = FrameClock(fps=25, live=True)``: ``[clock(t) for t in (1.4, 1.44, None, 0.0)]`` -> 0, 0.04, 0.08, 0.12.
    """

    def __init__(self, fps: float | None, live: bool):
        self.step = 1.0 / (fps or FALLBACK_FPS)
        self.live = live
        self.offset: float | None = None   # live: the first frame's time
        self.last: float | None = None

    def __call__(self, time: float | None) -> float:
        if time is None:
            t = 0.0 if self.last is None else self.last + self.step
        elif not self.live:
            t = float(time)
        else:
            if self.offset is None:
                self.offset = float(time)
            t = time - self.offset
            if self.last is not None and t <= self.last:
                self.offset += t - (self.last + self.step)
                t = self.last + self.step
        self.last = t
        return t


def _duration(frame: av.VideoFrame, default: float) -> float:
    """How long the frame shows, in seconds, where the stream says (PyAV >= 13), else ``default``."""
    duration, time_base = getattr(frame, "duration", None), frame.time_base
    return float(duration * time_base) if duration and time_base else default


class FrameSource:
    """The frames of one input. ``kind`` is ``'image'``, ``'folder'``, ``'video'`` or ``'live'``.

    ``input``: an image, an image folder, a video file, ``-`` (standard input), a named pipe or a URL.
    ``path`` is the input as a Path, None for standard input and URLs; ``input`` is the input as given;
    ``remote``: a video file behind an fsspec URL (``is_remote``).
    """

    def __init__(self, input, *, live_timeout_s: float = 10.0):
        if not live_timeout_s > 0:
            raise ValueError(f"live_timeout_s must be > 0 seconds, got {live_timeout_s!r}")
        self.input = str(input)
        self.remote = is_remote(self.input)
        local = self.input[len("file://"):] if self.input.startswith("file://") else input
        self.path = None if self.input == "-" or is_live_url(self.input) or self.remote else Path(local)
        self.live_timeout_s = live_timeout_s
        self.fps: float | None = None
        self.images: list[Path] = []
        self._frames: int | None = None
        self._started = False
        if self.remote:
            self.kind = "video"
            self._probe_video()
            return
        if self.path is None or self.path.is_fifo():
            self.kind = "live"
            if self.input == "-" and (sys.stdin is None or sys.stdin.isatty()):
                raise FrameSourceError("input - reads a video stream from standard input, which is a terminal; "
                                       "pipe one in, e.g. `ffmpeg -i CAMERA -f mpegts - | ...`")
            return
        if not self.path.exists():
            raise FrameSourceNotFoundError(f"input {self.path} does not exist; pass an image, an image folder, "
                                           "a video file, - (standard input) or a stream URL")
        if self.path.is_dir():
            self.kind = "folder"
            self.images = list_images(self.path)
            if not self.images:
                raise FrameSourceError(f"folder {self.path} has no images; expected files ending in "
                                       f"{', '.join(sorted(IMAGE_EXTENSIONS))}")
        elif self.path.suffix.lower() in IMAGE_EXTENSIONS:
            self.kind = "image"
            self.images = [self.path]
        else:
            self.kind = "video"
            self._probe_video()

    def _probe_video(self) -> None:
        if self.path is not None and self.path.stat().st_size == 0:
            raise FrameSourceError(f"video {self.path} is an empty file (0 bytes)")
        try:
            with self._open_video() as container:
                self._read_stream_info(container)
                self._frames = container.streams.video[0].frames or None
        except av.FFmpegError as e:
            raise FrameSourceError(f"{self.input} could not be opened as a video ({e}); expected a video file "
                                   f"or an image ({', '.join(sorted(IMAGE_EXTENSIONS))})") from None

    def _read_stream_info(self, container) -> av.VideoStream:
        if not container.streams.video:
            raise FrameSourceError(f"{self.input} has no video stream; expected a video (mp4, mkv, avi, "
                                   "MPEG-TS, ...) or an image")
        stream = container.streams.video[0]
        rate = stream.average_rate or stream.base_rate
        self.fps = float(rate) if rate else None
        return stream

    def __len__(self) -> int:
        """Frame count; for a video, as the container states it (0 when it does not say, and for live inputs)."""
        return len(self.images) if not self.is_video else (self._frames or 0)

    @property
    def is_video(self) -> bool:
        """Frames of a video or live stream: indexed and timed, unnamed."""
        return self.kind in ("video", "live")

    def __iter__(self) -> Iterator[Frame]:
        if not self.is_video:
            return (Frame(i, path.name, None, read_image(path)) for i, path in enumerate(self.images))
        if self.kind == "live":
            if self._started:
                raise FrameSourceError(f"live input {self.input} was already read; a live input can be read once, "
                                       "make a new FrameSource to read a stream again")
            self._started = True
        return self._decode()

    @contextlib.contextmanager
    def _open_video(self):
        """The container of a video file: a local path, or the object behind an fsspec URL."""
        if not self.remote:
            with av.open(str(self.path)) as container:
                yield container
            return
        try:
            file = open_remote(self.input)
        except (FileNotFoundError, ImportError, ValueError) as e:
            raise (FrameSourceNotFoundError if isinstance(e, FileNotFoundError) else FrameSourceError)(str(e)) from None
        with file, av.open(file) as container:
            yield container

    @contextlib.contextmanager
    def _open(self):
        if self.kind == "video":
            with self._open_video() as container:
                yield container
        elif self.path is not None:
            with self._open_fifo() as pipe, av.open(pipe) as container:
                yield container
        elif self.input == "-":
            with av.open(sys.stdin.buffer) as container:
                yield container
        else:
            with av.open(self.input, timeout=(self.live_timeout_s, self.live_timeout_s)) as container:
                yield container

    def _open_fifo(self):
        """The named pipe as a binary file once its writer has sent data, or LiveSourceError after the timeout."""
        fd = os.open(self.path, os.O_RDONLY | os.O_NONBLOCK)   # does not wait for a writer, select does
        if not select.select([fd], [], [], self.live_timeout_s)[0]:
            os.close(fd)
            raise LiveSourceError(f"named pipe {self.path}: nothing written to it within {self.live_timeout_s:g} s; "
                                  "start the program that writes the video stream into it")
        os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")

    def _decode(self) -> Iterator[Frame]:
        n, opened = 0, False
        try:
            with self._open() as container:
                opened = True
                stream = self._read_stream_info(container)
                stream.thread_type = "AUTO"
                clock = FrameClock(self.fps, live=self.kind == "live")
                first = end = None
                for frame in container.decode(stream):
                    t = clock(frame.time)
                    first = t if first is None else first
                    end = t + _duration(frame, clock.step)
                    bgr = as_bgr8(frame.to_ndarray(format="bgr24"), f"{self.input} frame {n}")
                    yield Frame(n, None, t, bgr)
                    n += 1
                if n and self.kind == "video":
                    self._check_complete(container, stream, end - first, n)
        except av.FFmpegError as e:
            raise self._failed(e, n, opened) from None
        if n == 0:
            raise (LiveSourceError if self.kind == "live" else FrameSourceError)(
                f"{self.input} has no decodable frames")

    def _check_complete(self, container, stream, span: float, n: int) -> None:
        """FrameSourceError when the frames span (seconds) falls short of the duration the header states."""
        if stream.duration is not None:
            stated = float(stream.duration * stream.time_base)
        elif container.duration is not None and len(container.streams) == 1:
            stated = container.duration / av.time_base
        else:
            return
        if span < stated - max(0.25, 0.1 * stated):   # slack for loose header durations and rounding
            raise FrameSourceError(f"video {self.input} ends after {n} frames ({span:.2f} s) but its header says "
                                   f"{stated:.2f} s; the file looks truncated (an interrupted copy or download)")

    def _failed(self, err: av.FFmpegError, n: int, opened: bool) -> FrameSourceError:
        if self.kind == "video":
            return FrameSourceError(f"video {self.input}: decoding failed after {n} frames ({err}); the file is "
                                    "damaged or truncated")
        why = f"no data for {self.live_timeout_s:g} s" if isinstance(err, av.ExitError) else (err.strerror or str(err))
        when = f"stopped after {n} frames" if n else "sent no frames" if opened else "could not be opened"
        return LiveSourceError(f"live input {self.input} {when} ({why}); check that the sender is running and the "
                               "address is right")


class VideoWriter:
    """H.264 (yuv420p) video from BGR frames of one size, via PyAV. Odd sizes are padded by one pixel."""

    def __init__(self, path, fps: float = 25.0, crf: int = 20):
        self.path, self.fps, self.crf = Path(path), fps, crf
        self.size: tuple[int, int] | None = None
        self.count = 0

    def __enter__(self) -> "VideoWriter":
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._container = av.open(str(self.path), "w")
        self._stream = None
        return self

    def write(self, bgr: np.ndarray) -> None:
        bgr = as_bgr8(bgr, f"{self.path} frame {self.count}")
        h, w = bgr.shape[:2]
        if self._stream is None:
            self.size = (w, h)
            self._stream = self._container.add_stream("libx264", rate=Fraction(self.fps).limit_denominator(1001))
            self._stream.width, self._stream.height = w + w % 2, h + h % 2
            self._stream.pix_fmt = "yuv420p"
            self._stream.options = {"crf": str(self.crf)}
        elif (w, h) != self.size:
            raise FrameError(f"{self.path}: frame {self.count} is {w}x{h}, the video is {self.size[0]}x{self.size[1]}; "
                             "a video needs frames of one size (draw into a folder of images instead)")
        if w % 2 or h % 2:
            bgr = cv2.copyMakeBorder(bgr, 0, h % 2, 0, w % 2, cv2.BORDER_REPLICATE)
        frame = av.VideoFrame.from_ndarray(bgr, format="bgr24")
        for packet in self._stream.encode(frame):
            self._container.mux(packet)
        self.count += 1

    def __exit__(self, exc_type, exc, tb):
        try:
            if self._stream is not None:
                for packet in self._stream.encode():
                    self._container.mux(packet)
        finally:
            self._container.close()
        return False
