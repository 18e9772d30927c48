"""Frames in (one image, an image folder or a video) and a video out, as uint8 BGR arrays::

    source = FrameSource("clip.mp4")             # or "photo.jpg", or "folder/"
    for frame in source:                         # Frame(index, name, time, bgr)
        frame.bgr                                # (H, W, 3) uint8 BGR
    with VideoWriter("out.mp4", fps=source.fps) as out:
        out.write(bgr)

Image folders are read in natural order of file name (``2.png`` before ``10.png``), image extensions
only (``IMAGE_EXTENSIONS``), hidden files and sub-folders skipped. Images are read with OpenCV's
``IMREAD_COLOR``, so grayscale, 16-bit and RGBA files come out as 8-bit BGR. Videos are decoded with
PyAV; ``time`` is the frame's presentation time in seconds.
"""
from __future__ import annotations

import logging
import re
from fractions import Fraction
from pathlib import Path
from typing import Iterator, NamedTuple

import av
import cv2
import numpy as np

from stream.pose2d import FrameError, as_bgr8

log = logging.getLogger(__name__)

IMAGE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp", ".jp2", ".pgm", ".ppm"})


class FrameSourceError(ValueError):
    """An input that gives no frames: unreadable, empty, or not an image, folder or video."""


class FrameSourceNotFoundError(FrameSourceError, FileNotFoundError):
    """The input path does not exist."""


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


class FrameSource:
    """The frames of one input path. ``kind`` is ``'image'``, ``'folder'`` or ``'video'``."""

    def __init__(self, path):
        self.path = Path(path)
        self.fps: float | None = None
        self.images: list[Path] = []
        if not self.path.exists():
            raise FrameSourceNotFoundError(f"input {self.path} does not exist; pass an image, an image folder "
                                           "or a video file")
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
        if self.path.stat().st_size == 0:
            raise FrameSourceError(f"video {self.path} is an empty file (0 bytes)")
        try:
            with av.open(str(self.path)) as container:
                if not container.streams.video:
                    raise FrameSourceError(f"{self.path} has no video stream; expected a video file (mp4, mkv, "
                                           "avi, ...) or an image")
                stream = container.streams.video[0]
                rate = stream.average_rate or stream.base_rate
                self.fps = float(rate) if rate else None
                self._frames = stream.frames or None
        except av.FFmpegError as e:
            raise FrameSourceError(f"{self.path} could not be opened as a video ({e}); expected a video file "
                                   f"or an image ({', '.join(sorted(IMAGE_EXTENSIONS))})") from None

    def __len__(self) -> int:
        """Frame count; for a video, as the container states it (0 when it does not say)."""
        return len(self.images) if self.kind != "video" else (self._frames or 0)

    @property
    def is_video(self) -> bool:
        return self.kind == "video"

    def __iter__(self) -> Iterator[Frame]:
        if self.kind != "video":
            for i, path in enumerate(self.images):
                yield Frame(i, path.name, None, read_image(path))
            return
        n = 0
        try:
            with av.open(str(self.path)) as container:
                stream = container.streams.video[0]
                stream.thread_type = "AUTO"
                for frame in container.decode(stream):
                    t = frame.time if frame.time is not None else n / (self.fps or 1.0)
                    bgr = as_bgr8(frame.to_ndarray(format="bgr24"), f"{self.path} frame {n}")
                    yield Frame(n, None, float(t), bgr)
                    n += 1
        except av.FFmpegError as e:
            raise FrameSourceError(f"{self.path}: decoding failed after {n} frames ({e}); expected a readable "
                                   "video") from None
        if n == 0:
            raise FrameSourceError(f"video {self.path} has no decodable frames")


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
