"""Offline smoothing and gap filling of whole tracks: zero-phase, rotations on the rotation manifold.

    out = smooth_track(frames, smpl_pose, cam_trans, smpl_betas, fps=30.0, config=cfg.smoothing)
    out["frame"], out["observed"]                     # (T',): every frame of each segment, False where filled
                                                      #   or extended
    out["smpl_pose"], out["cam_trans"], out["smpl_betas"]
    summary = smooth_store("out.zarr", cfg.smoothing)  # every track of a finished store -> tracks/<id>/offline

Segments: sightings at most ``offline_max_gap_s`` seconds apart (``frame`` steps / fps) belong to one
segment and the frames between them are filled; a longer gap starts a new segment. Segments are smoothed
apart and the frames between them stay empty.

Per segment, on its dense frames (filled ones first interpolated: slerp per joint, linear translation):
a local quadratic fit with Gaussian weights (sigma ``offline_sigma_s`` seconds, window +-3 sigma) at every
frame t. For the translation x: ``x_t + a_t``, where ``a_t + b_t k + c_t k^2`` is the weighted least-squares
parabola through the differences ``x_{t+k} - x_t``. For each joint rotation q: the same fit on the tangent vectors
``log(q_t^-1 q_{t+k})`` (axis-angle of the relative rotation, the short way round, so a quaternion's sign and an
axis-angle past pi do not matter), the result ``q_t exp(a_t)``; a second pass fits around that result. Where the
window holds only two frames (a segment of two) the fit is a line, where it holds one, that frame.

So a constant rotation or translation comes back exactly; a translation at constant acceleration, a rotation at
constant angular velocity and one about a fixed axis whose angle grows quadratically come back unchanged up to
rounding, first and last frames included (near a segment's ends the window is one-sided, and the parabola keeps
the fit unbiased there). Inside a segment the window is symmetric and the fit is a fixed zero-phase kernel (no
lag), a Savitzky-Golay filter with Gaussian weights: the Gaussian times ``(3 - k^2 / s^2) / 2``, s = sigma fps
frames. From that kernel (continuous approximation; the discrete one measured within 1 %): white noise of
variance v leaves about ``27 v / (32 sqrt(pi) s)`` in the middle of a segment (v / 3.3 at 0.0525 s and 30 fps;
measured: about 1.7 times that on a segment's first and last 3 frames), and a sine of f Hz keeps
``(1 + u) exp(-u)`` of its amplitude, ``u = 2 pi^2 sigma^2 f^2`` (0.0525 s: 98 % at 2 Hz, 91 % at 3 Hz;
measured 98 % and 92 %). A local line (the Gaussian mean inside a segment) keeps only ``exp(-u)`` (82 % and
64 % at 0.05 s) and leaves ``v / (2 sqrt(pi) s)``: at equal leftover noise the parabola's sigma is 27/16 times
the line's, and it keeps more below about 3 Hz (0.084 s against 0.05 s: 89 % against 82 % at 2 Hz, both 64 % at
3 Hz).

Ends: each segment then goes on ``offline_extend_s`` seconds before its first and after its last sighting (not
before frame 0, past the video's last frame or into a neighbouring segment), each joint rotation at its end's
angular velocity and the translation at its end's velocity, flagged not observed: the frames where a detector
misses a person as they come into view, leave it, or in a clip's first frames.

Body shape: one per track, the per-coefficient median of the observed betas (all segments), on every row.

``smooth_store`` runs ``smooth_track`` on every track of a finished store (the raw rows of its
``frames_done`` frames) and writes the results beside the raw arrays, which it never writes
(``stream.store.offline``); each run replaces the last one's, so running it twice gives the same arrays.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np

from nets.rotations import (axis_angle_to_quaternion, quaternion_conjugate, quaternion_multiply,
                            quaternion_to_axis_angle, slerp)
from stream.store.location import Location
from stream.store.offline import commit_offline, drop_offline, write_track_offline
from stream.store.read import Store, open_root

log = logging.getLogger(__name__)

KERNEL_RADIUS = 3.0     # window half-width in sigmas
END_VELOCITY_FRAMES = 5  # an extended segment goes on at the (angular) velocity over its last 5 frames
METHOD = "gaussian_local_quadratic"


class OfflineSmoothingError(ValueError):
    """Bad track data or parameters given to the offline smoother."""


class IncompleteStoreError(OfflineSmoothingError):
    """Offline smoothing asked of a store whose run has not finished."""


def smooth_track(frames, smpl_pose, cam_trans, smpl_betas, *, fps: float, config,
                 last_frame: int | None = None) -> dict[str, np.ndarray]:
    """One track, smoothed, gap-filled and extended (see the module docstring).

    frames (T,) int increasing frame indices, gaps allowed; smpl_pose (T, 24, 3) or (T, 72) axis-angle;
    cam_trans (T, 3); smpl_betas (T, 10); fps frames per second; config: ``offline_sigma_s``,
    ``offline_max_gap_s`` and ``offline_extend_s`` (``stream.config.SmoothingConfig``); last_frame: the video's
    last frame (no row is extended past it; None: no bound). Returns ``frame`` (T',) int32, ``observed`` (T',)
    bool, ``smpl_pose`` (T', 24, 3), ``cam_trans`` (T', 3), ``smpl_betas`` (T', 10) float32 (the store's precision).
    """
    frames, pose, trans, betas = _check_track(frames, smpl_pose, cam_trans, smpl_betas)
    fps, sigma, max_gap, extend = _check_parameters(fps, config)
    sigma_frames = sigma * fps
    parts, spans = [], segments(frames, max_gap * fps)
    for i, s in enumerate(spans):
        part = _smooth_segment(frames[s], pose[s], trans[s], sigma_frames)
        first = int(parts[-1]["frame"][-1]) + 1 if parts else 0
        last = int(frames[spans[i + 1].start]) - 1 if i + 1 < len(spans) else last_frame
        parts.append(extend_segment(part, round(extend * fps), first, last))
    out = {key: np.concatenate([p[key] for p in parts]) if parts else np.zeros((0, *shape), dtype)
           for key, shape, dtype in (("frame", (), np.int32), ("observed", (), bool),
                                     ("smpl_pose", (24, 3), np.float32), ("cam_trans", (3,), np.float32))}
    shape = np.median(betas, axis=0) if len(betas) else np.zeros(10)
    out["smpl_betas"] = np.repeat(shape[None].astype(np.float32), len(out["frame"]), axis=0)
    return out


@dataclass(frozen=True)
class OfflineSummary:
    """What ``smooth_store`` wrote."""
    path: Location
    tracks: int
    rows: int              # offline rows of all tracks (every frame of their segments)
    filled: int            # of them, frames filled between sightings or extended at a segment's ends
    segments: int
    parameters: dict = field(default_factory=dict)   # attrs["offline_smoothing"]


def smooth_store(location, config, *, fps: float | None = None, partial: bool = False) -> OfflineSummary:
    """Smooth every track of the store at ``location`` (a path or URL) with ``smooth_track`` and store the
    results in ``tracks/<id>/offline`` and ``attrs["offline_smoothing"]``, replacing earlier ones.

    config: ``stream.config.SmoothingConfig`` (its ``offline_*`` fields); fps: the store's unless given.
    IncompleteStoreError when the run writing the store has not finished; ``partial=True`` smooths the
    frames stored so far (no writer may be writing the store meanwhile; ``StoreWriter.resume`` drops them).
    """
    root, path = open_root(location, mode="r+")
    store = Store(root, path)
    if not (store.complete or partial):
        source = store.source.get("path") or "INPUT"
        raise IncompleteStoreError(
            f"store {path} is not complete ({store.frames_done} frames done; its run did not finish): finish it "
            f"with `stream process {source} --out {path} --resume` (the same config), then smooth it; or smooth "
            "the frames so far with --partial")
    fps = store.fps if fps is None else fps
    if not fps:
        raise OfflineSmoothingError(f"store {path} has no frame rate (no source fps, fewer than 2 frames); pass fps")
    _check_parameters(fps, config)                       # before anything is dropped
    drop_offline(root, path)
    rows = filled = parts = 0
    for track in store:
        out = smooth_track(track.frame, track.smpl_pose, track.cam_trans, track.smpl_betas, fps=fps, config=config,
                           last_frame=store.frames_done - 1)
        write_track_offline(root, track.track_id, out)
        rows, filled = rows + len(out["frame"]), filled + int((~out["observed"]).sum())
        parts += 1 + int((np.diff(out["frame"]) > 1).sum())
    params = {"method": METHOD, "sigma_s": float(config.offline_sigma_s), "max_gap_s": float(config.offline_max_gap_s),
              "extend_s": float(config.offline_extend_s),
              "fps": float(fps), "frames_done": store.frames_done, "tracks": len(store.track_ids()), "rows": rows,
              "filled": filled, "segments": parts}
    commit_offline(root, params)
    log.info("store %s: %d tracks smoothed offline (%d rows, %d filled)", path, params["tracks"], rows, filled)
    return OfflineSummary(path, params["tracks"], rows, filled, parts, params)


def segments(frames: np.ndarray, max_step: float) -> list[slice]:
    """Runs of ``frames`` (T,) whose steps are at most ``max_step`` frames, as slices."""
    breaks = np.flatnonzero(np.diff(frames) > max_step + 1e-6) + 1
    bounds = [0, *breaks.tolist(), len(frames)]
    return [slice(a, b) for a, b in zip(bounds[:-1], bounds[1:]) if b > a]


def interpolation(frames: np.ndarray, targets: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Where ``targets`` (N,) fall between the increasing ``frames`` (T,): rows lo, hi (N,) and the weight
    of hi, w (N,) in [0, 1]; ``value = (1 - w) value[lo] + w value[hi]`` (slerp for rotations)."""
    frames, targets = np.asarray(frames), np.asarray(targets)
    if len(frames) == 1:
        zero = np.zeros(len(targets), np.int64)
        return zero, zero, np.zeros(len(targets))
    hi = np.clip(np.searchsorted(frames, targets, side="right"), 1, len(frames) - 1)
    lo = hi - 1
    w = np.clip((targets - frames[lo]) / (frames[hi] - frames[lo]), 0.0, 1.0)
    return lo, hi, w


