"""Online One-Euro smoothing of each track's SMPL joint rotations and translation (off by default).

    smoother = TrackSmoother.from_config(cfg.smoothing)      # or TrackSmoother(min_cutoff=1.0, beta=0.5)
    for index, time, people in frames:                        # frame order; people: dict of stacked arrays
        people = smoother.smooth_frame(time, people)          # adds smooth_smpl_pose, smooth_cam_trans
        writer.add_frame(index, time, people)                 # the store keeps raw and smoothed values

    smoother.replay(open_store("out.zarr"))                   # after StoreWriter.resume: same state as before

The filter is the One-Euro filter (Casiez, Roussel, Vogel, CHI 2012): an exponential low-pass whose
cutoff rises with speed, ``cutoff = min_cutoff + beta * speed``, with ``alpha = r / (1 + r)``,
``r = 2 pi cutoff dt``. ``dt`` is the time between the track's samples from the frame times (variable
frame rates and skipped frames are handled as they are). Per sample:

    dx     = (x - x_hat_prev) / dt                 the derivative, against the previous filtered value
    dx_hat = lowpass(dx, d_cutoff)                 a smoothed derivative (starts at 0)
    x_hat  = lowpass(x, min_cutoff + beta * speed)

- Translation ``cam_trans`` (3,): x is the 3-vector, speed = |dx_hat| in m/s.
- Rotations: each of the 24 joints separately, as a unit quaternion made continuous with the previous
  filtered one (``q`` and ``-q`` are the same rotation: the one on its hemisphere is taken); x is its 4
  components, the filtered quaternion is renormalised and given back as axis-angle (angle in [0, pi]).
  speed = 2 |dq_hat| in rad/s (for small steps a quaternion moves by half the rotation angle). The
  derivative is filtered as a vector before its length is taken, so jitter at rest averages out instead
  of raising the cutoff.
- ``beta`` is one number for both: per rad/s for rotations, per m/s for translation.

Tracks: each track id has its own state. A track's first sample, and its first sample after a gap of
more than ``max_gap_s`` seconds, passes through unchanged (the filter restarts: a person seen again
after a while has moved). A state not updated for ``max_gap_s`` is dropped at the next frame, so memory
stays bounded by the tracks seen recently. Times that do not increase count as ``MIN_DT`` apart.

Inputs are taken as float32, the precision the store keeps, so ``replay`` over a resumed store's raw
values rebuilds exactly the state an uninterrupted run had, and the smoothed values continue unchanged.
"""
from __future__ import annotations

import numpy as np

from nets.rotations import axis_angle_to_quaternion, quaternion_to_axis_angle, vector_dot

MIN_DT = 1e-4          # seconds: the step used for timestamps that do not increase


class SmoothingInputError(ValueError):
    """Bad filter parameters or person data given to the smoother."""


