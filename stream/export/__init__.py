"""Export a store's tracks as animation files: BVH, glTF binary (GLB), AMASS-style npz, overlay video.

    from stream.export import export_store
    from stream.store import open_store

    summary = export_store(open_store("out.zarr"), body, "glb", "crowd.glb", tracks=[3, 7], min_length=30)

Or per format, from plain arrays (``TrackMotion``; ``stream.export.tracks`` reads them from a store)::

    motions = [track_motion(store, i, body) for i in select_tracks(store, min_length=30)]
    write_bvh("track_3.bvh", motions[0], body, fps=30.0)      # one file per track
    write_glb("crowd.glb", motions, body, camera=video_camera(store))
    write_amass("npz/", motions, body, fps=30.0)              # track_<id>.npz + all_tracks.npz
    write_overlay(store, body, "overlay.mp4")                 # meshes over the video

Values: by default the offline-smoothed ones where the store has them (``stream smooth``; filled frames
included), else the online-smoothed ones, else the raw ones; ``values="raw"`` (``--raw``) forces the raw
ones (``stream.export.tracks.VALUES``).

Shared conventions (``stream.export.motion``): files are +Y up, right-handed, metres, mapped from the
camera frame (x right, y down, z forward) by ``(x, -y, -z)``; times are seconds from the video start.
Modules: ``motion`` (TrackMotion, skeleton, conventions; rotations from ``nets.rotations``), ``tracks`` (store adapter),
``bvh``, ``glb`` (GLB container), ``gltf``, ``amass``, ``overlay``, ``run`` (export_store).
"""
from stream.export.amass import write_amass
from stream.export.bvh import write_bvh
from stream.export.gltf import glb_bytes, write_glb
from stream.export.motion import CAMERA_TO_EXPORT, ExportError, Skeleton, TrackMotion, VideoCamera, pose_skeleton
from stream.export.overlay import write_overlay
from stream.export.run import FORMATS, ExportSummary, export_store, recorded_standin
from stream.export.tracks import (VALUES, NotSmoothedError, TrackSelectionError, TrackValues, read_track,
                                  select_tracks, track_motion, video_camera)

__all__ = ["CAMERA_TO_EXPORT", "ExportError", "ExportSummary", "FORMATS", "NotSmoothedError", "Skeleton", "TrackMotion",
           "TrackSelectionError", "TrackValues", "VALUES", "VideoCamera", "export_store", "glb_bytes", "pose_skeleton",
           "read_track", "recorded_standin", "select_tracks", "track_motion", "video_camera", "write_amass",
           "write_bvh", "write_glb", "write_overlay"]