def _smooth_segment(frames, pose, trans, sigma_frames: float) -> dict[str, np.ndarray]:
    """One segment (steps small enough to fill): its dense frames, filled, then smoothed."""
    dense = np.arange(frames[0], frames[-1] + 1)
    observed = np.isin(dense, frames)
    lo, hi, w = interpolation(frames, dense)
    q = axis_angle_to_quaternion(pose)                                           # (T, 24, 4)
    q_dense = slerp(q[lo], q[hi], np.broadcast_to(w[:, None], (len(dense), q.shape[1])))
    q_dense[observed] = q                                                        # sightings exactly as given
    x_dense = trans[lo] * (1 - w[:, None]) + trans[hi] * w[:, None]
    x_dense[observed] = trans
    if sigma_frames > 0 and len(dense) > 1:
        q_dense = smooth_rotations(q_dense, sigma_frames)
        x_dense = smooth_vectors(x_dense, sigma_frames)
    return {"frame": dense.astype(np.int32), "observed": observed,
            "smpl_pose": quaternion_to_axis_angle(q_dense).astype(np.float32), "cam_trans": x_dense.astype(np.float32)}


def extend_segment(part: dict, n: int, first: int = 0, last: int | None = None) -> dict[str, np.ndarray]:
    """A smoothed segment continued ``n`` frames before its first and after its last frame, within frames
    ``first..last``, at the velocity of its end (over its ``END_VELOCITY_FRAMES`` frames there, fewer in a
    shorter segment): each joint rotation at its end's angular velocity (in the joint's own frame), the
    translation at its end's velocity; the new frames ``observed`` False."""
    frame = part["frame"]
    before = np.arange(max(first, int(frame[0]) - n), int(frame[0]))
    after = np.arange(int(frame[-1]) + 1, int(frame[-1]) + n + 1)
    after = after if last is None else after[after <= last]
    if not (len(before) or len(after)):
        return part
    k = min(len(frame) - 1, END_VELOCITY_FRAMES)          # 0 (one frame): held, the end is its own inside frame
    trans = part["cam_trans"].astype(np.float64)
    q = axis_angle_to_quaternion(part["smpl_pose"].astype(np.float64))
    out = []
    for end, inside, away in ((0, k, frame[0] - before), (-1, -1 - k, after - frame[-1])):   # away: frames past
        rate = quaternion_to_axis_angle(quaternion_multiply(quaternion_conjugate(q[inside]), q[end])) / max(k, 1)
        turn = axis_angle_to_quaternion(rate[None] * away[:, None, None].astype(np.float64))
        out.append((quaternion_multiply(np.broadcast_to(q[end], turn.shape), turn),
                    trans[end] + (trans[end] - trans[inside]) / max(k, 1) * away[:, None]))
    (q0, x0), (q1, x1) = out
    return {"frame": np.concatenate([before, frame, after]).astype(np.int32),
            "observed": np.concatenate([np.zeros(len(before), bool), part["observed"], np.zeros(len(after), bool)]),
            "smpl_pose": np.concatenate([quaternion_to_axis_angle(q0), part["smpl_pose"],
                                         quaternion_to_axis_angle(q1)]).astype(np.float32),
            "cam_trans": np.concatenate([x0, trans, x1]).astype(np.float32)}