class TrackSmoother:
    """One-Euro filters for every track: see the module docstring."""

    def __init__(self, min_cutoff: float = 1.0, beta: float = 0.0, d_cutoff: float = 1.0, max_gap_s: float = 0.5):
        given = {"min_cutoff": min_cutoff, "beta": beta, "d_cutoff": d_cutoff, "max_gap_s": max_gap_s}
        for name, value in given.items():
            number = isinstance(value, (int, float)) and not isinstance(value, bool) and np.isfinite(value)
            if not (number and (value >= 0 if name == "beta" else value > 0)):
                bound = ">= 0" if name == "beta" else "> 0"
                raise SmoothingInputError(f"{name} = {value!r}: expected a number {bound}")
        self.min_cutoff, self.beta, self.d_cutoff = float(min_cutoff), float(beta), float(d_cutoff)
        self.max_gap_s = float(max_gap_s)
        self._state: dict[int, _State] = {}

    @classmethod
    def from_config(cls, section) -> TrackSmoother:
        """From ``stream.config.SmoothingConfig`` (its ``enabled`` is the caller's business)."""
        return cls(min_cutoff=section.min_cutoff, beta=section.beta, d_cutoff=section.d_cutoff,
                   max_gap_s=section.max_gap_s)

    def describe(self) -> dict:
        """The filter and its parameters as JSON (``StoreWriter.create(smoothing=...)`` records it)."""
        return {"filter": "one_euro", "min_cutoff": self.min_cutoff, "beta": self.beta, "d_cutoff": self.d_cutoff,
                "max_gap_s": self.max_gap_s, "rotations": "unit quaternions per joint"}

    def __len__(self) -> int:
        """Tracks with a filter state."""
        return len(self._state)

    # -- filtering -------------------------------------------------------------------------------
    def update(self, track_id: int, time_s: float, smpl_pose, cam_trans) -> tuple[np.ndarray, np.ndarray]:
        """One track's sample: smpl_pose (24, 3) or (72,) axis-angle, cam_trans (3,) ->
        (smooth pose (24, 3), smooth trans (3,)), float32."""
        out = self.smooth_frame(time_s, {"track_id": np.array([track_id]), "smpl_pose": np.asarray(smpl_pose)[None],
                                         "cam_trans": np.asarray(cam_trans)[None]})
        return out["smooth_smpl_pose"][0], out["smooth_cam_trans"][0]

    def smooth_frame(self, time_s: float, people: dict) -> dict:
        """One frame's people: ``track_id`` (P,), ``smpl_pose`` (P, 24, 3) or (P, 72), ``cam_trans`` (P, 3).

        Returns a new dict: ``people``'s entries plus ``smooth_smpl_pose`` (P, 24, 3) and
        ``smooth_cam_trans`` (P, 3), float32. Call once per frame, in frame order.
        """
        time_s = float(time_s)
        if not np.isfinite(time_s):
            raise SmoothingInputError(f"time {time_s}: expected a finite number of seconds")
        ids, pose, trans = _check_people(people)
        self._drop_stale(time_s)
        smooth_pose, smooth_trans = self._step(ids, time_s, pose, trans)
        return {**people, "smooth_smpl_pose": smooth_pose, "smooth_cam_trans": smooth_trans}

    def replay(self, store) -> None:
        """Rebuild the state after a store's last frame from its raw values (a ``stream.store.Store``,
        reopened after ``StoreWriter.resume``); then continue with the store's next frame."""
        self._state.clear()
        times, _ = store.frames()
        if not len(times):
            return
        end, rows = float(times[-1]), []
        for summary in store.summaries():
            if end - float(times[summary.last_frame]) > self.max_gap_s:
                continue                                   # its state would be dropped anyway
            track = store.track(summary.track_id)
            gaps = np.flatnonzero(np.diff(track.time) > self.max_gap_s)
            start = int(gaps[-1]) + 1 if len(gaps) else 0  # the filter restarted there
            rows.append((track.frame[start:], np.full(len(track) - start, summary.track_id), track.smpl_pose[start:],
                         track.cam_trans[start:]))
        if not rows:
            return
        frame, ids, pose, trans = (np.concatenate(parts) for parts in zip(*rows))
        order = np.lexsort((ids, frame))
        frame, ids, pose, trans = frame[order], ids[order], pose[order], trans[order]
        bounds = np.flatnonzero(np.diff(frame)) + 1
        for part in np.split(np.arange(len(frame)), bounds):
            self._step(ids[part], float(times[frame[part[0]]]), pose[part].astype(np.float64),
                       trans[part].astype(np.float64))

    def _drop_stale(self, time_s: float) -> None:
        stale = [k for k, s in self._state.items() if time_s - s.time > self.max_gap_s]
        for k in stale:
            del self._state[k]

    def _step(self, ids: np.ndarray, time_s: float, pose: np.ndarray, trans: np.ndarray):
        """Filter P samples at one time: pose (P, 24, 3), trans (P, 3) float64 (values of float32)."""
        out_pose, out_trans = pose.astype(np.float32), trans.astype(np.float32)
        q = axis_angle_to_quaternion(pose)
        going = np.array([k in self._state and time_s - self._state[k].time <= self.max_gap_s for k in ids.tolist()],
                         dtype=bool).reshape(-1)
        for i in np.flatnonzero(~going):                                        # new, or back after a gap
            self._state[int(ids[i])] = _State(time_s, q[i], np.zeros((24, 4)), trans[i], np.zeros(3))
        idx = np.flatnonzero(going)
        if len(idx):
            prev = _State.stack([self._state[int(ids[i])] for i in idx])
            dt = np.maximum(time_s - prev.time, MIN_DT)                         # (G,)
            qg = q[idx]
            qg = np.where(vector_dot(qg, prev.q)[..., None] < 0, -qg, qg)       # the hemisphere of the last
            q_hat, dq_hat = _one_euro(qg, prev.q, prev.dq, dt[:, None, None], self, speed_scale=2.0)
            q_hat = q_hat / np.sqrt(vector_dot(q_hat, q_hat))[..., None]
            t_hat, dt_hat = _one_euro(trans[idx], prev.trans, prev.dtrans, dt[:, None], self, speed_scale=1.0)
            for j, i in enumerate(idx.tolist()):
                self._state[int(ids[i])] = _State(time_s, q_hat[j], dq_hat[j], t_hat[j], dt_hat[j])
            out_pose[idx] = quaternion_to_axis_angle(q_hat)
            out_trans[idx] = t_hat
        return out_pose, out_trans


