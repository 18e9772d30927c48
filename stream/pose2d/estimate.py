"""``stream poses``: 2D poses of an image, an image folder or a video, with any pose backend::

    backend = make_backend("precomputed", poses="in.json")      # or "rtmo", "mmpose"
    summary = estimate_poses(FrameSource("clip.mp4"), backend, "poses.json", draw="check.mp4")

Frames go to the backend ``batch_size`` at a time. The output is COCO keypoint results
(``stream.pose2d.precomputed``): ``image_id`` is the frame index for a video and the file name for images.
``draw`` writes the skeletons: a video (``.mp4``, ``.mkv``, ``.mov``, ``.avi``), one image (for a
single-image input) or, for any other path, a folder with one PNG per frame.
"""
from __future__ import annotations

import logging
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import cv2

from stream.pose2d.draw import draw_poses
from stream.source.frames import IMAGE_EXTENSIONS, Frame, FrameSource, VideoWriter
from stream.pose2d.base import PoseBackend
from stream.pose2d.precomputed import CocoResultsWriter
from stream.progress import progress_bar

log = logging.getLogger(__name__)

VIDEO_SUFFIXES = frozenset({".mp4", ".mkv", ".mov", ".avi"})


@dataclass(frozen=True)
class PosesSummary:
    frames: int
    people: int
    joint_set: str
    out: Path
    draw: Path | None


class DrawTarget:
    """Where drawn frames go: a video, one image, or a folder of PNGs (chosen by the path's suffix)."""

    def __init__(self, path, source: FrameSource):
        self.path = Path(path)
        suffix = self.path.suffix.lower()
        self.kind = "video" if suffix in VIDEO_SUFFIXES else "image" if suffix in IMAGE_EXTENSIONS else "folder"
        if self.kind == "image" and len(source) != 1:
            raise ValueError(f"--draw {self.path}: one image can hold one frame, the input has "
                             f"{len(source) or 'many'}; pass a folder or a .mp4 path")
        self.fps = source.fps or 25.0
        self._video = None

    def __enter__(self) -> "DrawTarget":
        if self.kind == "video":
            self._video = VideoWriter(self.path, fps=self.fps).__enter__()
        elif self.kind == "folder":
            self.path.mkdir(parents=True, exist_ok=True)
        else:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        return self

    def write(self, frame: Frame, canvas) -> None:
        if self.kind == "video":
            self._video.write(canvas)
            return
        path = self.path if self.kind == "image" else self.path / (
            f"{Path(frame.name).stem}.png" if frame.name else f"frame_{frame.index:06d}.png")
        if not cv2.imwrite(str(path), canvas):
            raise OSError(f"could not write {path}; check the folder is writable and the suffix is an image type")

    def __exit__(self, *exc):
        if self._video is not None:
            return self._video.__exit__(*exc)
        return False


def estimate_poses(source: FrameSource, backend: PoseBackend, out, *, draw=None, batch_size: int = 8,
                   threshold: float = 0.3, progress: bool = True) -> PosesSummary:
    """Run ``backend`` over every frame of ``source``; write COCO keypoint results to ``out``."""
    if batch_size < 1:
        raise ValueError(f"batch size must be at least 1, got {batch_size}")
    # precomputed poses keyed by index also serve image folders (see stream.pose2d.precomputed)
    by_index = source.is_video or getattr(backend, "id_kind", None) == "index"
    target = DrawTarget(draw, source) if draw is not None else None
    frames = people = 0
    with ExitStack() as stack:
        writer = stack.enter_context(CocoResultsWriter(out))
        drawer = stack.enter_context(target) if target is not None else None
        advance = stack.enter_context(progress_bar("poses", len(source) or None, enabled=progress))
        batch: list[Frame] = []

        def flush():
            nonlocal frames, people
            ids = [f.index if by_index else f.name for f in batch]
            results = backend([f.bgr for f in batch], ids)
            if len(results) != len(batch):
                raise RuntimeError(f"the pose backend returned {len(results)} results for {len(batch)} frames")
            for frame, poses in zip(batch, results):
                writer.write(frame.index if source.is_video else frame.name, poses)
                if drawer is not None:
                    drawer.write(frame, draw_poses(frame.bgr, poses, threshold))
                people += len(poses)
            frames += len(batch)
            advance(len(batch))
            batch.clear()

        for frame in source:
            batch.append(frame)
            if len(batch) == batch_size:
                flush()
        if batch:
            flush()
    log.info("%d frames, %d people -> %s", frames, people, out)
    return PosesSummary(frames, people, backend.joint_set, Path(out), Path(draw) if draw is not None else None)