def smooth_vectors(x: np.ndarray, sigma_frames: float) -> np.ndarray:
    """(T, ..., 3) evenly spaced samples -> the local quadratic Gaussian fit at each (see the module docstring)."""
    return x + local_quadratic(len(x), sigma_frames, lambda k, t: x[t.start + k:t.stop + k] - x[t])


def smooth_rotations(q: np.ndarray, sigma_frames: float, passes: int = 2) -> np.ndarray:
    """(T, ..., 4) unit quaternions (x, y, z, w), evenly spaced -> the local quadratic Gaussian fit in the tangent
    space at each (see the module docstring), ``passes`` times around the last result."""
    base = q
    for _ in range(passes):
        step = local_quadratic(len(q), sigma_frames, _tangents(q, base))
        base = quaternion_multiply(base, axis_angle_to_quaternion(step))
    return base


def _tangents(q: np.ndarray, base: np.ndarray):
    """The tangent vectors log(base_t^-1 q_{t+k}) (axis-angle, angle <= pi) for ``local_quadratic``."""
    inverse = quaternion_conjugate(base)
    return lambda k, t: quaternion_to_axis_angle(quaternion_multiply(inverse[t], q[t.start + k:t.stop + k]))


def local_quadratic(n: int, sigma_frames: float, residual) -> np.ndarray:
    """At each of n evenly spaced samples t, the value at k = 0 of the Gaussian-weighted least-squares parabola
    ``a + b k + c k^2`` through ``residual(k, t)`` (the offsets of sample t + k from sample t's base, for the rows
    ``t`` (a slice) that have a sample t + k) over the window ``|k| <= KERNEL_RADIUS * sigma_frames``; a line
    where the window holds only two distinct k, the weighted mean where it holds one."""
    radius = int(np.ceil(KERNEL_RADIUS * sigma_frames))
    s = np.zeros((5, n))                                          # sums of w k^j, j = 0..4
    m = None                                                      # sums of w k^j v, j = 0..2
    for k in range(-radius, radius + 1):
        rows = slice(max(0, -k), min(n, n - k))
        if rows.start >= rows.stop:
            continue
        v = residual(k, rows)
        if m is None:
            m = np.zeros((3, n, *v.shape[1:]))
        powers = np.exp(-0.5 * (k / sigma_frames) ** 2) * float(k) ** np.arange(5)
        s[:, rows] += powers[:, None]
        for j in range(3):
            m[j, rows] += powers[j] * v
    return _value_at_zero(s.reshape((5, n) + (1,) * (m.ndim - 2)), m)


