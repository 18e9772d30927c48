"""Writing a store: frames in order, appended to Zarr in buffered blocks, resumable after a crash.

    with StoreWriter.create("out.zarr", source={"path": "clip.mp4", "fps": 30.0, "size": (640, 360)},
                            camera={"focal": 800.0, "principal_point": (320, 180)}, joint_set="coco17",
                            config=cfg, fingerprints=fps) as writer:
        for index, time, people in results:          # people: dict of stacked (P, ...) arrays
            writer.add_frame(index, time, people)
        writer.finish()

    with StoreWriter.resume("out.zarr", config=cfg, fingerprints=fps) as writer:
        start = writer.frames_done                    # feed frames from here on

A flush (every ``flush_frames`` frames, and on leaving the ``with`` block) appends each track's rows,
then ``frames/time`` and ``frames/n_people``, and only then writes ``progress.frames_done``. Zarr's
local store replaces every file atomically, so a writer killed at any point leaves a store whose
``frames_done`` frames are complete; rows past them are ignored by the reader and removed by
``resume``. ``fsync=True`` also forces each flush's files to disk before the progress is written
(survives a power loss, costs a sync per file).

The store may also be an fsspec URL (``s3://bucket/out.zarr``; ``stream.store.location``): the same layout
and commit rule, as objects. Each object write is atomic on an object store and kept once acknowledged, so
the rule holds without ``fsync``, which applies to local stores only. ``resume`` deletes the objects past
``frames_done`` through the URL's fsspec filesystem.
"""
from __future__ import annotations

import logging
import os
from collections import defaultdict
from pathlib import Path

import numpy as np
import zarr

from stream.store.checks import check_camera, check_joint_set, check_source, json_dict, stack_people
from stream.store.layout import (COMPRESSOR, FORMAT, FRAME_ARRAYS, FrameOrderError, StoreExistsError,
                                 StoreFormatError, StoreInputError, StoreMismatchError, committed_rows,
                                 OFFLINE_ATTR, crowdmesh_version, differences, track_arrays)
from stream.store.location import Location, as_location, children, listing, remove, store_exists, zarr_store
from stream.store.offline import drop_offline
from stream.store.read import open_root

log = logging.getLogger(__name__)