class _State:
    """A track's filter state: last time, filtered quaternions (24, 4) and their derivative, filtered
    translation (3,) and its derivative."""
    __slots__ = ("time", "q", "dq", "trans", "dtrans")

    def __init__(self, time, q, dq, trans, dtrans):
        self.time, self.q, self.dq, self.trans, self.dtrans = time, q, dq, trans, dtrans

    @staticmethod
    def stack(states: list[_State]) -> _State:
        return _State(*(np.array([getattr(s, name) for s in states]) for name in _State.__slots__))


def _one_euro(x, x_prev, dx_prev, dt, params: TrackSmoother, speed_scale: float):
    """One One-Euro step on vectors along the last axis; dt broadcasts against x without its last axis."""
    dx = (x - x_prev) / dt
    a_d = _alpha(params.d_cutoff, dt)
    dx_hat = a_d * dx + (1 - a_d) * dx_prev
    speed = speed_scale * np.sqrt(vector_dot(dx_hat, dx_hat))[..., None]
    a = _alpha(params.min_cutoff + params.beta * speed, dt)
    return a * x + (1 - a) * x_prev, dx_hat


def _alpha(cutoff, dt):
    r = 2 * np.pi * cutoff * dt
    return r / (1 + r)


def _check_people(people: dict) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """ids (P,) int64, pose (P, 24, 3) and trans (P, 3) float64 holding float32 values."""
    if not isinstance(people, dict):
        raise SmoothingInputError(f"people: expected a dict of stacked arrays (track_id, smpl_pose, cam_trans), got "
                                  f"{type(people).__name__}")
    missing = [k for k in ("track_id", "smpl_pose", "cam_trans") if k not in people]
    if missing:
        raise SmoothingInputError(f"people lacks {missing}; expected track_id (P,), smpl_pose (P, 24, 3), "
                                  "cam_trans (P, 3)")
    ids = np.asarray(people["track_id"]).reshape(-1).astype(np.int64)
    n = len(ids)
    pose = np.asarray(people["smpl_pose"], dtype=np.float32)
    trans = np.asarray(people["cam_trans"], dtype=np.float32)
    if pose.shape not in ((n, 24, 3), (n, 72)) or trans.shape != (n, 3):
        raise SmoothingInputError(f"smpl_pose {np.shape(people['smpl_pose'])}, cam_trans {trans.shape} for {n} "
                                  "track ids: expected (P, 24, 3) or (P, 72), and (P, 3)")
    if len(set(ids.tolist())) != n:
        raise SmoothingInputError(f"track_id {ids.tolist()} repeats an id; one row per track")
    return ids, pose.reshape(n, 24, 3).astype(np.float64), trans.astype(np.float64)