def _value_at_zero(s: np.ndarray, m: np.ndarray) -> np.ndarray:
    """The fitted value at k = 0 from the weighted moments ``s[j] = sum w k^j`` (j = 0..4) and
    ``m[j] = sum w k^j v`` (j = 0..2): the first row of the inverse of the normal matrix [[s0 s1 s2] [s1 s2 s3]
    [s2 s3 s4]] (its cofactors over its determinant) applied to m; the line's or the mean's where it is singular."""
    s0, s1, s2, s3, s4 = s
    c0, c1, c2 = s2 * s4 - s3 * s3, s2 * s3 - s1 * s4, s1 * s3 - s2 * s2
    det3, det2 = s0 * c0 + s1 * c1 + s2 * c2, s0 * s2 - s1 * s1
    parabola = det3 > 1e-9 * s0 * s2 * s4                        # three distinct k in the window
    line = det2 > 1e-9 * s0 * s2                                  # two
    value = np.where(line, (s2 * m[0] - s1 * m[1]) / np.where(line, det2, 1.0), m[0] / s0)
    return np.where(parabola, (c0 * m[0] + c1 * m[1] + c2 * m[2]) / np.where(parabola, det3, 1.0), value)


def _check_track(frames, pose, trans, betas):
    frames = np.asarray(frames)
    if frames.ndim != 1 or (len(frames) and frames.dtype.kind not in "iu"):
        raise OfflineSmoothingError(f"frames: expected a (T,) array of int frame indices, got {frames.dtype} "
                                    f"{frames.shape}")
    if (np.diff(frames) <= 0).any():
        raise OfflineSmoothingError(f"frames {frames[:8].tolist()}...: expected strictly increasing frame indices")
    T = len(frames)
    pose, trans, betas = (np.asarray(v, dtype=np.float64) for v in (pose, trans, betas))
    if pose.shape == (T, 72):
        pose = pose.reshape(T, 24, 3)
    if pose.shape != (T, 24, 3) or trans.shape != (T, 3) or betas.shape != (T, 10):
        raise OfflineSmoothingError(f"smpl_pose {pose.shape}, cam_trans {trans.shape}, smpl_betas {betas.shape} for "
                                    f"{T} frames: expected (T, 24, 3) or (T, 72), (T, 3) and (T, 10)")
    bad = [name for name, v in (("smpl_pose", pose), ("cam_trans", trans), ("smpl_betas", betas))
           if not np.isfinite(v).all()]
    if bad:
        raise OfflineSmoothingError(f"{', '.join(bad)} contain NaN or inf; expected finite values (the rows of a "
                                    "store's committed frames)")
    return frames.astype(np.int64), pose, trans, betas


def _check_parameters(fps, config) -> tuple[float, float, float, float]:
    """(fps, sigma_s, max_gap_s, extend_s) as floats, checked."""
    values = {"fps": fps, "offline_sigma_s": getattr(config, "offline_sigma_s", None),
              "offline_max_gap_s": getattr(config, "offline_max_gap_s", None),
              "offline_extend_s": getattr(config, "offline_extend_s", None)}
    for name, value in values.items():
        number = isinstance(value, (int, float, np.number)) and not isinstance(value, bool) and np.isfinite(value)
        if not (number and (value > 0 if name == "fps" else value >= 0)):
            raise OfflineSmoothingError(f"{name} = {value!r}: expected a number {'> 0' if name == 'fps' else '>= 0'} "
                                        "(config: stream.config.SmoothingConfig)")
    return tuple(float(v) for v in values.values())
