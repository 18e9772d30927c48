"""Reading a store: tracks as numpy arrays.

    store = open_store("out.zarr")                              # or a URL: "s3://bucket/out.zarr"
    store.frames_done, store.complete, store.fps, len(store)    # len = frames in the store
    time, n_people = store.frames()                             # (N,) f64 seconds, (N,) i16
    for track in store:                                         # Track, in id order
        track.frame, track.time, track.smpl_pose                # (T,), (T,), (T, 24, 3) ...
    store.track(7).cam_trans                                    # (T, 3)
    store.smoothed, track.smooth_smpl_pose                      # written with smoothing: (T, 24, 3), else None
    store.offline_smoothing, store.offline(7)                   # after `stream smooth`: OfflineTrack, else None

A Store is a snapshot taken when it is opened: its ``frames_done`` frames, and of each track the rows
of those frames (rows a running or killed writer put past them are left out). Reopen to see more.
"""
from __future__ import annotations

from dataclasses import dataclass
import numpy as np
import zarr

from stream.store.layout import (FORMAT, OFFLINE_ARRAYS, OFFLINE_ATTR, OFFLINE_GROUP, StoreFormatError,
                                 StoreNotFoundError, committed_rows, track_arrays)
from stream.store.location import Location, as_location, store_exists, zarr_store


@dataclass(frozen=True, eq=False)
class Track:
    """One person's rows (T = frames the person was seen in, not necessarily consecutive)."""
    track_id: int
    first_frame: int
    last_frame: int
    frame: np.ndarray        # (T,) int32 frame index
    time: np.ndarray         # (T,) float64 seconds, from frames/time
    smpl_pose: np.ndarray    # (T, 24, 3) float32 axis-angle, root first
    smpl_betas: np.ndarray   # (T, 10) float32
    cam_trans: np.ndarray    # (T, 3) float32 SMPL translation, metres (see stream.store.CAMERA_CONVENTION)
    joints3d: np.ndarray     # (T, 30, 3) float32 camera frame, metres
    keypoints2d: np.ndarray  # (T, K, 3) float32 image pixels x, y, score
    bbox: np.ndarray         # (T, 4) float32 xywh image pixels
    score: np.ndarray        # (T,) float32
    smooth_smpl_pose: np.ndarray | None = None   # (T, 24, 3) float32 smoothed smpl_pose; None: store not smoothed
    smooth_cam_trans: np.ndarray | None = None   # (T, 3) float32 smoothed cam_trans; None: store not smoothed

    def __len__(self) -> int:
        return len(self.frame)


@dataclass(frozen=True, eq=False)
class OfflineTrack:
    """One track's offline-smoothed values (``stream.smooth.offline``): T' rows, every frame of its segments."""
    track_id: int
    frame: np.ndarray        # (T',) int32 frame index
    time: np.ndarray         # (T',) float64 seconds, from frames/time
    observed: np.ndarray     # (T',) bool: False for a frame filled between sightings
    smpl_pose: np.ndarray    # (T', 24, 3) float32 axis-angle
    smpl_betas: np.ndarray   # (T', 10) float32: the track's one shape, on every row
    cam_trans: np.ndarray    # (T', 3) float32

    def __len__(self) -> int:
        return len(self.frame)


@dataclass(frozen=True)
class TrackSummary:
    track_id: int
    first_frame: int
    last_frame: int
    length: int              # frames with a row (<= last_frame - first_frame + 1)


def open_root(path, mode: str = "r") -> tuple[zarr.Group, Location]:
    """The root group of a crowdmesh store and its location (a Path, or a str URL), checked.

    ``path``: a local folder or an fsspec URL (``stream.store.location``). StoreNotFoundError /
    StoreFormatError naming the path or URL.
    """
    path = as_location(path)
    if not store_exists(path):
        raise StoreNotFoundError(f"store {path} does not exist; expected a store written by `stream process` "
                                 "(e.g. out.zarr or s3://bucket/out.zarr)")
    if not store_exists(path, "zarr.json"):
        raise StoreFormatError(f"{path} is not a Zarr v3 group (no zarr.json); expected a crowdmesh store written "
                               "by `stream process`")
    try:
        root = zarr.open_group(zarr_store(path, read_only=mode == "r"), mode=mode, zarr_format=3)
    except (ValueError, TypeError, KeyError, FileNotFoundError) as err:
        raise StoreFormatError(f"{path} is not a readable Zarr v3 group ({err}); expected a crowdmesh store") from None
    attrs = root.attrs.asdict()
    if attrs.get("format") != FORMAT:
        raise StoreFormatError(f"{path} is a Zarr group but not a crowdmesh store (attrs format = "
                               f"{attrs.get('format')!r}, expected {FORMAT!r})")
    for name in ("frames/time", "frames/n_people", "tracks"):
        if name not in root:
            raise StoreFormatError(f"store {path} lacks {name}; the store is damaged, write a new one")
    return root, path


