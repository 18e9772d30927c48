"""Precomputed 2D poses: the COCO keypoint-results JSON that ``stream poses`` writes, and the official
3DCrowdNet demo JSON; ``PrecomputedPoses`` serves either as a pose backend.

COCO keypoint results, a list with one object per person::

    [{"image_id": 12, "category_id": 1, "keypoints": [x0, y0, s0, x1, y1, s1, ...], "score": 0.93,
      "bbox": [x, y, w, h], "joint_set": "coco17"}, ...]

- ``image_id``: the frame index (int, from 0) for a video; the image's file name (str) for an image or
  an image folder. Reading also accepts integer ids for image folders (``PrecomputedPoses.id_kind``
  says which) and digit-only strings as integers; names match by file name, folders ignored.
- ``keypoints``: K joints, flat x, y, score in image pixels. ``joint_set`` (a ``nets.joints`` name) may
  be left out: it is then taken from K (17 coco17, 14 crowdpose14, 18 openpose18, 19 coco19, 30 smpl30).
- ``score`` defaults to the mean joint score, ``bbox`` (x, y, w, h) to the box around the scored joints,
  ``category_id`` must be 1 (person) when present.

The official demo's format is ``{image_name: [[[x, y, score] x 17], ...]}`` (COCO-17).

Numbers are kept exactly as the file states them: the arrays are **float64** (the official demo reads
its JSON into float64, and ``stream image`` uses those values unchanged). Float32 poses are written
with the shortest decimal that reads back to the same float32, so ``write -> read -> astype(float32)``
is exact. People keep the file's order.
"""
from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Sequence

import numpy as np

from nets.joints import JOINT_SETS, joint_names
from stream.pose2d.base import FramePoses, keypoint_box

log = logging.getLogger(__name__)

JOINT_SET_BY_COUNT = {len(names): name for name, names in JOINT_SETS.items()}
DEMO_FORMAT = '{"IMAGE_NAME": [[[x, y, score], ...], ...]}'
COCO_FORMAT = '[{"image_id": ..., "keypoints": [x, y, score, ...], "score": ...}, ...]'


class PosesFileError(ValueError):
    """A poses file that cannot be read; the message names the file, the record and what was expected."""


class PosesFileNotFoundError(PosesFileError, FileNotFoundError):
    """The poses file does not exist."""


def load_json(path) -> object:
    """The parsed JSON of a poses file, or PosesFileError naming it."""
    path = Path(path)
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise PosesFileNotFoundError(f"poses file {path} does not exist; pass --poses POSES.json") from None
    except IsADirectoryError:
        raise PosesFileError(f"poses file {path} is a folder; pass a JSON file") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise PosesFileError(f"poses file {path} is not valid JSON ({e}); expected COCO keypoint results "
                             f"{COCO_FORMAT} or the official demo's {DEMO_FORMAT}") from None


def demo_people(path, image_name: str, people, joint_set: str = "coco17") -> list[np.ndarray]:
    """Validate one image's entry of an official-demo poses file: each person -> (K,3) float64 x, y, score."""
    k = len(joint_names(joint_set))
    if not isinstance(people, list):
        raise PosesFileError(f"poses file {path}, image {image_name!r}: expected a list of people, "
                             f"got {type(people).__name__}")
    out = []
    for i, person in enumerate(people):
        arr = _numeric(person)
        if arr is None or arr.ndim != 2 or arr.shape[0] != k or arr.shape[1] < 3 or not np.isfinite(arr).all():
            got = np.shape(person) if arr is not None else "non-numeric values"
            raise PosesFileError(f"poses file {path}, image {image_name!r}, person {i}: expected {k} "
                                 f"[x, y, score] rows ({joint_set}), got {got}")
        out.append(arr[:, :3])
    return out


def _numeric(value) -> np.ndarray | None:
    if isinstance(value, (bool, str)) or value is None:
        return None
    try:
        return np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        return None


def _frame(people: list[np.ndarray], joint_set: str, scores=None, boxes=None) -> FramePoses:
    k = len(joint_names(joint_set))
    kpts = np.asarray(people, np.float64).reshape(-1, k, 3)
    if boxes is None:
        boxes = [keypoint_box(p) for p in kpts]
    if scores is None:
        scores = kpts[:, :, 2].mean(axis=1)
    return FramePoses(kpts, np.asarray(boxes, np.float64).reshape(-1, 4), np.asarray(scores, np.float64).reshape(-1),
                      joint_set)


