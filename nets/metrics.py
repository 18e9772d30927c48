"""Evaluation metrics (TRAINING.md §5) as pure numpy functions.

Letters: N people/samples, J joints, V vertices. Distances keep the unit of the inputs
(the evaluators pass millimetres).

- ``mpjpe`` / ``pa_mpjpe``: mean per-joint L2 error, the latter after a similarity Procrustes
  alignment (Umeyama, reflection-corrected).
- ``mpvpe``: mean per-vertex error with each mesh centred on its own SMPL joint 0, no Procrustes.
- ``mupots_3dpck``: a Python port of the MuPoTS MATLAB evaluation logic (2D identity matching,
  pelvis centring, bone-length rescaling, PCK@150 mm, "all annotated" and "only matched").
- ``crowd_index``: the CrowdIndex of ``tool/check_crowdidx.py``.
- Video: ``match_poses_2d`` / ``recall_counts`` (recall of visible person-frames), ``acceleration_error``,
  ``depth_jitter``, ``betas_spread``, ``joint_speeds`` / ``peak_speed_ratio`` (over-smoothing), ``lag_frames``.
"""
from __future__ import annotations

import numpy as np

# MuPoTS-17 (MPI-INF-3DHP test order), 0-based: 0 head_top, 1 neck, 2-4 right arm, 5-7 left arm,
# 8-10 right leg, 11-13 left leg, 14 pelvis, 15 spine, 16 head.
MUPOTS_PARENTS = (1, 15, 1, 2, 3, 1, 5, 6, 14, 8, 9, 14, 11, 12, 14, 14, 1)
MUPOTS_TRAVERSAL = (14, 15, 1, 0, 16, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13)  # 1-based [15,16,2,1,17,3..14]
MUPOTS_ROOT = 14
MUPOTS_MATCH_JOINTS = tuple(range(1, 14))  # 1-based joints 2..14
MUPOTS_EVAL_JOINTS = tuple(range(14))      # 1-based joints 1..14 (pelvis, spine, head excluded)