class Store:
    """A crowdmesh store opened for reading (use ``open_store``)."""

    def __init__(self, root: zarr.Group, path: Location):
        self.path, self._root = path, root
        self.attrs: dict = dict(root.attrs.asdict())
        done = self.frames_done
        self._time = root["frames/time"][:done]
        self._n_people = root["frames/n_people"][:done]
        if len(self._time) < done or len(self._n_people) < done:
            raise StoreFormatError(f"store {path}: frames/time has {len(self._time)} rows, frames/n_people "
                                   f"{len(self._n_people)}, but progress.frames_done is {done}; the store is damaged")
        self._tracks = {}
        for name, group in root["tracks"].groups():
            if int(group.attrs.get("first_frame", done)) < done:
                self._tracks[int(name)] = group
        self._ids = sorted(self._tracks)

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc) -> None:
        return None

    @property
    def frames_done(self) -> int:
        return int(self.attrs["progress"]["frames_done"])

    @property
    def complete(self) -> bool:
        return bool(self.attrs["progress"]["complete"])

    @property
    def source(self) -> dict:
        return self.attrs["source"]

    @property
    def camera(self) -> dict:
        return self.attrs["camera"]

    @property
    def smoothed(self) -> bool:
        """Whether tracks also hold ``smooth_smpl_pose`` and ``smooth_cam_trans`` (``attrs["smoothing"]``)."""
        return self.attrs.get("smoothing") is not None

    @property
    def offline_smoothing(self) -> dict | None:
        """The offline smoother's parameters when the store holds its values for its current frames
        (``attrs["offline_smoothing"]`` made from ``frames_done`` frames), else None."""
        params = self.attrs.get(OFFLINE_ATTR)
        return params if params and params.get("frames_done") == self.frames_done else None

    @property
    def joint_set(self) -> str:
        return self.attrs["joint_set"]

    @property
    def errors(self) -> list[dict]:
        return list(self.attrs.get("errors", []))

    @property
    def fps(self) -> float | None:
        """The source's frame rate; else the median step of ``frames/time``; None with fewer than 2 frames."""
        fps = self.source.get("fps")
        if fps:
            return float(fps)
        steps = np.diff(self._time)
        steps = steps[steps > 0]
        return float(1.0 / np.median(steps)) if len(steps) else None

    def __len__(self) -> int:
        return self.frames_done

    def frames(self) -> tuple[np.ndarray, np.ndarray]:
        """(time (N,) float64 seconds, n_people (N,) int16) of the stored frames."""
        return self._time.copy(), self._n_people.copy()

    def track_ids(self) -> list[int]:
        return list(self._ids)

    def __iter__(self):
        return (self.track(i) for i in self._ids)

    def _group(self, track_id: int) -> zarr.Group:
        if track_id not in self._tracks:
            raise KeyError(f"store {self.path} has no track {track_id!r}; its tracks: "
                           f"{_id_list(self._ids)}")
        return self._tracks[track_id]

    def track(self, track_id: int) -> Track:
        group = self._group(track_id)
        frame = group["frame"][:]
        rows = committed_rows(frame, self.frames_done)
        values = {name: group[name][:rows] for name in track_arrays(self.attrs) if name != "frame"}
        short = [name for name, v in values.items() if len(v) < rows]
        if short or rows == 0:
            raise StoreFormatError(f"store {self.path}: track {track_id} has fewer rows of {short} than frames "
                                   f"({rows}); the store is damaged")
        frame = frame[:rows]
        return Track(track_id=int(track_id), first_frame=int(frame[0]), last_frame=int(frame[-1]), frame=frame,
                     time=self._time[frame], **values)

    def offline(self, track_id: int) -> OfflineTrack | None:
        """The track's offline-smoothed values (``tracks/<id>/offline``); None when the store has none."""
        group = self._group(track_id)
        if self.offline_smoothing is None:
            return None
        if OFFLINE_GROUP not in group:
            raise StoreFormatError(f"store {self.path}: attrs {OFFLINE_ATTR} is set but track {track_id} has no "
                                   f"{OFFLINE_GROUP} group; the offline values are damaged: run `stream smooth "
                                   f"{self.path}` again")
        values = {name: group[f"{OFFLINE_GROUP}/{name}"][:] for name in OFFLINE_ARRAYS}
        frame = values["frame"]
        rows = {name: len(v) for name, v in values.items()}
        if len(set(rows.values())) != 1 or not len(frame) or frame.min() < 0 or frame.max() >= self.frames_done:
            raise StoreFormatError(f"store {self.path}: track {track_id}'s offline arrays have rows {rows} and frames "
                                   f"{frame[:1].tolist()}..{frame[-1:].tolist()} (expected equal rows, frames below "
                                   f"{self.frames_done}); run `stream smooth {self.path}` again")
        return OfflineTrack(track_id=int(track_id), time=self._time[frame], **values)

    def summaries(self) -> list[TrackSummary]:
        """First/last frame and length of every track (reads only the ``frame`` arrays)."""
        out = []
        for track_id in self._ids:
            frame = self._group(track_id)["frame"][:]
            rows = committed_rows(frame, self.frames_done)
            if rows == 0:
                raise StoreFormatError(f"store {self.path}: track {track_id} has no rows before frame "
                                       f"{self.frames_done} though it starts there; the store is damaged")
            out.append(TrackSummary(track_id, int(frame[0]), int(frame[rows - 1]), rows))
        return out