class StoreWriter:
    """Appends frames to one store; use ``StoreWriter.create`` or ``StoreWriter.resume`` in a ``with``."""

    def __init__(self, root: zarr.Group, path: Location, *, flush_frames: int, fsync: bool):
        self.path, self._root = path, root
        self._fsync = fsync and isinstance(path, Path)  # a URL store's object writes need no fsync
        if not isinstance(flush_frames, int) or flush_frames < 1:
            raise StoreInputError(f"flush_frames = {flush_frames!r}: expected a whole number of frames >= 1")
        self.flush_frames = flush_frames
        self._attrs = dict(root.attrs.asdict())
        self._num_keypoints = int(self._attrs["num_keypoints"])
        self._arrays = track_arrays(self._attrs)             # per-track arrays, "frame" first
        self.smoothed = self._attrs.get("smoothing") is not None  # tracks also keep smooth_* arrays
        # opened once: each lookup reads metadata, a request on an object store
        self._tracks, self._time, self._n_people = root["tracks"], root["frames/time"], root["frames/n_people"]
        self._chunk = int(self._time.chunks[0])
        self._frames: list[tuple[float, int]] = []          # buffered (time, n_people)
        self._rows: dict[int, dict[str, list]] = {}         # buffered rows per track
        self._spans: dict[int, list[int]] = {}              # [first_frame, last_frame] of every stored track
        self._open: dict[int, tuple] = {}                   # (group, arrays) of the tracks of the last flush
        for group_name, group in self._tracks.groups():
            self._spans[int(group_name)] = [int(group.attrs["first_frame"]), int(group.attrs["last_frame"])]

    # -- opening ---------------------------------------------------------------------------------
    @classmethod
    def create(cls, path, *, source: dict, camera: dict, joint_set: str, config: dict, fingerprints: dict,
               num_keypoints: int | None = None, smoothing: dict | None = None, flush_frames: int = 64,
               chunk_frames: int = 256, fsync: bool = False, overwrite: bool = False) -> StoreWriter:
        """A new, empty store at ``path`` (a folder ``*.zarr``, or a URL such as ``s3://bucket/out.zarr``).

        source: ``path``, ``fps``, ``size`` (w, h), ``frame_count`` (each may be None when unknown; more
        keys are kept); camera: ``focal`` (f or (fx, fy)) and ``principal_point`` (cx, cy) in pixels of
        the full image; joint_set: the set of ``keypoints2d`` (``nets.joints``), ``num_keypoints`` its
        size (checked); config, fingerprints: JSON dicts compared on ``resume``; smoothing: None, or the
        smoothing filter's parameters (``TrackSmoother.describe()``, kept in ``attrs["smoothing"]``): every
        track then also stores ``smooth_smpl_pose`` and ``smooth_cam_trans``, which ``add_frame`` requires.
        """
        path = as_location(path)
        if store_exists(path) and not overwrite:
            raise StoreExistsError(f"store {path} already exists; resume it (StoreWriter.resume / --resume), "
                                   "pass overwrite=True to replace it, or choose another path")
        if not isinstance(chunk_frames, int) or chunk_frames < 1:
            raise StoreInputError(f"chunk_frames = {chunk_frames!r}: expected a whole number of rows >= 1")
        attrs = {
            "format": FORMAT, "crowdmesh_version": crowdmesh_version(), "source": check_source(source),
            "fingerprints": json_dict(fingerprints, "fingerprints"), "config": json_dict(config, "config"),
            "camera": check_camera(camera), "joint_set": joint_set,
            "num_keypoints": check_joint_set(joint_set, num_keypoints),
            "smoothing": None if smoothing is None else json_dict(smoothing, "smoothing"),
            "progress": {"frames_done": 0, "complete": False}, "errors": [], "resumes": []}
        if store_exists(path):
            _remove_store(path)
        root = zarr.open_group(zarr_store(path, read_only=False), mode="w", attributes=attrs, zarr_format=3)
        frames = root.create_group("frames")
        for name, spec in FRAME_ARRAYS.items():
            frames.create_array(name, shape=(0,), chunks=(chunk_frames,), dtype=spec.dtype, fill_value=spec.fill,
                                compressors=COMPRESSOR, dimension_names=spec.dims)
        root.create_group("tracks")
        log.debug("store %s created (%s, %d keypoints)", path, joint_set, attrs["num_keypoints"])
        return cls(root, path, flush_frames=flush_frames, fsync=fsync)

    @classmethod
    def resume(cls, path, *, config: dict, fingerprints: dict, force: bool = False, flush_frames: int = 64,
               fsync: bool = False) -> StoreWriter:
        """Reopen a store written with the same config and fingerprints and continue at ``frames_done``.

        Rows past ``frames_done`` (left by a killed writer) are removed, as are tracks that start there,
        and, unless the store is complete, the offline-smoothed values (``stream.store.offline``).
        A different config or fingerprints raises StoreMismatchError naming the keys; ``force=True``
        continues with the new ones (recorded in ``attrs["resumes"]``).
        """
        root, path = open_root(path, mode="r+")
        attrs = dict(root.attrs.asdict())
        diffs = (differences(attrs["config"], json_dict(config, "config"), "config")
                 + differences(attrs["fingerprints"], json_dict(fingerprints, "fingerprints"), "fingerprints"))
        if diffs and not force:
            raise StoreMismatchError(
                f"store {path} was written with a different setup: {'; '.join(diffs)}. Resume with the same "
                "config and assets, pass force=True (`--force`) to continue with the new ones anyway (the store "
                "then mixes two setups), or write a new store")
        if diffs:
            log.warning("resuming %s with a different setup (forced): %s", path, "; ".join(diffs))
        done = int(attrs["progress"]["frames_done"])
        if not attrs["progress"]["complete"]:    # the raw arrays grow again: offline values would be stale
            drop_offline(root, path)
            attrs.pop(OFFLINE_ATTR, None)
        _truncate_store(root, path, done)
        attrs["config"], attrs["fingerprints"] = json_dict(config, "config"), json_dict(fingerprints, "fingerprints")
        attrs["resumes"] = [*attrs.get("resumes", []), {"frames_done": done, "forced": diffs}]
        root.attrs.put(attrs)
        log.info("store %s resumed at frame %d", path, done)
        return cls(root, path, flush_frames=flush_frames, fsync=fsync)

    def __enter__(self) -> StoreWriter:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        """Flush what is buffered: every buffered frame is whole, so it is kept even after an error."""
        if exc_type is None:
            self.flush()
            return
        try:
            self.flush()
        except Exception:  # the original error matters more; the store stays at its last flush
            log.exception("store %s: flushing after %s failed", self.path, exc_type.__name__)

    # -- state -----------------------------------------------------------------------------------
    @property
    def frames_done(self) -> int:
        """Frames durably in the store (the commit point)."""
        return int(self._attrs["progress"]["frames_done"])

    @property
    def buffered(self) -> int:
        """Frames added but not flushed yet (at most ``flush_frames``)."""
        return len(self._frames)

    @property
    def next_frame(self) -> int:
        """The ``frame_index`` the next ``add_frame`` must have."""
        return self.frames_done + self.buffered

    @property
    def complete(self) -> bool:
        return bool(self._attrs["progress"]["complete"])

    # -- writing ---------------------------------------------------------------------------------
    def add_frame(self, frame_index: int, time: float, people) -> None:
        """Add frame ``frame_index`` (must be ``next_frame``) at ``time`` seconds with its people.

        ``people``: a dict of stacked arrays, one row per person (P = 0 for a frame without people):
        ``PERSON_FIELDS`` of ``stream.store.layout`` (``track_id`` (P,), ``smpl_pose`` (P, 24, 3) or (P, 72),
        ...), plus ``smooth_smpl_pose`` and ``smooth_cam_trans`` exactly when the store is ``smoothed``.
        """
        if self.complete:
            raise FrameOrderError(f"store {self.path} is complete ({self.frames_done} frames); it takes no more "
                                  "frames")
        if isinstance(frame_index, bool) or not isinstance(frame_index, (int, np.integer)) \
                or frame_index != self.next_frame:
            raise FrameOrderError(f"frame {frame_index!r} arrived, expected frame {self.next_frame} (frames go to "
                                  f"the store in order, each once: {self.frames_done} stored, {self.buffered} "
                                  "buffered)")
        time = float(time)
        if not np.isfinite(time):
            raise StoreInputError(f"frame {frame_index}: time {time} is not a finite number of seconds")
        rows = stack_people(people, int(frame_index), self._num_keypoints, smoothed=self.smoothed)
        count = len(rows["track_id"])
        if count > np.iinfo(np.int16).max:
            raise StoreInputError(f"frame {frame_index}: {count} people; the store holds at most 32767 per frame")
        for i, track_id in enumerate(rows["track_id"].tolist()):
            buffer = self._rows.setdefault(track_id, defaultdict(list))
            buffer["frame"].append(np.int32(frame_index))
            for name in self._arrays:
                if name != "frame":
                    buffer[name].append(rows[name][i])
        self._frames.append((time, count))
        if len(self._frames) >= self.flush_frames:
            self.flush()

    def record_error(self, message: str) -> None:
        """Record an error (e.g. a truncated input) in ``attrs["errors"]`` with the frame it happened at."""
        self._attrs["errors"] = [*self._attrs["errors"], {"frame": self.next_frame, "message": str(message)}]
        self._root.attrs.put(self._attrs)
        log.warning("store %s: recorded error at frame %d: %s", self.path, self.next_frame, message)

    def finish(self) -> None:
        """Flush and mark the store complete (every frame of the input is in it)."""
        self.flush()
        self._attrs["progress"] = {"frames_done": self.frames_done, "complete": True}
        self._root.attrs.put(self._attrs)
        self._sync(["zarr.json"])

    def flush(self) -> None:
        """Append the buffered frames: track rows, then frames/*, then ``progress.frames_done``."""
        if not self._frames:
            return
        done, new_done = self.frames_done, self.next_frame
        written = [self._flush_track(track_id) for track_id in sorted(self._rows)]
        touched = [path for _, paths in written for path in paths]
        times, counts = zip(*self._frames)
        touched += self._append(self._time, np.array(times, np.float64))
        touched += self._append(self._n_people, np.array(counts, np.int16))
        self._sync(touched)
        self._attrs["progress"] = {"frames_done": new_done, "complete": False}
        self._root.attrs.put(self._attrs)
        self._sync(["zarr.json"])
        log.debug("store %s: frames %d..%d flushed (%d tracks)", self.path, done, new_done - 1, len(self._rows))
        self._open = {track_id: opened for track_id, (opened, _) in zip(sorted(self._rows), written)}
        self._frames, self._rows = [], {}  # keep the arrays of the tracks still going, not of every track

    def _flush_track(self, track_id: int) -> tuple[tuple, list[str]]:
        """Append one track's buffered rows and its last_frame; returns (group, arrays) and the keys written."""
        buffer = self._rows[track_id]
        group, arrays = self._track(track_id, int(buffer["frame"][0]))
        touched = []
        for name in self._arrays:
            touched += self._append(arrays[name], np.stack(buffer[name]))
        self._spans[track_id][1] = int(buffer["frame"][-1])
        group.attrs.put({"track_id": track_id, "first_frame": self._spans[track_id][0],
                         "last_frame": self._spans[track_id][1]})
        return (group, arrays), touched + [f"tracks/{track_id}/zarr.json"]

    def _track(self, track_id: int, first_frame: int) -> tuple[zarr.Group, dict[str, zarr.Array]]:
        """The group and arrays of a track, created at its first flush."""
        if track_id in self._open:
            return self._open[track_id]
        if track_id in self._spans:
            group = self._tracks[str(track_id)]
            return group, {name: group[name] for name in self._arrays}
        attrs = {"track_id": track_id, "first_frame": first_frame, "last_frame": first_frame}
        group = self._tracks.create_group(str(track_id), attributes=attrs)
        self._spans[track_id] = [first_frame, first_frame]
        arrays = {}
        for name, spec in self._arrays.items():
            shape = tuple(self._num_keypoints if n is None else n for n in spec.shape)
            arrays[name] = group.create_array(name, shape=(0, *shape), chunks=(self._chunk, *shape),
                                              dtype=spec.dtype, fill_value=spec.fill, compressors=COMPRESSOR,
                                              dimension_names=spec.dims)
        return group, arrays

    def _append(self, array: zarr.Array, rows: np.ndarray) -> list[str]:
        """Append rows; returns the keys written, relative to the store (for ``fsync``)."""
        start = array.shape[0]
        array.append(rows.astype(array.dtype, copy=False))
        if not self._fsync:
            return []
        zeros, chunks = "/0" * (array.ndim - 1), range(start // self._chunk, (array.shape[0] - 1) // self._chunk + 1)
        return [f"{array.path}/zarr.json"] + [f"{array.path}/c/{i}{zeros}" for i in chunks]

    def _sync(self, keys: list[str]) -> None:
        """fsync the files of a local store at ``keys`` and the folders holding them."""
        if not self._fsync:
            return
        files = [self.path / key for key in keys]
        for path in {*files, *(f.parent for f in files)}:  # the files, then the folders holding their names
            if path.exists():
                _fsync(path)


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _truncate_store(root: zarr.Group, path: Location, frames_done: int) -> None:
    """Cut every array to the rows of frames < frames_done; drop tracks that start later (idempotent)."""
    keys = listing(path)  # (".partial": the temporary files of writes a killed writer left unfinished)
    remove(path, [key for key in keys if key.endswith(".partial")])
    for name in FRAME_ARRAYS:
        _truncate(root[f"frames/{name}"], frames_done, path, children(keys, f"frames/{name}/c"))
    arrays = track_arrays(root.attrs.asdict())
    for track in sorted(name for name, is_dir in children(keys, "tracks").items() if is_dir):
        group = root["tracks"].get(track) if f"tracks/{track}/zarr.json" in keys else None
        if group is None or int(group.attrs.get("first_frame", frames_done)) >= frames_done \
                or any(name not in group for name in arrays):
            _remove_track(path, track)
            continue
        rows = committed_rows(group["frame"][:], frames_done)
        for name in arrays:
            if group[name].shape[0] < rows:
                raise StoreFormatError(f"store {path}: track {track} has {group[name].shape[0]} rows of "
                                       f"{name} but {rows} frames before frame {frames_done}; the store is "
                                       "damaged, write a new one")
            _truncate(group[name], rows, path, children(keys, f"tracks/{track}/{name}/c"))
        group.attrs.put({**group.attrs.asdict(), "last_frame": int(group["frame"][rows - 1])})


def _remove_store(path: Location) -> None:
    """Delete a crowdmesh store (``overwrite=True``); anything else at the path is left alone."""
    try:
        open_root(path)
    except ValueError:
        empty = path.is_dir() and not any(path.iterdir()) if isinstance(path, Path) else not listing(path)
        if not empty:
            raise StoreExistsError(f"{path} exists and is not a crowdmesh store; overwrite=True only replaces a "
                                   "store: remove it yourself or choose another path") from None
    remove(path, [""])


def _remove_track(path: Location, track: str) -> None:
    log.debug("removing track %s of %s (starts at or after the last durable frame)", track, path)
    remove(path, [f"tracks/{track}/zarr.json"])  # first: a half-removed folder is no group
    remove(path, [f"tracks/{track}"])


def _truncate(array: zarr.Array, rows: int, path: Location, chunks: dict[str, bool]) -> None:
    """Cut ``array`` to ``rows``, leaving nothing behind its end; ``chunks``: the entries of its ``c`` folder.

    Zarr keeps the rest of the last chunk and any chunk file past the shape it knew; growing the array
    again would show their stale rows. So: fill the last chunk's rows past ``rows``, delete every later
    chunk file (or folder), then set the shape. A crash at any step leaves a state the same call repairs.
    """
    chunk = array.chunks[0]
    end = -(-rows // chunk) * chunk
    if end > rows:
        if array.shape[0] != end:
            array.resize((end, *array.shape[1:]))
        array[rows:end] = np.full((end - rows, *array.shape[1:]), array.fill_value, array.dtype)
    remove(path, [f"{array.path}/c/{name}" for name in chunks if name.isdigit() and int(name) >= end // chunk])
    if array.shape[0] != rows:
        array.resize((rows, *array.shape[1:]))