def mpjpe(pred: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """(N,J,3), (N,J,3) -> (N,) mean joint L2 distance per sample."""
    return np.linalg.norm(np.asarray(pred) - np.asarray(gt), axis=-1).mean(axis=-1)


def similarity_align(pred: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """(..., J, 3) pred, (..., J, 3) gt -> (..., J, 3) pred mapped by the similarity s·R·x + t
    closest to gt (least squares), per leading index.

    Umeyama's closed form; when the best orthogonal map is a reflection the last singular
    direction is flipped, so R is a proper rotation.
    """
    pred = np.asarray(pred, dtype=np.float64)
    gt = np.asarray(gt, dtype=np.float64)
    mu_p, mu_g = pred.mean(axis=-2, keepdims=True), gt.mean(axis=-2, keepdims=True)
    p, g = pred - mu_p, gt - mu_g
    var_p = (p ** 2).sum(axis=(-2, -1))                      # (...,)
    u, s, vt = np.linalg.svd(np.swapaxes(g, -1, -2) @ p)     # cov (..., 3, 3)
    d = np.ones(s.shape)
    d[..., -1] = np.sign(np.linalg.det(u) * np.linalg.det(vt))
    d[d == 0] = 1.0
    rot = u @ (d[..., :, None] * vt)
    scale = (s * d).sum(axis=-1) / var_p
    return scale[..., None, None] * p @ np.swapaxes(rot, -1, -2) + mu_g


def pa_mpjpe(pred: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """(N,J,3), (N,J,3) -> (N,) MPJPE after per-sample similarity Procrustes."""
    return mpjpe(similarity_align(pred, gt), gt)


def mpvpe(pred_mesh: np.ndarray, gt_mesh: np.ndarray, pred_root: np.ndarray,
          gt_root: np.ndarray) -> np.ndarray:
    """(N,V,3), (N,V,3), (N,3), (N,3) -> (N,) mean vertex L2 error.

    Each mesh is centred on its own root (SMPL joint 0 of that mesh); no Procrustes.
    """
    pred = np.asarray(pred_mesh) - np.asarray(pred_root)[:, None]
    gt = np.asarray(gt_mesh) - np.asarray(gt_root)[:, None]
    return np.linalg.norm(pred - gt, axis=-1).mean(axis=-1)


# ---------------------------------------------------------------- MuPoTS 3DPCK

def match_people_2d(pred_2d: np.ndarray, gt_2d: np.ndarray, threshold: float = 40.0,
                    joints=MUPOTS_MATCH_JOINTS) -> np.ndarray:
    """(P,17,2) predictions, (G,17,2) GT -> (G,) index of the matched prediction or -1.

    Distance = mean 2D L2 over ``joints``; pairs are taken greedily by increasing distance,
    one-to-one, and only below ``threshold`` pixels.
    """
    pred_2d = np.asarray(pred_2d, dtype=np.float64).reshape(-1, 17, 2)
    gt_2d = np.asarray(gt_2d, dtype=np.float64).reshape(-1, 17, 2)
    match = np.full(len(gt_2d), -1, dtype=np.int64)
    if len(pred_2d) == 0 or len(gt_2d) == 0:
        return match
    j = list(joints)
    dist = np.linalg.norm(gt_2d[:, None, j] - pred_2d[None, :, j], axis=-1).mean(axis=-1)  # (G,P)
    return greedy_match(dist, threshold)


def greedy_match(dist: np.ndarray, threshold: float) -> np.ndarray:
    """(G,P) distances -> (G,) index of the column matched to each row or -1.

    Pairs are taken greedily by increasing distance, one-to-one, and only below ``threshold``.
    """
    dist = np.asarray(dist, dtype=np.float64)
    match = np.full(dist.shape[0], -1, dtype=np.int64)
    if dist.size == 0:
        return match
    used = np.zeros(dist.shape[1], dtype=bool)
    for flat in np.argsort(dist, axis=None, kind="stable"):
        g, p = np.unravel_index(flat, dist.shape)
        if not dist[g, p] < threshold:
            break
        if match[g] < 0 and not used[p]:
            match[g], used[p] = p, True
    return match


def rescale_bones(pred: np.ndarray, gt: np.ndarray, parents=MUPOTS_PARENTS,
                  order=MUPOTS_TRAVERSAL) -> np.ndarray:
    """(J,3), (J,3) -> (J,3): pred rebuilt from its root along ``order`` with every bone
    (joint − parent) kept in direction but given the GT bone's length."""
    pred = np.asarray(pred, dtype=np.float64)
    gt = np.asarray(gt, dtype=np.float64)
    out = pred.copy()
    for j in order:
        parent = parents[j]
        if parent == j:
            continue
        bone = pred[j] - pred[parent]
        length = np.linalg.norm(bone)
        target = np.linalg.norm(gt[j] - gt[parent])
        out[j] = out[parent] + (bone * (target / length) if length > 0 else 0.0)
    return out


def mupots_person_errors(pred_3d: np.ndarray, gt_3d: np.ndarray) -> np.ndarray:
    """(17,3), (17,3) -> (17,) joint errors after pelvis centring and bone rescaling."""
    pred = np.asarray(pred_3d, dtype=np.float64)
    gt = np.asarray(gt_3d, dtype=np.float64)
    pred = pred - pred[MUPOTS_ROOT]
    gt = gt - gt[MUPOTS_ROOT]
    return np.linalg.norm(rescale_bones(pred, gt) - gt, axis=-1)


def mupots_3dpck(images: list[dict], threshold: float = 150.0, match_px: float = 40.0) -> dict[str, float]:
    """3DPCK (%) over MuPoTS images in both official modes.

    Each image is a dict with ``gt_2d (G,17,2)``, ``gt_3d (G,17,3)`` mm, ``pred_2d (P,17,2)``,
    ``pred_3d (P,17,3)`` mm and optionally ``gt_valid (G,)`` (people with 0 are not evaluated).
    "all": every annotated person counts, unmatched people score 0 on all joints;
    "matched": only people matched to a prediction count. Joints 1..14 (1-based) are scored.
    Returns {"all": %, "matched": %}.
    """
    hits_all = count_all = hits_matched = count_matched = 0
    eval_j = list(MUPOTS_EVAL_JOINTS)
    for im in images:
        gt_2d = np.asarray(im["gt_2d"]).reshape(-1, 17, 2)
        gt_3d = np.asarray(im["gt_3d"]).reshape(-1, 17, 3)
        valid = np.asarray(im.get("gt_valid", np.ones(len(gt_3d))), dtype=bool)
        match = match_people_2d(im["pred_2d"], gt_2d, match_px)
        pred_3d = np.asarray(im["pred_3d"]).reshape(-1, 17, 3)
        for g in np.flatnonzero(valid):
            count_all += len(eval_j)
            if match[g] < 0:
                continue
            hit = int((mupots_person_errors(pred_3d[match[g]], gt_3d[g])[eval_j] < threshold).sum())
            hits_all += hit
            hits_matched += hit
            count_matched += len(eval_j)
    return {"all": 100.0 * hits_all / max(count_all, 1),
            "matched": 100.0 * hits_matched / max(count_matched, 1)}


# ---------------------------------------------------------------- video
# A sequence is a (T, ...) array with ``frames`` (T,) increasing frame indices (None: 0..T-1); differences are
# taken only across consecutive frames. Units stay per frame: x fps (fps²) for per-second values.

def match_poses_2d(pred: np.ndarray, gt: np.ndarray, gt_scale: np.ndarray, threshold: float = 0.25) -> np.ndarray:
    """(P,K,3) x, y, score; (G,K,3) x, y, visibility; (G,) person scales in pixels -> (G,) matched pred or -1.

    Distance = mean pixel distance over the joints visible in gt (> 0) and scored in pred (> 0), divided by
    the gt person's scale (inf with no such joint); ``greedy_match`` below ``threshold``.
    """
    pred, gt = np.asarray(pred, np.float64), np.asarray(gt, np.float64)
    both = (gt[:, None, :, 2] > 0) & (pred[None, :, :, 2] > 0)                   # (G,P,K)
    dist = np.linalg.norm(gt[:, None, :, :2] - pred[None, :, :, :2], axis=-1)    # (G,P,K)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = (dist * both).sum(-1) / both.sum(-1)
    mean = np.where(both.any(-1), mean, np.inf) / np.asarray(gt_scale, np.float64).reshape(-1, 1)
    return greedy_match(mean, threshold)


def recall_counts(found, visible: np.ndarray) -> tuple[int, int]:
    """Pairs (frame, person) found (any order, repeats allowed), (T,N) bool visible -> (visible pairs found,
    visible pairs): recall = found / visible."""
    visible = np.asarray(visible, dtype=bool)
    hits = {(int(t), int(n)) for t, n in found if 0 <= n < visible.shape[1] and 0 <= t < visible.shape[0]}
    return sum(bool(visible[t, n]) for t, n in hits), int(visible.sum())


def _middles(frames, n: int) -> np.ndarray:
    """Indices i with frames i-1, i, i+1 consecutive."""
    f = np.arange(n) if frames is None else np.asarray(frames).reshape(-1)
    return np.flatnonzero((f[2:] - f[1:-1] == 1) & (f[1:-1] - f[:-2] == 1)) + 1


def second_differences(x: np.ndarray, frames=None) -> np.ndarray:
    """(T, ...) -> (M, ...) ``x[t-1] - 2 x[t] + x[t+1]`` at the M frames whose neighbours are both present."""
    x = np.asarray(x, dtype=np.float64)
    i = _middles(frames, len(x))
    return x[i - 1] - 2 * x[i] + x[i + 1]


def acceleration_error(pred: np.ndarray, gt: np.ndarray, frames=None, root: int | None = None) -> np.ndarray:
    """(T,J,3), (T,J,3) -> (M,) mean over joints of ``|accel_pred - accel_gt|`` per frame with both neighbours.

    As in the video HMR literature (HMMR, VIBE): accel = ``x[t-1] - 2 x[t] + x[t+1]``, joints relative to
    joint ``root`` when given. Identical sequences give 0.
    """
    pred, gt = np.asarray(pred, np.float64), np.asarray(gt, np.float64)
    if root is not None:
        pred, gt = pred - pred[:, root:root + 1], gt - gt[:, root:root + 1]
    return np.linalg.norm(second_differences(pred, frames) - second_differences(gt, frames), axis=-1).mean(-1)


def depth_jitter(z: np.ndarray, frames=None) -> np.ndarray:
    """(T,) depth along the camera axis -> (M,) ``|z[t-1] - 2 z[t] + z[t+1]|``."""
    return np.abs(second_differences(z, frames))


def joint_speeds(x: np.ndarray, frames=None) -> np.ndarray:
    """(T,J,3) -> (M,J) ``|x[t+1] - x[t]|`` over the M pairs of consecutive frames."""
    x = np.asarray(x, dtype=np.float64)
    f = np.arange(len(x)) if frames is None else np.asarray(frames).reshape(-1)
    i = np.flatnonzero(np.diff(f) == 1)
    return np.linalg.norm(x[i + 1] - x[i], axis=-1)


def peak_speed_ratio(pred_speeds: np.ndarray, gt_speeds: np.ndarray, q: float = 99.0) -> float:
    """Speeds of the same joints in the same frame pairs (equal shapes) -> the speed kept at the truth's fastest
    moments: the mean of pred over the mean of gt where gt is at or above its ``q``-th percentile. Below 1 when
    smoothing (or lag) cuts the peaks of fast motion (claps, kicks); noise adds little there, as
    ``|v + n| ~ |v|`` while the true speed ``v`` is large. (Pred's own percentile would measure noise spikes.)"""
    pred, gt = np.asarray(pred_speeds, np.float64).reshape(-1), np.asarray(gt_speeds, np.float64).reshape(-1)
    if pred.shape != gt.shape:
        raise ValueError(f"peak_speed_ratio: pred and gt speeds must pair up, got {pred.shape} and {gt.shape}")
    fast = gt >= np.percentile(gt, q)
    return float(pred[fast].mean() / gt[fast].mean())


def betas_spread(betas_per_track) -> float:
    """Sequence of (T,10) shape vectors, one array per track -> mean over tracks with 2+ rows of the mean
    over components of the std over time (0 for a constant shape; nan without such a track)."""
    spreads = [np.asarray(b, np.float64).std(axis=0).mean() for b in betas_per_track if len(b) >= 2]
    return float(np.mean(spreads)) if spreads else float("nan")


def consecutive_runs(frames) -> list[slice]:
    """(T,) increasing frame indices -> slices of the maximal runs of consecutive frames."""
    cuts = np.flatnonzero(np.diff(np.asarray(frames).reshape(-1)) != 1) + 1
    bounds = [0, *cuts.tolist(), len(frames)]
    return [slice(a, b) for a, b in zip(bounds[:-1], bounds[1:]) if b > a]


def lag_frames(segments, max_lag: int = 10) -> float:
    """Pairs (pred (T,...), gt (T,...)) of contiguous sequences -> the delay of pred behind gt in frames.

    The lag maximising the correlation of the positions, pooled over the segments and components:
    ``sum p[t + lag] . g[t] / sqrt(sum |p|² sum |g|²)`` over the overlapping frames, each segment's overlap
    less its means, for whole lags in [-max_lag, max_lag], refined between frames by the parabola through the
    best one and its neighbours; positive: pred comes later. Positions rather than velocities: noise in pred,
    uncorrelated with gt, then weighs little beside the motion. nan without any motion.
    """
    pairs = [tuple(np.asarray(x, np.float64).reshape(len(x), -1) for x in pair) for pair in segments]
    lags = np.arange(-max_lag, max_lag + 1)
    scores = np.array([_correlation(pairs, int(lag)) for lag in lags])
    if not np.isfinite(scores).any():
        return float("nan")
    k = int(np.nanargmax(scores))
    if 0 < k < len(lags) - 1 and np.isfinite(scores[k - 1]) and np.isfinite(scores[k + 1]):
        curve = scores[k - 1] - 2 * scores[k] + scores[k + 1]
        if curve < 0:
            return float(lags[k] + 0.5 * (scores[k - 1] - scores[k + 1]) / curve)
    return float(lags[k])


def _correlation(pairs: list[tuple[np.ndarray, np.ndarray]], lag: int) -> float:
    """Normalised cross-correlation of pred ``lag`` frames later with gt, pooled; nan if empty."""
    dot = pp = gg = 0.0
    for p, g in pairs:
        n = len(p)
        if abs(lag) >= n:
            continue
        a, b = p[max(lag, 0):n + min(lag, 0)], g[max(-lag, 0):n - max(lag, 0)]
        a, b = a - a.mean(axis=0), b - b.mean(axis=0)
        dot, pp, gg = dot + (a * b).sum(), pp + (a * a).sum(), gg + (b * b).sum()
    return dot / np.sqrt(pp * gg) if pp > 0 and gg > 0 else float("nan")


# ---------------------------------------------------------------- CrowdIndex

def crowd_index(target_kpts: np.ndarray, target_bbox, others_kpts: list[np.ndarray]) -> float:
    """CrowdIndex of one person: (K,3) keypoints x, y, v; bbox (x, y, w, h); others: list of (K,3).

    = (other people's labelled keypoints inside the target bbox) / (own labelled keypoints
    inside it); 0 when the target has fewer than 4 of its own keypoints inside.
    """
    x, y, w, h = (float(v) for v in target_bbox)

    def inside(k: np.ndarray) -> int:
        k = np.asarray(k, dtype=np.float64).reshape(-1, 3)
        ok = (k[:, 2] > 0) & (k[:, 0] >= x) & (k[:, 0] <= x + w) & (k[:, 1] >= y) & (k[:, 1] <= y + h)
        return int(ok.sum())

    own = inside(target_kpts)
    if own < 4:
        return 0.0
    return sum(inside(o) for o in others_kpts) / own
