"""``StoreSink``: the writer stage of ``stream process``: one input's store, fed each frame's rows in order.

    sink = StoreSink("clip.zarr", config=result_config(cfg), fingerprints=..., source={...}, joint_set="coco17")
    sink.open(width, height, camera)           # at every frame: the first creates the store with its camera
    sink.add(frame.index, frame.time, rows)     # rows: MeshStage's, this frame's people (PERSON_FIELDS)
    sink.close(finished=True)
"""
from __future__ import annotations

import logging

import numpy as np

from stream.smooth.online import TrackSmoother
from stream.source.frames import FrameSourceError
from stream.store.location import as_location
from stream.store.read import open_store
from stream.store.write import StoreWriter

__all__ = ["StoreSink", "finite_rows"]

log = logging.getLogger(__name__)


class StoreSink:
    """Creates the store at the first frame, or continues the existing one (``resume``, checked beforehand by
    ``stream.pipeline.setup.check_store``); smooths each frame's rows when given a ``smoother`` and writes them.

    ``config``, ``fingerprints``: what the store records and compares on resume; ``source``: the input (its
    ``size`` is set at the first frame); ``flush_frames``: frames per durable flush.
    """

    def __init__(self, path, *, config: dict, fingerprints: dict, source: dict, joint_set: str,
                 smoother: TrackSmoother | None = None, flush_frames: int = 64, resume: bool = False,
                 force: bool = False, overwrite: bool = False):
        self.path, self.smoother = as_location(path), smoother
        self._create = dict(source=source, joint_set=joint_set, config=config, fingerprints=fingerprints,
                            overwrite=overwrite, flush_frames=flush_frames,
                            smoothing=smoother.describe() if smoother is not None else None)
        self.writer: StoreWriter | None = None
        self.size: tuple[int, int] | None = None
        if resume:
            self.writer = StoreWriter.resume(self.path, config=config, fingerprints=fingerprints, force=force,
                                             flush_frames=flush_frames)
            with open_store(self.path) as store:
                size = store.source.get("size")
                self.size = tuple(size) if size else None
                if smoother is not None:   # the filters continue from the stored raw values
                    smoother.replay(store)

    def open(self, width: int, height: int, camera: tuple, label: str = "a frame") -> None:
        """Create the store at the first frame with ``camera`` = ``(focal, principal_point)`` and the frame's size;
        check later frames' size (one store, one camera)."""
        w, h = int(width), int(height)
        if self.writer is None:
            focal, principal_point = camera
            args = self._create
            self.writer = StoreWriter.create(self.path, **{**args, "source": {**args["source"], "size": (w, h)}},
                                             camera={"focal": focal, "principal_point": principal_point})
            self.size = (w, h)
        elif self.size is not None and (w, h) != self.size:
            raise FrameSourceError(f"{label} is {w}x{h}, the input's first frame was {self.size[0]}x"
                                   f"{self.size[1]}; one store holds frames of one size (one camera)")

    def add(self, index: int, time: float | None, rows: dict) -> int:
        """Store frame ``index`` shown at ``time`` seconds (None: an image folder, one frame a second) with its
        people's rows. Returns the people stored."""
        seconds = float(index) if time is None else float(time)
        rows = finite_rows(rows, index)
        if self.smoother is not None:
            rows = self.smoother.smooth_frame(seconds, rows)
        self.writer.add_frame(index, seconds, rows)
        return len(rows["track_id"])

    def record_error(self, message: str) -> None:
        if self.writer is not None:
            self.writer.record_error(message)

    def close(self, finished: bool) -> bool:
        """Mark the store complete (``finished``) or flush it as it is; False when no frame ever opened it."""
        if self.writer is None:
            return False
        if finished:
            self.writer.finish()
        else:
            self.writer.flush()
        return True


def finite_rows(rows: dict, index: int) -> dict:
    """Frame ``index``'s rows whose estimate is finite: a NaN or inf (from a degenerate crop) is no result, and a
    store holding one could not be smoothed offline; each one dropped is logged."""
    values = [np.asarray(rows[k]) for k in ("smpl_pose", "smpl_betas", "cam_trans", "joints3d")]
    finite = np.logical_and.reduce([np.isfinite(v).all(axis=tuple(range(1, v.ndim))) for v in values])
    if finite.all():
        return rows
    log.warning("frame %d: dropped %d of %d people whose estimate is not finite (tracks %s, boxes %s)", index,
                (~finite).sum(), len(finite), np.asarray(rows["track_id"])[~finite].tolist(),
                np.asarray(rows["bbox"])[~finite].round(1).tolist())
    return {k: np.asarray(v)[finite] for k, v in rows.items()}
