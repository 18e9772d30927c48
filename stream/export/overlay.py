"""Overlay video: the input video with every tracked mesh drawn in its track colour and labelled.

    summary = write_overlay(store, body, "overlay.mp4")              # video from the store's source path
    summary = write_overlay(store, body, "overlay.mp4", video="moved/clip.mp4", tracks=[3, 7])
    summary.background                                               # "video" or "plain"

Each stored frame ``n`` is drawn with the meshes of the tracks that have a row at ``n`` in the values
``values`` picks (``stream.export.tracks.VALUES``; offline-smoothed ones have rows at filled frames too,
labelled at the box interpolated between sightings): the store's per-frame values
``body(smpl_pose, smpl_betas).vertices + cam_trans`` (camera frame, see ``stream.store.CAMERA_CONVENTION``)
through the store's full-image pinhole camera, by the project's z-buffer rasteriser
(``nets.synth.rasterize``: Lambert shading, people hide each other per pixel), blended with ``alpha`` over
the frame. The track id is written at the top-left corner of the track's box, in the
track's colour (``track_color``, as in the GLB). The result is H.264 (``stream.source.frames.VideoWriter``) at the
store's fps.

When the source video cannot be read (a live source, a moved or deleted file, a synthetic store with no
path) the meshes are drawn on a plain grey background of the stored image size: ``background ==
"plain"`` and a log line says why. Frames past the end of a shorter video are drawn on the plain
background too.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import cv2
import numpy as np
import torch

from nets.synth.raster import orient_faces
from stream.export.motion import ExportError, track_color
from stream.export.tracks import read_track, video_camera
from stream.mesh.render import blend_meshes
from stream.progress import progress_bar
from stream.source.frames import FrameSource, FrameSourceError, VideoWriter

log = logging.getLogger(__name__)

PLAIN_BACKGROUND = (64, 64, 64)  # BGR
_FRAMES_PER_FORWARD = 16


@dataclass(frozen=True)
class OverlaySummary:
    path: Path
    frames: int
    tracks: int
    background: str          # "video" or "plain"
    reason: str | None       # why the background is plain


def _source_frames(path: Path | None, size: tuple[int, int]) -> tuple[Iterator[np.ndarray] | None, str | None]:
    """Frames of the source video, or (None, reason) when it cannot be used."""
    if path is None:
        return None, "the store records no source video (live or synthetic source)"
    try:
        source = FrameSource(path)
    except FrameSourceError as err:
        return None, f"the source video cannot be read ({err})"
    if not source.is_video:
        return None, f"the source {path} is not a video"
    first = next(iter(source), None)
    if first is None or first.bgr.shape[1::-1] != tuple(size):
        got = "no frames" if first is None else f"{first.bgr.shape[1]}x{first.bgr.shape[0]}"
        return None, f"the source video {path} is {got}, the store says {size[0]}x{size[1]}"
    return (frame.bgr for frame in source), None


def write_overlay(store, body, out, tracks: list[int] | None = None, video=None, alpha: float = 0.8,
                  progress: bool = True, crf: int = 20, values: str = "auto") -> OverlaySummary:
    """Draw the store's tracks (all, or ``tracks``) over its video into ``out`` (.mp4); see the module docstring.

    ``video`` replaces the source path the store records (a moved file); ``values``: which values to draw
    (``stream.export.tracks.VALUES``; NotSmoothedError when the store lacks smoothed values asked for).
    """
    if not 0 < alpha <= 1:
        raise ExportError(f"alpha = {alpha!r}: expected a blend factor in (0, 1]")
    camera = video_camera(store)
    size = camera.size
    ids = store.track_ids() if tracks is None else list(tracks)
    rows: dict[int, list[tuple[int, int]]] = {}
    data = {}
    for tid in ids:
        track = read_track(store, tid, values)
        data[tid] = track
        for row, n in enumerate(track.frame.tolist()):
            rows.setdefault(n, []).append((tid, row))
    path = video if video is not None else store.source.get("path")
    frames_iter, reason = _source_frames(Path(path) if path else None, size)
    if reason:
        log.info("overlay: %s; drawing on a plain %dx%d background", reason, *size)
    plain = np.empty((size[1], size[0], 3), np.uint8)
    plain[:] = PLAIN_BACKGROUND
    template = body.smpl.v_template.detach().cpu().numpy()
    faces, closed = orient_faces(template, body.faces)
    total = len(store)
    with VideoWriter(out, fps=store.fps or 25.0, crf=crf) as writer, \
            progress_bar("overlay", total, enabled=progress) as advance:
        for start in range(0, total, _FRAMES_PER_FORWARD):
            stop = min(start + _FRAMES_PER_FORWARD, total)
            meshes = _pose_block(body, data, [rows.get(n, []) for n in range(start, stop)])
            for n in range(start, stop):
                bg = _next_frame(frames_iter, n, total) if frames_iter is not None else None
                if bg is None:
                    frames_iter = None
                people = meshes[n - start]
                colors = [track_color(tid)[::-1] for tid, _ in people]                  # BGR
                image = blend_meshes(bg if bg is not None else plain, [v for _, v in people], faces, camera.K,
                                     colors, alpha, cull_backfaces=closed)
                _labels(image, [(tid, data[tid].bbox[row]) for tid, row in rows.get(n, [])])
                writer.write(image)
                advance(1)
    return OverlaySummary(path=Path(out), frames=total, tracks=len(ids), background="plain" if reason else "video",
                          reason=reason)


def _next_frame(frames: Iterator[np.ndarray], n: int, total: int) -> np.ndarray | None:
    """The next source frame, or None (logged) when the video ends early or stops decoding."""
    try:
        bgr = next(frames, None)
    except FrameSourceError as err:
        log.info("overlay: %s; plain background from frame %d of %d", err, n, total)
        return None
    if bgr is None:
        log.info("overlay: the source video ends at frame %d of %d; plain background after it", n, total)
    return bgr


def _pose_block(body, data: dict, block: list[list[tuple[int, int]]]) -> list[list[tuple[int, np.ndarray]]]:
    """Per frame of the block, its [(track id, camera-frame vertices (V, 3))], one body forward for all."""
    flat = [(i, tid, row) for i, people in enumerate(block) for tid, row in people]
    out: list[list[tuple[int, np.ndarray]]] = [[] for _ in block]
    if not flat:
        return out
    pose = np.stack([data[tid].smpl_pose[row].reshape(72) for _, tid, row in flat])
    betas = np.stack([data[tid].smpl_betas[row] for _, tid, row in flat])
    trans = np.stack([data[tid].cam_trans[row] for _, tid, row in flat])
    with torch.no_grad():
        verts = body(torch.from_numpy(pose.astype(np.float32)), torch.from_numpy(betas.astype(np.float32)),
                     torch.from_numpy(trans.astype(np.float32))).vertices.numpy()
    for (i, tid, _), v in zip(flat, verts):
        out[i].append((tid, v))
    return out


def _labels(image: np.ndarray, boxes: list[tuple[int, np.ndarray]]) -> None:
    """Write each track id at the top-left of its xywh box, in the track colour with a dark outline."""
    h, w = image.shape[:2]
    scale = max(0.4, h / 720)
    for tid, box in boxes:
        if not np.isfinite(box).all():
            continue
        x = int(np.clip(box[0], 0, w - 1))
        y = int(np.clip(box[1] - 4, 12 * scale, h - 1))
        text, color = str(tid), tuple(int(c) for c in track_color(tid)[::-1])
        cv2.putText(image, text, (x, y), cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 0, 0), 3, cv2.LINE_AA)
        cv2.putText(image, text, (x, y), cv2.FONT_HERSHEY_SIMPLEX, scale, color, 1, cv2.LINE_AA)