def parse_demo(data: dict, path, joint_set: str = "coco17") -> dict[str, FramePoses]:
    """Official demo JSON (parsed) -> {image name: FramePoses}."""
    return {name: _frame(demo_people(path, name, people, joint_set), joint_set) for name, people in data.items()}


def frame_key(image_id) -> int | str:
    """The lookup key of an ``image_id`` / frame id: an int index, or a file name without its folders."""
    if isinstance(image_id, (int, np.integer)) and not isinstance(image_id, bool):
        return int(image_id)
    if isinstance(image_id, str):
        return int(image_id) if image_id.isdigit() else Path(image_id).name
    raise TypeError(f"expected an int frame index or a str file name, got {type(image_id).__name__}")


def parse_coco(records: list, path, joint_set: str | None = None) -> tuple[str, dict[int | str, FramePoses]]:
    """COCO keypoint results (parsed) -> (joint set, {frame key: FramePoses}); ``joint_set`` None = from the file."""
    grouped: dict[int | str, list] = {}
    for i, rec in enumerate(records):
        where = f"poses file {path}, record {i}"
        if not isinstance(rec, dict):
            raise PosesFileError(f"{where}: expected an object with image_id, keypoints and score, "
                                 f"got {type(rec).__name__}")
        try:
            key = frame_key(rec.get("image_id"))
        except TypeError as e:
            raise PosesFileError(f"{where}: image_id: {e} (got {rec.get('image_id')!r})") from None
        where += f" (image_id {rec['image_id']!r})"
        if rec.get("category_id", 1) != 1:
            raise PosesFileError(f"{where}: category_id {rec['category_id']!r} is not 1 (person)")
        kpts = _numeric(rec.get("keypoints"))
        if kpts is None or kpts.ndim != 1 or len(kpts) == 0 or len(kpts) % 3 or not np.isfinite(kpts).all():
            got = np.shape(rec["keypoints"]) if kpts is not None else repr(rec.get("keypoints"))[:60]
            raise PosesFileError(f"{where}: expected \"keypoints\" as a flat list of finite [x, y, score] * K "
                                 f"numbers, got {got}")
        named = rec.get("joint_set")
        if named is not None and named not in JOINT_SETS:
            raise PosesFileError(f"{where}: unknown joint_set {named!r}; expected one of {sorted(JOINT_SETS)}")
        k = len(kpts) // 3
        if joint_set is None:
            joint_set = named or JOINT_SET_BY_COUNT.get(k)
            if joint_set is None:
                raise PosesFileError(f"{where}: {k} keypoints match no joint set ({_counts()}); add "
                                     "\"joint_set\" to the records")
        if named is not None and named != joint_set:
            raise PosesFileError(f"{where}: joint_set {named!r}, expected {joint_set!r} like the other records "
                                 "(or as asked for); one file holds one joint set")
        if k != len(joint_names(joint_set)):
            raise PosesFileError(f"{where}: {k} keypoints, expected {len(joint_names(joint_set))} ({joint_set})")
        score = rec.get("score")
        if score is not None and not (_numeric(score) is not None and np.ndim(score) == 0 and np.isfinite(score)):
            raise PosesFileError(f"{where}: expected \"score\" as a finite number, got {score!r}")
        box = rec.get("bbox")
        if box is not None:
            box = _numeric(box)
            if box is None or box.shape != (4,) or not np.isfinite(box).all():
                raise PosesFileError(f"{where}: expected \"bbox\" as 4 finite numbers x, y, w, h, got "
                                     f"{rec['bbox']!r}")
        grouped.setdefault(key, []).append((kpts.reshape(k, 3), score, box))
    joint_set = joint_set or "coco17"
    frames = {}
    for key, people in grouped.items():
        kpts = [p for p, _, _ in people]
        scores = [float(s) if s is not None else p[:, 2].mean() for p, s, _ in people]
        boxes = [b if b is not None else keypoint_box(p) for p, _, b in people]
        frames[key] = _frame(kpts, joint_set, scores, boxes)
    return joint_set, frames


def _counts() -> str:
    return ", ".join(f"{n} {name}" for n, name in sorted(JOINT_SET_BY_COUNT.items()))


