"""Stored tracks scored against a synthetic clip's ground truth (``truth.npz`` of ``stream.demo.synth``).

    truth = load_truth("out/clip/truth.npz", "coco17")
    with open_store("out/clip.zarr") as store:
        tracks = [store.track(i) for i in store.track_ids()]
    motions = track_motions(tracks, truth)                   # raw rows, each matched to a true person or -1
    scores = score_motions(motions, truth)                   # recall, mpjpe_mm, accel_error_mm, ...
    smooth = track_motions(tracks, truth, joints3d=[...])    # other joints for the same rows (smoothed values)

Matching: in each frame the stored rows' 2D keypoints are matched one-to-one to the true people's
(``nets.metrics.match_poses_2d``): mean joint distance below ``MATCH_SCALE`` of the person's scale, the
pixel height of 1.7 m at its pelvis depth. A true person-frame is visible when the person is in the image
with at least one visible keypoint; recall is the share of visible person-frames some row is matched to.
Rows added between observed ones (``Motion.observed`` False, e.g. by an offline smoother filling gaps)
take the true person of the observed rows on both sides when they agree.

Accuracy is over the rows with a true person (matched, or filled between rows of one person): MPJPE and
PA-MPJPE of the pelvis-centred 30 joints. Smoothness is over runs of consecutive frames on one true person:
acceleration error of the pelvis-centred joints (mm/frame²), depth jitter of the pelvis (mean |second
difference| of its z, mm/frame²; ``z_jitter_truth_mm`` is the truth's over the same frames), spread of the
shape per track, the speed of wrists and ankles (pelvis-centred) kept where the truth's is in its top 1 %
(``peak_speed_ratio``), and the
delay of those joints behind the truth (``lag_frames``; its estimate varies by about half a frame between
clips even for unfiltered values).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from nets.joints import SMPL30
from nets.metrics import (acceleration_error, betas_spread, consecutive_runs, depth_jitter, joint_speeds, lag_frames,
                          match_poses_2d, mpjpe, pa_mpjpe, peak_speed_ratio, recall_counts)

MATCH_SCALE = 0.25     # a row matches a true person when its mean 2D joint distance is below this x the scale
PERSON_HEIGHT_M = 1.7  # the scale: the pixel height of this at the person's pelvis depth
PELVIS = SMPL30.index("Pelvis")
FAST_JOINTS = tuple(SMPL30.index(n) for n in ("L_Wrist", "R_Wrist", "L_Ankle", "R_Ankle"))


@dataclass(frozen=True)
class Truth:
    """The ground truth that scoring reads: T frames, N people."""
    keypoints: np.ndarray   # (T, N, K, 3) x, y, visibility in the store's joint set
    joints3d: np.ndarray    # (T, N, 30, 3) camera frame, metres
    visible: np.ndarray     # (T, N) bool: in the image with a visible keypoint
    scale: np.ndarray       # (T, N) pixels: PERSON_HEIGHT_M at the pelvis depth


@dataclass(frozen=True)
class Motion:
    """One track's rows to score: T frames in increasing order."""
    track_id: int
    frame: np.ndarray       # (T,) frame index
    who: np.ndarray         # (T,) true person (index into the truth's N) or -1
    joints3d: np.ndarray    # (T, 30, 3) metres
    smpl_betas: np.ndarray  # (T, 10)
    observed: np.ndarray    # (T,) bool: a stored row (False: filled in between)


def load_truth(path, joint_set: str = "coco17") -> Truth:
    """``truth.npz`` -> Truth with the keypoints of ``joint_set`` (one the clip was written with)."""
    data = np.load(path)
    key = f"keypoints2d_{joint_set}"
    if key not in data:
        raise KeyError(f"{path}: no {key}; the clip has keypoints of {sorted(str(s) for s in data['joint_sets'])}")
    keypoints, joints3d = data[key].astype(np.float64), data["joints3d"].astype(np.float64)
    depth = np.maximum(joints3d[..., PELVIS, 2], 1e-2)
    visible = data["present"].astype(bool) & (keypoints[..., 2] > 0).any(-1)
    return Truth(keypoints, joints3d, visible, float(data["K"][1, 1]) * PERSON_HEIGHT_M / depth)


