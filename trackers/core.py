"""What every people tracker here shares: input checks, per-instance track IDs, output records.

``PeopleTracker`` wraps one ``norfair.Tracker`` and turns it into the frame-by-frame interface of this
package; subclasses say how to build the norfair tracker and how a detection becomes norfair points.

Track IDs are this instance's own: a counter on the instance hands out ``first_id, first_id + 1, ...``
to tracks in the order they are first emitted. norfair's own ``id`` (per ``Tracker`` in
norfair-enough 2.4, class-level in older norfair) and its process-wide ``global_id`` are never
exposed, and norfair numbers tentative tracks that are later merged away, which this counter skips.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, replace

import numpy as np
from norfair import Detection, Tracker

logger = logging.getLogger(__name__)


class TrackerInputError(ValueError):
    """Detections a tracker cannot take; the message names what was received and what was expected."""


@dataclass(frozen=True)
class TrackedPerson:
    """One confirmed person in one frame."""
    track_id: int
    keypoints: np.ndarray  # (K, 3) x, y, score, image pixels (the detection's own values)
    box: np.ndarray        # (4,) x, y, w, h, image pixels
    score: float           # the detection's person score (0.0 for a predicted person)
    detection_index: int   # row of the input detection this came from; -1 = predicted, not detected
    frame_index: int


@dataclass(frozen=True)
class ClosedTrack:
    """A track that ended: it was matched to detections from ``first_frame`` to ``last_frame``."""
    track_id: int
    first_frame: int
    last_frame: int


def _float_array(value, name: str) -> np.ndarray:
    try:
        array = np.asarray(value)
    except (TypeError, ValueError) as exc:
        raise TrackerInputError(f"{name}: expected a numeric array, could not make one ({exc})") from None
    if array.dtype.kind not in "fiu" and not (array.dtype == object and array.size == 0):
        raise TrackerInputError(f"{name}: expected a numeric array, got dtype {array.dtype}")
    return array if array.dtype.kind == "f" else array.astype(np.float64)


def check_detections(keypoints, boxes, scores, num_joints: int | None):
    """Validate one frame of detections -> (keypoints (N,K,3), boxes (N,4), scores (N,)) float arrays.

    ``num_joints`` is K fixed by an earlier frame (None: not fixed yet). Empty frames may be given as
    ``[]``/``(0,)`` arrays. Raises ``TrackerInputError`` (a ``ValueError``) naming what was wrong.
    """
    kpts = _float_array(keypoints, "keypoints")
    box = _float_array(boxes, "boxes")
    score = _float_array(scores, "scores")
    if kpts.size == 0 and kpts.ndim != 3:
        kpts = np.zeros((0, num_joints or 0, 3))
    if kpts.ndim != 3 or kpts.shape[2] != 3:
        raise TrackerInputError(f"keypoints: expected shape (N, K, 3) with x, y, score per joint, got {kpts.shape}")
    n, k = kpts.shape[:2]
    if box.size == 0 and n == 0:
        box = np.zeros((0, 4))
    if score.size == 0 and n == 0:
        score = np.zeros(0)
    if box.shape != (n, 4):
        raise TrackerInputError(f"boxes: expected shape ({n}, 4) (x, y, w, h for each of the {n} people in "
                                f"keypoints), got {box.shape}")
    if score.shape != (n,):
        raise TrackerInputError(f"scores: expected shape ({n},) (one score for each of the {n} people in "
                                f"keypoints), got {score.shape}")
    if num_joints is not None and k != num_joints and (n > 0 or k > 0):
        raise TrackerInputError(f"keypoints: this frame has K={k} joints per person but the tracker's first "
                                f"frame had K={num_joints}; a tracker follows one joint set (make a new "
                                f"tracker for another)")
    for name, array in (("keypoints", kpts), ("boxes", box), ("scores", score)):
        bad = ~np.isfinite(array.reshape(n, -1)).all(axis=1) if n else np.zeros(0, bool)
        if bad.any():
            raise TrackerInputError(f"{name}: person {int(np.argmax(bad))} has NaN or inf values; expected finite "
                                    f"numbers (give an undetected joint score 0 instead of NaN)")
    negative = (box[:, 2:] < 0).any(axis=1)
    if negative.any():
        i = int(np.argmax(negative))
        raise TrackerInputError(f"boxes: person {i} has a negative size (w={box[i, 2]}, h={box[i, 3]}); "
                                f"expected x, y, w, h with w, h >= 0")
    return kpts, box, score


class PeopleTracker:
    """Base of the frame-by-frame people trackers: see ``PoseTracker`` for the interface."""

    def __init__(self, *, min_detection_score: float = 0.0, emit_predicted: bool = False, first_id: int = 1,
                 backfill: int = 0):
        if isinstance(backfill, bool) or not isinstance(backfill, int) or backfill < 0:
            raise ValueError(f"backfill: expected an int >= 0 (frames), got {backfill!r}")
        self._backfill = backfill
        self._tentative: dict[object, list[TrackedPerson]] = {}   # unconfirmed norfair object -> its matches
        self._births: list[TrackedPerson] = []
        self._min_detection_score = min_detection_score
        self._emit_predicted = emit_predicted
        self._next_id = first_id
        self._num_joints: int | None = None
        self._tracker: Tracker | None = None
        self._frame = -1
        self._ids: dict[object, int] = {}           # norfair TrackedObject -> our track ID
        self._spans: dict[int, list[int]] = {}      # open track ID -> [first_frame, last matched frame]
        self._closed: list[ClosedTrack] = []

    # --- for subclasses ----------------------------------------------------------------------
    def _make_tracker(self, num_joints: int) -> Tracker:
        raise NotImplementedError

    def _detection(self, keypoints: np.ndarray, box: np.ndarray, index: int) -> Detection:
        raise NotImplementedError

    def _after_update(self) -> None:
        """Hook run after each norfair update (e.g. to adjust the filters of unmatched tracks)."""

    def _check_joints(self, num_joints: int) -> None:
        """Called once with K of the first frame; raise TrackerInputError if K does not fit."""

    # --- the interface -----------------------------------------------------------------------
    @property
    def frame_index(self) -> int:
        """Index of the last frame given to ``update`` (-1 before the first)."""
        return self._frame

    def update(self, keypoints, boxes, scores, frame_index: int | None = None) -> list[TrackedPerson]:
        """Feed one frame of detections; returns the confirmed people of this frame, by track ID.

        ``keypoints`` (N, K, 3) x, y, score; ``boxes`` (N, 4) x, y, w, h; ``scores`` (N,); N may be 0.
        ``frame_index`` defaults to the previous one + 1; frames skipped over count as empty frames.
        """
        kpts, box, score = check_detections(keypoints, boxes, scores, self._num_joints)
        frame = self._next_frame(frame_index)
        if self._num_joints is None and (len(kpts) or kpts.shape[1]):
            self._check_joints(kpts.shape[1])
            self._num_joints = kpts.shape[1]
        if self._tracker is None:
            if self._num_joints is None:          # empty first frames: nothing to track yet
                self._frame = frame
                return []
            self._tracker = self._make_tracker(self._num_joints)
        for _ in range(frame - self._frame - 1):  # skipped frames: advance the filters, stop once all died
            if not self._tracker.tracked_objects:
                break
            self._tracker.update(None)
            self._after_update()
            self._collect_closed()
        self._frame = frame
        keep = np.flatnonzero(score >= self._min_detection_score)
        detections = [self._detection(kpts[i], box[i], int(i)) for i in keep]
        active = self._tracker.update(detections or None)
        self._after_update()
        merged = self._note_tentative(frame, kpts, box, score) if self._backfill else {}
        people = []
        for obj in active:
            matched = obj.last_detection.age == obj.age
            if not matched and not self._emit_predicted:
                continue
            track_id = self._ids.get(obj)
            if track_id is None:
                track_id = self._ids[obj] = self._next_id
                self._next_id += 1
                self._spans[track_id] = [frame, frame]
            if matched:
                i = obj.last_detection.data
                self._spans[track_id][1] = frame
                people.append(TrackedPerson(track_id, kpts[i].copy(), box[i].copy(), float(score[i]), i, frame))
                self._born(track_id, self._tentative.pop(obj, []) + merged.get(i, []))
            else:
                people.append(self._predicted(track_id, obj, kpts.dtype, frame))
        self._collect_closed()
        return sorted(people, key=lambda p: p.track_id)

    def pop_births(self) -> list[TrackedPerson]:
        """With ``backfill`` > 0: the earlier detections of the tracks confirmed since the last call, from their
        tentative frames (at most ``backfill`` frames back), as ``TrackedPerson``s with the track's ID and their own
        ``frame_index``. A caller that holds its last ``backfill`` frames can so give a new person rows from the
        first frame they were seen, not from the frame they were confirmed. A re-identified track may already have
        a row in such a frame (``stream.pipeline.track.TrackStage`` keeps the first)."""
        births, self._births = self._births, []
        return births

    def pop_closed(self) -> list[ClosedTrack]:
        """Tracks that ended (can no longer be matched or re-identified) since the last call."""
        closed, self._closed = self._closed, []
        return closed

    def finish(self) -> list[ClosedTrack]:
        """End of the stream: close every open track; returns all closed tracks not yet popped.

        The tracker may be fed on afterwards (frame indices keep increasing, IDs keep counting up).
        """
        for obj in list(self._ids):
            self._close(obj)
        self._tracker = None
        return self.pop_closed()

    @property
    def open_tracks(self) -> dict[int, tuple[int, int]]:
        """Track ID -> (first_frame, last matched frame) of tracks not closed yet."""
        return {tid: (a, b) for tid, (a, b) in self._spans.items()}

    # --- internals ---------------------------------------------------------------------------
    def _next_frame(self, frame_index) -> int:
        if frame_index is None:
            return self._frame + 1
        if isinstance(frame_index, bool) or not isinstance(frame_index, (int, np.integer)):
            raise TrackerInputError(f"frame_index: expected an int or None, got {type(frame_index).__name__}")
        if frame_index <= self._frame:
            raise TrackerInputError(f"frame_index: got {frame_index}, expected more than the previous frame "
                                    f"{self._frame} (frames go in order, each once)")
        return int(frame_index)

    def _predicted(self, track_id: int, obj, dtype, frame: int) -> TrackedPerson:
        k = self._num_joints
        estimate = obj.estimate
        kpts = np.zeros((k, 3), dtype)
        kpts[:, :2] = estimate[:k]
        x0, y0, x1, y1 = self._estimate_box(estimate)
        box = np.array([x0, y0, max(x1 - x0, 0.0), max(y1 - y0, 0.0)], dtype)
        return TrackedPerson(track_id, kpts, box, 0.0, -1, frame)

    def _estimate_box(self, estimate: np.ndarray) -> tuple[float, float, float, float]:
        """The box (x0, y0, x1, y1) of a norfair estimate; subclasses override for their point layout."""
        raise NotImplementedError

    def _note_tentative(self, frame: int, kpts, box, score) -> dict[int, list[TrackedPerson]]:
        """Record the detections matched this frame by tracks not confirmed yet (the last ``backfill`` frames);
        -> the records of tentative tracks that norfair merged into a lost track this frame (re-identified), by
        the detection they matched."""
        alive = set(self._tracker.tracked_objects)
        merged = {}
        for obj in [o for o in self._tentative if o not in alive]:
            records = self._tentative.pop(obj)
            if records and obj.last_detection.age == obj.age:      # matched this frame, then merged away
                merged[obj.last_detection.data] = records
        for obj in self._tracker.tracked_objects:
            if obj.is_initializing and obj.last_detection.age == obj.age:
                i = obj.last_detection.data
                records = self._tentative.setdefault(obj, [])
                records.append(TrackedPerson(-1, kpts[i].copy(), box[i].copy(), float(score[i]), i, frame))
        for obj, records in self._tentative.items():
            records[:] = [r for r in records if r.frame_index >= frame - self._backfill]
        return merged

    def _born(self, track_id: int, records: list[TrackedPerson]) -> None:
        """Hand back a just-confirmed (or re-identified) track's tentative detections under its ID."""
        if records:
            self._births += [replace(r, track_id=track_id) for r in records]
            self._spans[track_id][0] = min(self._spans[track_id][0], records[0].frame_index)

    def _collect_closed(self) -> None:
        alive = set(self._tracker.tracked_objects)
        for obj in [o for o in self._ids if o not in alive]:
            self._close(obj)

    def _close(self, obj) -> None:
        track_id = self._ids.pop(obj)
        first, last = self._spans.pop(track_id)
        self._closed.append(ClosedTrack(track_id, first, last))
        logger.debug("track %d closed: frames %d-%d", track_id, first, last)
