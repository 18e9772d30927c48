"""The offline-smoothed values of a store, beside the raw arrays: ``tracks/<id>/offline`` and
``attrs["offline_smoothing"]`` (layout and commit rule: ``stream.store.layout``).

    drop_offline(root, path)                          # the attr first, then the groups (StoreWriter.resume too)
    write_track_offline(root, track_id, arrays)       # each track's group
    commit_offline(root, parameters)                  # the attr last: the commit point

``arrays``: the ``OFFLINE_ARRAYS`` of one track (``stream.smooth.offline.smooth_track`` makes them);
``parameters``: JSON, stored as ``attrs["offline_smoothing"]``, with the ``frames_done`` they were made from.
The raw arrays are never written here. The reader side is ``Store.offline`` (``stream.store.read``).
"""
from __future__ import annotations

import logging

import numpy as np
import zarr

from stream.store.layout import (COMPRESSOR, OFFLINE_ARRAYS, OFFLINE_ATTR, OFFLINE_GROUP, StoreInputError,
                                 json_value)
from stream.store.location import Location, listing, remove

log = logging.getLogger(__name__)


def drop_offline(root: zarr.Group, path: Location) -> None:
    """Remove ``attrs["offline_smoothing"]``, then every ``tracks/<id>/offline`` group (safe to run twice)."""
    attrs = dict(root.attrs.asdict())
    if OFFLINE_ATTR in attrs:
        del attrs[OFFLINE_ATTR]
        root.attrs.put(attrs)        # first: groups without the attr are not read, whatever is left of them
    groups = sorted({"/".join(parts[:3]) for parts in (key.split("/") for key in listing(path))
                     if len(parts) >= 3 and parts[0] == "tracks" and parts[2] == OFFLINE_GROUP})
    if groups:
        log.debug("store %s: removing %d offline groups", path, len(groups))
        remove(path, groups)


def write_track_offline(root: zarr.Group, track_id: int, arrays: dict[str, np.ndarray]) -> None:
    """Write one track's OFFLINE_ARRAYS as ``tracks/<id>/offline`` (after ``drop_offline``; not read until
    ``commit_offline``)."""
    track = root[f"tracks/{int(track_id)}"]
    group = track.create_group(OFFLINE_GROUP)
    chunk = int(track["frame"].chunks[0])
    rows = len(arrays["frame"])
    for name, spec in OFFLINE_ARRAYS.items():
        data = np.asarray(arrays[name]).astype(spec.dtype, copy=False)
        if data.shape != (rows, *spec.shape):
            raise StoreInputError(f"track {track_id}: offline {name} has shape {data.shape}, expected "
                                  f"{(rows, *spec.shape)} ({rows} rows, as offline frame)")
        array = group.create_array(name, shape=data.shape, chunks=(chunk, *spec.shape), dtype=spec.dtype,
                                   fill_value=spec.fill, compressors=COMPRESSOR, dimension_names=spec.dims)
        array[:] = data


def commit_offline(root: zarr.Group, parameters: dict) -> None:
    """Record ``parameters`` (JSON, with the ``frames_done`` the values were made from) as
    ``attrs["offline_smoothing"]``: from now on the reader shows the offline values."""
    if "frames_done" not in parameters:
        raise StoreInputError(f"offline parameters {parameters!r}: expected the frames_done they were made from")
    attrs = dict(root.attrs.asdict())
    attrs[OFFLINE_ATTR] = json_value(parameters, "offline parameters")
    root.attrs.put(attrs)
