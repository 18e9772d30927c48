"""From a store (``stream.store``) to the exporters' plain arrays.

    ids = select_tracks(store, tracks=[3, 7], min_length=30)
    motions = [track_motion(store, i, body) for i in ids]
    camera = video_camera(store)
    motion = track_motion(store, 3, body, smoothed=True)    # the smoothed values (stores written with smoothing)

A track's skeleton needs one shape, so ``track_motion`` averages the per-frame betas; each frame's SMPL
translation is then shifted so that the pelvis stays where the store puts it (``J_0`` is the rest pelvis
of a shape): ``trans = cam_trans + J_0(betas_t) - J_0(mean betas)``. Times become seconds from the
store's first frame (``frames/time[0]``).
"""
from __future__ import annotations

import dataclasses
import logging

import numpy as np

from stream.export.motion import ExportError, TrackMotion, VideoCamera, rest_joints

log = logging.getLogger(__name__)


class TrackSelectionError(ExportError):
    """Track ids the store lacks, or a selection that leaves no track."""


class NotSmoothedError(ExportError):
    """Smoothed values asked of a store written without smoothing."""


def check_smoothed(store) -> None:
    """NotSmoothedError unless the store holds smoothed values (``smooth_smpl_pose``, ``smooth_cam_trans``)."""
    if not store.smoothed:
        raise NotSmoothedError(f"store {store.path} has no smoothed values (it was written with smoothing off); "
                               "export the raw values (leave out --smoothed), or run `stream process` again with "
                               "smoothing.enabled=true")


def read_track(store, track_id: int, smoothed: bool = False):
    """``store.track(track_id)``; with ``smoothed`` its smoothed pose and translation in place of the raw ones."""
    track = store.track(track_id)
    if not smoothed:
        return track
    check_smoothed(store)
    return dataclasses.replace(track, smpl_pose=track.smooth_smpl_pose, cam_trans=track.smooth_cam_trans)


def select_tracks(store, tracks: list[int] | None = None, min_length: int = 1) -> list[int]:
    """Ids of the tracks to export: ``tracks`` (all when None) with at least ``min_length`` frames."""
    summaries = {s.track_id: s for s in store.summaries()}
    if isinstance(min_length, bool) or not isinstance(min_length, (int, np.integer)) or min_length < 1:
        raise TrackSelectionError(f"min_length = {min_length!r}: expected a whole number of frames >= 1")
    if tracks is not None:
        unknown = [t for t in tracks if t not in summaries]
        if unknown:
            raise TrackSelectionError(f"store {store.path} has no track {', '.join(map(str, unknown))}; its tracks: "
                                      f"{_summary_text(summaries)}")
    chosen = sorted(summaries) if tracks is None else list(dict.fromkeys(tracks))
    kept = [t for t in chosen if summaries[t].length >= min_length]
    if not kept:
        what = "the store has no tracks" if not summaries else (
            f"no track of {chosen if tracks is not None else 'the store'} has at least {min_length} frames; "
            f"lengths: {_summary_text(summaries)}")
        raise TrackSelectionError(f"nothing to export from {store.path}: {what}; choose other --tracks or a "
                                  "smaller --min-length")
    dropped = len(chosen) - len(kept)
    if dropped:
        log.info("%d of %d tracks shorter than %d frames left out", dropped, len(chosen), min_length)
    return kept


def _summary_text(summaries: dict, limit: int = 20) -> str:
    items = [f"{t} ({s.length} frames)" for t, s in sorted(summaries.items())]
    return ", ".join(items[:limit]) + (f", ... ({len(items)} tracks)" if len(items) > limit else "") or "none"


def track_motion(store, track_id: int, body, smoothed: bool = False) -> TrackMotion:
    """One stored track as a ``TrackMotion`` with one (mean) shape; see the module docstring. ``smoothed``:
    from the smoothed pose and translation (NotSmoothedError when the store has none)."""
    track = read_track(store, track_id, smoothed)
    betas_t = np.asarray(track.smpl_betas, dtype=np.float64)
    betas = betas_t.mean(axis=0)
    rest_t, rest = rest_joints(body, betas_t), rest_joints(body, betas)
    trans = np.asarray(track.cam_trans, dtype=np.float64) + rest_t[:, 0] - rest[0]
    t0 = float(store.frames()[0][0])
    return TrackMotion(track_id=int(track_id), frame=np.asarray(track.frame, dtype=np.int64),
                       time=np.asarray(track.time, dtype=np.float64) - t0,
                       poses=np.asarray(track.smpl_pose, dtype=np.float64), trans=trans, betas=betas)


def video_camera(store) -> VideoCamera:
    """The store's full-image camera (focal may be stored as one number or (fx, fy))."""
    camera, source = store.camera, store.source
    focal = np.broadcast_to(np.asarray(camera["focal"], dtype=np.float64), (2,))
    size = source.get("size")
    if not size:
        raise ExportError(f"store {store.path} does not record the image size (attrs source.size); expected "
                          "[width, height]")
    return VideoCamera(focal=(float(focal[0]), float(focal[1])),
                       principal_point=tuple(float(v) for v in camera["principal_point"]),
                       size=(int(size[0]), int(size[1])))


def store_fps(store) -> float:
    fps = store.fps
    if not fps:
        raise ExportError(f"store {store.path} has no frame rate (no source fps and fewer than 2 frames); "
                          "BVH and AMASS need one")
    return float(fps)


def check_body(store, body) -> str | None:
    """A warning when the store records a body fingerprint other than ``body``'s; None when they agree or
    the store records none."""
    stored = (store.attrs.get("fingerprints") or {}).get("body_sha256")
    if stored and stored != body.fingerprint():
        return (f"store {store.path} was made with another body model (body_sha256 {stored[:12]}...); the export "
                "uses the one given, so bone lengths and meshes follow that model")
    return None