def read_poses_file(path, joint_set: str | None = None) -> tuple[str, dict[int | str, FramePoses]]:
    """COCO keypoint results or official demo JSON -> (joint set, {frame key: FramePoses})."""
    data = load_json(path)
    if isinstance(data, list):
        return parse_coco(data, path, joint_set)
    if isinstance(data, dict):
        joint_set = joint_set or "coco17"
        return joint_set, {frame_key(name): fp for name, fp in parse_demo(data, path, joint_set).items()}
    raise PosesFileError(f"poses file {path}: expected a list (COCO keypoint results {COCO_FORMAT}) or an object "
                         f"(official demo {DEMO_FORMAT}), got {type(data).__name__}")


class PrecomputedPoses:
    """A pose backend that looks poses up by frame id; a frame with no entry has no people."""

    def __init__(self, frames: dict[int | str, FramePoses], joint_set: str, source: str = "poses"):
        self.frames, self.joint_set, self.source = frames, joint_set, source

    @classmethod
    def from_file(cls, path, joint_set: str | None = None) -> "PrecomputedPoses":
        if path is None:
            raise PosesFileNotFoundError("the precomputed backend needs --poses POSES.json (COCO keypoint results "
                                         "or the official demo's format)")
        joint_set, frames = read_poses_file(path, joint_set)
        log.info("%s: poses for %d frames (%s)", path, len(frames), joint_set)
        return cls(frames, joint_set, os.fspath(path))

    @property
    def id_kind(self) -> str | None:
        """``'index'`` if every entry is keyed by frame index, ``'name'`` if by file name, else None."""
        kinds = {type(k) for k in self.frames}
        return {frozenset({int}): "index", frozenset({str}): "name"}.get(frozenset(kinds))

    def get(self, frame_id) -> FramePoses:
        return self.frames.get(frame_key(frame_id)) or FramePoses.empty(self.joint_set)

    def __call__(self, frames: Sequence[np.ndarray], frame_ids: Sequence[int | str]) -> list[FramePoses]:
        if len(frames) != len(frame_ids):
            raise ValueError(f"{len(frames)} frames but {len(frame_ids)} frame ids; pass one id per frame")
        return [self.get(i) for i in frame_ids]


class CocoResultsWriter:
    """Writes COCO keypoint results one frame at a time; the file appears complete or not at all::

        with CocoResultsWriter("poses.json") as out:
            out.write(frame_id, frame_poses)
    """

    def __init__(self, path):
        self.path = Path(path)
        self.part = self.path.with_name(self.path.name + ".part")
        self.count = 0
        self._f = None

    def __enter__(self) -> "CocoResultsWriter":
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._f = open(self.part, "w")
        self._f.write("[")
        return self

    def write(self, frame_id, poses: FramePoses) -> None:
        image_id = frame_id if isinstance(frame_id, str) else frame_key(frame_id)
        for p in range(len(poses)):
            record = {"image_id": image_id, "category_id": 1, "keypoints": _floats(poses.keypoints[p].reshape(-1)),
                      "score": _floats(poses.scores[p:p + 1])[0], "bbox": _floats(poses.boxes[p]),
                      "joint_set": poses.joint_set}
            try:
                line = json.dumps(record, allow_nan=False)
            except ValueError:
                raise ValueError(f"frame {frame_id!r}, person {p}: NaN or inf in the pose; a backend must give "
                                 "finite keypoints, scores and boxes") from None
            self._f.write(("," if self.count else "") + "\n" + line)
            self.count += 1

    def __exit__(self, exc_type, exc, tb):
        self._f.write("\n]\n")
        self._f.close()
        if exc_type is None:
            os.replace(self.part, self.path)
        else:
            self.part.unlink(missing_ok=True)
        return False


def _floats(a: np.ndarray) -> list[float]:
    """Values as Python floats; float32 through its shortest decimal (0.92, not 0.9200000166893005)."""
    a = np.asarray(a)
    return (a.astype(str).astype(np.float64) if a.dtype == np.float32 else a.astype(np.float64)).tolist()


def write_coco_results(path, frames) -> int:
    """Write ``(frame_id, FramePoses)`` pairs as COCO keypoint results; returns the number of people."""
    with CocoResultsWriter(path) as out:
        for frame_id, poses in frames:
            out.write(frame_id, poses)
    return out.count