def open_store(path) -> Store:
    """Open a store (a local folder or a URL) for reading; StoreNotFoundError (FileNotFoundError) or
    StoreFormatError (ValueError)."""
    root, path = open_root(path, mode="r")
    return Store(root, path)


def _id_list(ids: list[int], limit: int = 20) -> str:
    shown = ", ".join(map(str, ids[:limit]))
    return f"[{shown}{', ...' if len(ids) > limit else ''}] ({len(ids)} tracks)"


def _smoothing_text(smoothing: dict | None) -> str:
    if smoothing is None:
        return "off (no online-smoothed smooth_* values)"
    params = ", ".join(f"{k} {v}" for k, v in smoothing.items() if k not in ("filter", "rotations"))
    return f"{smoothing.get('filter', 'on')} ({params}); tracks keep raw and smooth_* values"


def _offline_text(params: dict | None) -> str:
    if params is None:
        return "none (`stream smooth STORE` adds them)"
    return (f"{params.get('method', 'on')} (sigma_s {params.get('sigma_s')}, max_gap_s {params.get('max_gap_s')}, "
            f"extend_s {params.get('extend_s', 0)}): "
            f"{params.get('rows')} rows in {params.get('segments')} segments, {params.get('filled')} frames filled")


def info_lines(store: Store, top: int = 10) -> list[str]:
    """A human summary: source, progress, fps, tracks (the ``top`` longest) and recorded errors."""
    source = store.source
    size = "x".join(map(str, source["size"])) if source.get("size") else "unknown size"
    total = source.get("frame_count")
    fps = store.fps
    lines = [f"store:   {store.path}",
             f"source:  {source.get('path') or '(no path)'}, {size}, "
             f"{'%g fps' % fps if fps else 'fps unknown'}, {total if total is not None else 'unknown'} frames",
             f"frames:  {store.frames_done}{f' of {total}' if total is not None else ''} done, "
             f"{'complete' if store.complete else 'NOT complete (resume with --resume)'}",
             f"joints:  keypoints2d in {store.joint_set}",
             "values:  " + ", ".join(["raw"] + ["online-smoothed"] * store.smoothed
                                     + ["offline-smoothed"] * (store.offline_smoothing is not None)),
             f"smooth:  {_smoothing_text(store.attrs.get('smoothing'))}",
             f"offline: {_offline_text(store.offline_smoothing)}"]
    summaries = sorted(store.summaries(), key=lambda s: (-s.length, s.track_id))
    _, n_people = store.frames()
    lines.append(f"tracks:  {len(summaries)} tracks, {int(n_people.sum())} person-frames, "
                 f"{int((n_people == 0).sum())} frames without people")
    if summaries:
        shown = summaries[:top]
        lines.append(f"  {'track':>7} {'first':>7} {'last':>7} {'length':>7}"
                     + (f"   ({len(shown)} longest)" if len(summaries) > len(shown) else ""))
        lines += [f"  {s.track_id:>7} {s.first_frame:>7} {s.last_frame:>7} {s.length:>7}" for s in shown]
    errors = store.errors
    lines.append(f"errors:  {len(errors) or 'none'}")
    lines += [f"  frame {e.get('frame')}: {e.get('message')}" for e in errors]
    return lines