def match_rows(tracks, truth: Truth) -> list[np.ndarray]:
    """Tracks (``stream.store.Track``-like: ``frame``, ``keypoints2d``) -> per track (T,) true person or -1,
    matched one-to-one per frame over all tracks' rows."""
    who = [np.full(len(t.frame), -1, np.int64) for t in tracks]
    rows = [(int(f), i, r) for i, t in enumerate(tracks) for r, f in enumerate(t.frame)]
    by_frame: dict[int, list[tuple[int, int]]] = {}
    for f, i, r in rows:
        by_frame.setdefault(f, []).append((i, r))
    for f, members in by_frame.items():
        if f >= len(truth.keypoints):
            continue
        pred = np.stack([tracks[i].keypoints2d[r] for i, r in members])
        match = match_poses_2d(pred, truth.keypoints[f], truth.scale[f], MATCH_SCALE)
        for person, row in enumerate(match):
            if row >= 0 and truth.visible[f, person]:
                i, r = members[row]
                who[i][r] = person
    return who


def fill_who(frame: np.ndarray, observed_frame: np.ndarray, observed_who: np.ndarray,
             visible: np.ndarray | None = None) -> np.ndarray:
    """(T,) frames of a track, (S,) its observed frames and their true people -> (T,) true person per frame:
    an observed frame's own; between observed frames the person of both sides when they agree, else -1; before
    the first or after the last observed frame (a track's extended ends) the person of that frame where they are
    in view (``visible``: (frames, people) bool, ``Truth.visible``; None: everywhere)."""
    frame, observed_frame = np.asarray(frame), np.asarray(observed_frame)
    out = np.full(len(frame), -1, np.int64)
    if not len(observed_frame):
        return out
    after = np.clip(np.searchsorted(observed_frame, frame), 0, len(observed_frame) - 1)
    before = np.clip(np.searchsorted(observed_frame, frame, side="right") - 1, 0, len(observed_frame) - 1)
    inside = (observed_frame[before] <= frame) & (frame <= observed_frame[after])
    agree = inside & (observed_who[before] == observed_who[after])
    out[agree] = observed_who[before][agree]
    for ends, person in ((frame < observed_frame[0], observed_who[0]), (frame > observed_frame[-1], observed_who[-1])):
        if person >= 0 and visible is not None:
            ends &= visible[np.minimum(frame, len(visible) - 1), person] & (frame < len(visible))
        out[ends] = person
    return out


def track_motions(tracks, truth: Truth, joints3d=None, who=None) -> list[Motion]:
    """Stored tracks -> their Motions, rows matched to true people (``who``, default ``match_rows``);
    ``joints3d``: per track other (T,30,3) joints for the same rows (e.g. of smoothed values), default the
    stored ones."""
    who = match_rows(tracks, truth) if who is None else who
    joints3d = joints3d if joints3d is not None else [t.joints3d for t in tracks]
    return [Motion(int(t.track_id), np.asarray(t.frame), w, np.asarray(j, np.float64), np.asarray(t.smpl_betas),
                   np.ones(len(t.frame), bool)) for t, w, j in zip(tracks, who, joints3d)]


def _runs(motion: Motion) -> list[slice]:
    """Runs of consecutive frames on one true person (>= 0)."""
    out = []
    for run in consecutive_runs(motion.frame):
        who = motion.who[run]
        cuts = [0, *(np.flatnonzero(np.diff(who) != 0) + 1).tolist(), len(who)]
        out += [slice(run.start + a, run.start + b) for a, b in zip(cuts[:-1], cuts[1:]) if who[a] >= 0]
    return out


