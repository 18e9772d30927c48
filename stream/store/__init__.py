"""The per-video Zarr v3 store: per-track SMPL sequences, written in order, resumable, read as numpy.

Write (one writer per video, frames in order; see ``stream.store.write``)::

    from stream.store import StoreWriter, open_store

    with StoreWriter.create("out.zarr", source={"path": "clip.mp4", "fps": 30.0, "size": (640, 360),
                                                "frame_count": 300},
                            camera={"focal": 800.0, "principal_point": (320.0, 180.0)}, joint_set="coco17",
                            config=config_dict, fingerprints=asset_hashes) as writer:
        for index, time, people in results:          # people: dict of (P, ...) arrays, keys PERSON_FIELDS
            writer.add_frame(index, time, people)
        writer.finish()

    writer = StoreWriter.resume("out.zarr", config=config_dict, fingerprints=asset_hashes)  # after a crash
    writer.frames_done                                   # continue from this frame

Read (``stream.store.read``)::

    store = open_store("out.zarr")
    for track in store:                                  # Track: frame, time, smpl_pose (T, 24, 3), ...
        ...
    store.offline(7)                                     # OfflineTrack after `stream smooth` (stream.smooth.offline)

Where: a local folder or an fsspec URL (``s3://bucket/out.zarr``; endpoint and credentials from the
environment, e.g. ``AWS_ENDPOINT_URL``): ``stream.store.location`` (``store_exists``, ``as_location``).

Layout, fill values and the commit rule: ``stream.store.layout``. Camera and ``cam_trans``:
``CAMERA_CONVENTION`` (also stored in ``attrs["camera"]["convention"]``): camera-frame vertices =
``body(smpl_pose, smpl_betas).vertices + cam_trans``. A store of a synthetic crowd's ground truth:
``stream.demo.synth.store_from_crowd``.
"""
from stream.store.layout import (CAMERA_CONVENTION, FORMAT, FRAME_ARRAYS, OFFLINE_ARRAYS, PERSON_FIELDS, TRACK_ARRAYS,
                                 FrameOrderError, StoreExistsError, StoreFormatError, StoreInputError,
                                 StoreMismatchError, StoreNotFoundError)
from stream.store.location import Location, as_location, is_url, store_exists
from stream.store.read import OfflineTrack, Store, Track, TrackSummary, info_lines, open_store
from stream.store.write import StoreWriter

__all__ = ["CAMERA_CONVENTION", "FORMAT", "FRAME_ARRAYS", "OFFLINE_ARRAYS", "PERSON_FIELDS", "TRACK_ARRAYS",
           "FrameOrderError", "Location", "OfflineTrack", "Store", "StoreExistsError", "StoreFormatError",
           "StoreInputError", "StoreMismatchError", "StoreNotFoundError", "StoreWriter", "Track", "TrackSummary",
           "as_location", "info_lines", "is_url", "open_store", "store_exists"]
