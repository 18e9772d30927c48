"""Evaluation metrics (TRAINING.md §5) as pure numpy functions.

Letters: N people/samples, J joints, V vertices. Distances keep the unit of the inputs
(the evaluators pass millimetres).

- ``mpjpe`` / ``pa_mpjpe``: mean per-joint L2 error, the latter after a similarity Procrustes
  alignment (Umeyama, reflection-corrected).
- ``mpvpe``: mean per-vertex error with each mesh centred on its own SMPL joint 0, no Procrustes.
- ``mupots_3dpck``: a Python port of the MuPoTS MATLAB evaluation logic (2D identity matching,
  pelvis centring, bone-length rescaling, PCK@150 mm, "all annotated" and "only matched").
- ``crowd_index``: the CrowdIndex of ``tool/check_crowdidx.py``.
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
    used = np.zeros(len(pred_2d), dtype=bool)
    for flat in np.argsort(dist, axis=None):
        g, p = np.unravel_index(flat, dist.shape)
        if dist[g, p] >= threshold:
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