def score_motions(motions: list[Motion], truth: Truth) -> dict:
    """Recall, accuracy and smoothness of the motions (module docstring); distances in mm."""
    found, total = recall_counts([(f, w) for m in motions for f, w in zip(m.frame, m.who) if w >= 0], truth.visible)
    pred, gt, purity, matched = [], [], 0, 0
    for m in motions:
        rows = np.flatnonzero(m.who >= 0)
        if len(rows):
            pred.append(_centred(m.joints3d[rows]))
            gt.append(_centred(truth.joints3d[m.frame[rows], m.who[rows]]))
            purity, matched = purity + np.bincount(m.who[rows]).max(), matched + len(rows)
    pred = np.concatenate(pred) if pred else np.zeros((0, 30, 3))
    gt = np.concatenate(gt) if gt else np.zeros((0, 30, 3))
    scores = {"person_frames": len(pred), "rows": int(sum(len(m.frame) for m in motions)), "visible": total,
              "found": found, "recall": found / max(total, 1),
              "mpjpe_mm": float(mpjpe(pred, gt).mean() * 1000) if len(pred) else np.nan,
              "pa_mpjpe_mm": float(pa_mpjpe(pred, gt).mean() * 1000) if len(pred) else np.nan,
              "tracks": len(motions), "people": int(truth.joints3d.shape[1]),
              "id_purity": float(purity / max(matched, 1)), "betas_spread": betas_spread([m.smpl_betas for m in motions])}
    return {**scores, **_smoothness(motions, truth)}


def _smoothness(motions: list[Motion], truth: Truth) -> dict:
    accel, z, z_truth, speeds, speeds_truth, limbs = [], [], [], [], [], []
    for m in motions:
        for run in _runs(m):
            pred, gt = m.joints3d[run], truth.joints3d[m.frame[run], m.who[run]]
            accel.append(acceleration_error(pred, gt, root=PELVIS))
            z.append(depth_jitter(pred[:, PELVIS, 2]))
            z_truth.append(depth_jitter(gt[:, PELVIS, 2]))
            pred_limbs, gt_limbs = _centred(pred)[:, FAST_JOINTS], _centred(gt)[:, FAST_JOINTS]
            speeds.append(joint_speeds(pred_limbs).reshape(-1))
            speeds_truth.append(joint_speeds(gt_limbs).reshape(-1))
            limbs.append((pred_limbs, gt_limbs))
    accel, z, z_truth = (np.concatenate(v) if v else np.zeros(0) for v in (accel, z, z_truth))
    speeds, speeds_truth = (np.concatenate(v) if v else np.zeros(0) for v in (speeds, speeds_truth))
    mean_mm = (lambda v: float(v.mean() * 1000) if len(v) else np.nan)
    return {"accel_error_mm": mean_mm(accel), "accel_frames": len(accel), "z_jitter_mm": mean_mm(z),
            "z_jitter_truth_mm": mean_mm(z_truth),
            "peak_speed_ratio": peak_speed_ratio(speeds, speeds_truth) if len(speeds) else np.nan,
            "lag_frames": lag_frames(limbs) if limbs else np.nan}


def _centred(joints: np.ndarray) -> np.ndarray:
    """(T,30,3) -> relative to the pelvis."""
    return joints - joints[:, PELVIS:PELVIS + 1]


def score_store(store_path, truth_path) -> dict:
    """A store's raw rows vs the synthetic ground truth (``score_motions``); the store's joint set."""
    from stream.store import open_store

    with open_store(store_path) as store:
        truth = load_truth(truth_path, store.joint_set)
        tracks = [store.track(i) for i in store.track_ids()]
    return score_motions(track_motions(tracks, truth), truth)


def filled_recall(store_path, truth_path) -> tuple[int, int]:
    """(visible person-frames with a row once the offline pass has filled the gaps, visible person-frames):
    observed rows matched as ``match_rows`` does, a filled row counted for the person on both its sides. A track
    without offline values counts its stored rows."""
    from stream.store import open_store

    with open_store(store_path) as store:
        truth = load_truth(truth_path, store.joint_set)
        tracks = [store.track(i) for i in store.track_ids()]
        offline = [store.offline(i) for i in store.track_ids()]
    pairs = []
    for track, who, filled in zip(tracks, match_rows(tracks, truth), offline):
        frames = track.frame if filled is None else filled.frame
        who = who if filled is None else fill_who(filled.frame, track.frame, who, truth.visible)
        pairs += [(f, w) for f, w in zip(frames, who) if w >= 0]
    return recall_counts(pairs, truth.visible)
