"""From a store (``stream.store``) to the exporters' plain arrays.

    ids = select_tracks(store, tracks=[3, 7], min_length=30)
    motions = [track_motion(store, i, body) for i in ids]
    camera = video_camera(store)
    motion = track_motion(store, 3, body, values="raw")     # the raw values, whatever else the store holds

Which values (``VALUES``): "auto" (the default) takes the offline-smoothed ones where the store has them
(``stream smooth``: every frame of a track's segments, filled frames included), else the online-smoothed
ones (written with ``smoothing.enabled``), else the raw ones; "smoothed" is "auto" but an error
(NotSmoothedError) for a store with raw values only; "offline", "online" and "raw" take those or fail.

A track's skeleton needs one shape, so ``track_motion`` averages the per-frame betas; each frame's SMPL
translation is then shifted so that the pelvis stays where the store puts it (``J_0`` is the rest pelvis
of a shape): ``trans = cam_trans + J_0(betas_t) - J_0(mean betas)``. Times become seconds from the
store's first frame (``frames/time[0]``).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from stream.export.motion import ExportError, TrackMotion, VideoCamera, rest_joints

log = logging.getLogger(__name__)


class TrackSelectionError(ExportError):
    """Track ids the store lacks, or a selection that leaves no track."""


class NotSmoothedError(ExportError):
    """Smoothed values asked of a store that lacks them."""


VALUES = ("auto", "smoothed", "offline", "online", "raw")
_HOW = {"offline": "run `stream smooth STORE` first",
        "online": "run `stream process` again with smoothing.enabled=true"}


@dataclass(frozen=True, eq=False)
class TrackValues:
    """The rows of a track an export reads: T rows, raw or online-smoothed (the observed frames), or
    offline-smoothed (every frame of its segments; ``observed`` False where filled, ``bbox`` interpolated)."""
    track_id: int
    frame: np.ndarray        # (T,) int32
    time: np.ndarray         # (T,) float64 seconds from the video start
    smpl_pose: np.ndarray    # (T, 24, 3)
    smpl_betas: np.ndarray   # (T, 10)
    cam_trans: np.ndarray    # (T, 3)
    bbox: np.ndarray         # (T, 4) xywh pixels
    observed: np.ndarray     # (T,) bool


def resolve_values(store, values: str = "auto") -> str:
    """Which values ``values`` (one of VALUES) reads from ``store``: "offline", "online" or "raw";
    NotSmoothedError naming the fix when the store lacks them."""
    if values not in VALUES:
        raise ExportError(f"values {values!r}: expected one of {', '.join(VALUES)}")
    have = ["offline"] * (store.offline_smoothing is not None) + ["online"] * store.smoothed + ["raw"]
    if values == "auto" or (values == "smoothed" and have[0] != "raw"):
        return have[0]
    if values in have:
        return values
    fix = "; ".join(f"{kind}: {how}" for kind, how in _HOW.items() if values in (kind, "smoothed"))
    raise NotSmoothedError(f"store {store.path} has no {'' if values == 'smoothed' else values + '-'}smoothed "
                           f"values (it has {', '.join(have)}); export the raw values (--raw), or make them ({fix})")


def read_track(store, track_id: int, values: str = "auto") -> TrackValues:
    """A track's rows as ``values`` (one of VALUES; see the module docstring) picks them."""
    kind = resolve_values(store, values)
    track = store.track(track_id)
    if kind == "offline":
        off = store.offline(track_id)
        bbox = np.stack([np.interp(off.frame, track.frame, column) for column in track.bbox.T], -1)
        return TrackValues(track.track_id, off.frame, off.time, off.smpl_pose, off.smpl_betas, off.cam_trans,
                           bbox, off.observed)
    pose, trans = (track.smooth_smpl_pose, track.smooth_cam_trans) if kind == "online" else \
        (track.smpl_pose, track.cam_trans)
    return TrackValues(track.track_id, track.frame, track.time, pose, track.smpl_betas, trans, track.bbox,
                       np.ones(len(track), bool))


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


def track_motion(store, track_id: int, body, values: str = "auto") -> TrackMotion:
    """One stored track as a ``TrackMotion`` with one (mean) shape, from the values ``values`` picks (one of
    VALUES); see the module docstring."""
    track = read_track(store, track_id, values)
    betas_t = np.asarray(track.smpl_betas, dtype=np.float64)
    betas = betas_t.mean(axis=0)
    rest_t, rest = rest_joints(body, betas_t), rest_joints(body, betas)
    trans = np.asarray(track.cam_trans, dtype=np.float64) + rest_t[:, 0] - rest[0]
    t0 = float(store.frames()[0][0])
    return TrackMotion(track_id=int(track_id), frame=np.asarray(track.frame, dtype=np.int64),
                       time=np.asarray(track.time, dtype=np.float64) - t0,
                       poses=np.asarray(track.smpl_pose, dtype=np.float64), trans=trans, betas=betas,
                       observed=track.observed)


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
