"""``stream export``: one store, one format, the chosen tracks.

    summary = export_store(open_store("out.zarr"), body, "glb", "crowd.glb", tracks=[3, 7], min_length=30)
    summary = export_store(store, body, "bvh", "bvh/", values="raw")     # the raw values (--raw)
    summary.paths, summary.tracks, summary.values, summary.notes

``values`` picks the values (``stream.export.tracks.VALUES``): by default ("auto") the offline-smoothed ones
where the store has them (filled frames included: BVH, GLB, npz and video show them; npz marks them in
``observed``), else the online-smoothed ones, else the raw ones.

    body = recorded_standin(store) or BodyModel.from_files(smpl, joint_regressor_extra)   # which body

``out`` is a file for ``glb`` (.glb) and ``video`` (.mp4), and a folder for ``bvh`` (``track_<id>.bvh``)
and ``npz`` (``track_<id>.npz`` and ``all_tracks.npz``).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

from stream.export.amass import write_amass
from stream.export.bvh import write_bvh
from stream.export.gltf import write_glb
from stream.export.motion import ExportError
from stream.export.overlay import write_overlay
from stream.export.tracks import (check_body, resolve_values, select_tracks, store_fps, track_motion,
                                  video_camera)

log = logging.getLogger(__name__)

FORMATS = ("bvh", "glb", "npz", "video")


def recorded_standin(store):
    """The synthetic stand-in body (``nets.standin``) when ``store`` records it as the body it was made with
    (``attrs["fingerprints"]["body_sha256"]``), else None: a real SMPL model cannot be found from its digest.

    The stand-in is built from code, the same way each time, so its fingerprint identifies it."""
    from nets.body import BodyModel
    from nets.standin import make_standin_body

    stored = (store.attrs.get("fingerprints") or {}).get("body_sha256")
    if not stored:
        return None
    body = BodyModel(*make_standin_body())
    if body.fingerprint() != stored:
        return None
    log.info("%s was made with the synthetic stand-in body (not SMPL); exporting with it", store.path)
    return body


@dataclass
class ExportSummary:
    format: str
    paths: list[Path]
    tracks: list[int]
    notes: list[str] = field(default_factory=list)   # things the user should hear (plain background, ...)
    values: str = "raw"                               # the values exported: offline, online or raw


def export_store(store, body, format: str, out, tracks: list[int] | None = None, min_length: int = 1,
                 video=None, bvh_scale: float = 1.0, progress: bool = False, values: str = "auto") -> ExportSummary:
    """Export ``store``'s tracks in ``format`` (one of ``FORMATS``) to ``out``; see the module docstring.

    ``values``: one of ``stream.export.tracks.VALUES`` (NotSmoothedError, an ExportError, when the store
    lacks the smoothed values asked for).
    """
    if format not in FORMATS:
        raise ExportError(f"format {format!r}: expected one of {', '.join(FORMATS)}")
    values = resolve_values(store, values)
    log.info("exporting the %s values of %s", values, store.path)
    ids = select_tracks(store, tracks, min_length)
    notes = [note for note in [check_body(store, body)] if note]
    for note in notes:
        log.warning(note)
    out = Path(out)
    if format == "video":
        result = write_overlay(store, body, out, tracks=ids, video=video, progress=progress, values=values)
        if result.reason:
            w, h = video_camera(store).size
            notes.append(f"{result.reason}; meshes drawn on a plain {w}x{h} background")
        return ExportSummary(format, [result.path], ids, notes, values)
    if format == "glb":
        motions = [track_motion(store, i, body, values) for i in ids]
        version = store.attrs.get("crowdmesh_version", "unknown")
        path = write_glb(out, motions, body, camera=_camera_or_none(store), generator=f"crowdmesh {version}")
        return ExportSummary(format, [path], ids, notes, values)
    fps = store_fps(store)
    motions = [track_motion(store, i, body, values) for i in ids]
    if format == "npz":
        paths = write_amass(out, motions, body, fps, camera=_camera_or_none(store))
        return ExportSummary(format, paths, ids, notes, values)
    paths = []
    for motion in motions:
        paths.append(write_bvh(out / f"track_{motion.track_id}.bvh", motion, body, fps, scale=bvh_scale))
        log.info("%s: frames %d..%d of the video", paths[-1], motion.frame[0], motion.frame[-1])
    return ExportSummary(format, paths, ids, notes, values)


def _camera_or_none(store):
    try:
        return video_camera(store)
    except (ExportError, KeyError, TypeError, ValueError) as err:
        log.info("no camera in the export: %s", err)
        return None
