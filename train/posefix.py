"""PoseFix-style synthetic errors on the training 2D input pose (TRAINING.md §2).

Works in COCO-17 on crop pixels (after the crop affine). For every annotated joint one error
mode is drawn from the official per-joint-group table (``mode_probabilities``), then a point is
drawn for it:

========== ====================================================== ======================
mode       candidate                                              source
========== ====================================================== ======================
jitter     r ∈ U[d.85, d.50]                                      own GT joint
miss       r ∈ U[d.50, d.10], > d.50 from every source            any source (non-GT ¼)
inversion  r ∈ U[0, d.50]                                         own mirror joint
swap       r ∈ U[0, d.50]                                         near person's j / mirror
good       r ∈ U[0, d.85]                                         own GT joint
========== ====================================================== ======================

d_ks = sqrt(−2·A·(2σ_j)²·ln ks) with the COCO sigmas and A the tight-bbox area (crop px²).
Sources are the own GT joint, near people's joint j, the own mirror joint and near people's
mirror joint. A candidate at distance r from its source is rejected when a competing source
lies closer than r to it (it must stay nearest to the joint it imitates). A mode left with no
candidate is infeasible: its probability goes to 0 and the rest are renormalised (done by
redrawing without it, which gives the same distribution); with none feasible the joint is
(0, 0, 0). Output joints carry v = 1. Joints unannotated in the GT stay (0, 0, 0): their
heatmaps are masked by the GT validity anyway.

Randomness only from the ``numpy.random.Generator`` passed in.
"""
from __future__ import annotations

import numpy as np

from nets.joints import COCO17, SMPL30, superset_index

MODES = ("jitter", "miss", "inversion", "swap", "good")
COCO_SIGMAS = np.array([.26, .25, .25, .35, .35, .79, .79, .72, .72, .62, .62, 1.07, 1.07, .87, .87, .89, .89]) / 10.0
COCO_MIRROR = (0, 2, 1, 4, 3, 6, 5, 8, 7, 10, 9, 12, 11, 14, 13, 16, 15)
NUM_SAMPLES = {"jitter": 500, "miss": 2000, "inversion": 500, "swap": 500, "good": 125}

_NOSE, _FACE = (0,), (0, 1, 2, 3, 4)
_UPPER, _LOWER = (5, 6, 7, 8, 9, 10), (11, 12, 13, 14, 15, 16)


def _by_group(groups: dict[tuple[int, ...], float]) -> np.ndarray:
    out = np.full(17, np.nan)
    for joints, p in groups.items():
        out[list(joints)] = p
    return out


def mode_probabilities(num_valid: int, num_overlap: int) -> dict[str, np.ndarray]:
    """Official table: {mode: (17,) probability per COCO joint} before feasibility.

    ``num_valid`` = annotated joints of the person; ``num_overlap`` = near people (IoU ≥ 0.1)."""
    if num_valid <= 10:
        jitter = _by_group({(0, 13, 14, 15, 16): .15, (1, 2, 3, 4, 5, 6, 7, 8, 9, 10): .20, (11, 12): .25})
    else:
        jitter = _by_group({(0, 13, 14, 15, 16): .10, (1, 2, 3, 4, 5, 6, 7, 8, 9, 10): .15, (11, 12): .20})
    face_sa, rest = _FACE, (7, 8, 9, 10, 11, 12, 13, 14)
    if num_valid <= 5:
        miss = _by_group({face_sa: .15, (5, 6, 15, 16): .20, rest: .25})
    elif num_valid <= 10:
        miss = _by_group({face_sa: .10, (5, 6, 15, 16): .13, rest: .15})
    else:
        miss = _by_group({face_sa: .02, (5, 6, 15, 16): .05, rest: .10})
    inversion = _by_group({_FACE: .01, _UPPER: .03, _LOWER: .06})
    crowded = (num_valid <= 10 and num_overlap > 0) or (num_valid <= 15 and num_overlap >= 3)
    swap = _by_group({_FACE: .02, _UPPER: .15, _LOWER: .10} if crowded else {_FACE: .01, _UPPER: .06, _LOWER: .03})
    good = 1.0 - jitter - miss - inversion - swap
    return {"jitter": jitter, "miss": miss, "inversion": inversion, "swap": swap, "good": good}


def ks_radius(area: float, ks: float) -> np.ndarray:
    """(17,) radius in crop px at which a single-joint error gives OKS term ``ks``."""
    return np.sqrt(-2.0 * area * (2.0 * COCO_SIGMAS) ** 2 * np.log(ks))


def tight_area(joints: np.ndarray) -> float:
    """Area (px²) of the tight box around the annotated joints of a (K,3) pose."""
    v = joints[joints[:, 2] > 0, :2]
    if len(v) == 0:
        return 0.0
    span = v.max(axis=0) - v.min(axis=0)
    return float(span[0] * span[1])


def _polar(rng: np.random.Generator, centres: np.ndarray, r_lo: float, r_hi: float):
    r = rng.uniform(r_lo, r_hi, size=len(centres))
    a = rng.uniform(0.0, 2.0 * np.pi, size=len(centres))
    return centres + np.stack([r * np.cos(a), r * np.sin(a)], axis=1), r


def _sq_dist(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(N,2), (M,2) -> (N,M) squared distances."""
    dx = a[:, 0, None] - b[None, :, 0]
    dy = a[:, 1, None] - b[None, :, 1]
    return dx * dx + dy * dy


def _sources(j: int, joints: np.ndarray, near: np.ndarray) -> dict[str, np.ndarray]:
    m = COCO_MIRROR[j]
    own = joints[[j], :2] if joints[j, 2] > 0 else np.zeros((0, 2))
    mirror = joints[[m], :2] if m != j and joints[m, 2] > 0 else np.zeros((0, 2))
    near_j = near[near[:, j, 2] > 0, j, :2]
    near_m = near[near[:, m, 2] > 0, m, :2] if m != j else np.zeros((0, 2))
    return {"own": own, "mirror": mirror, "near": np.concatenate([near_j, near_m])}


def _candidates(mode: str, j: int, src: dict[str, np.ndarray], d: dict[float, np.ndarray],
                rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Accepted candidates (C,2) for ``mode`` and their radius from their source (C,)."""
    n = NUM_SAMPLES[mode]
    own, mirror, near = src["own"], src["mirror"], src["near"]
    everyone = np.concatenate([own, mirror, near])
    if mode == "miss":
        if len(everyone) == 0:
            return np.zeros((0, 2)), np.zeros(0)
        weights = np.concatenate([np.ones(len(own)), np.full(len(everyone) - len(own), 0.25)])
        cum = np.cumsum(weights)
        which = np.minimum(np.searchsorted(cum, rng.random(n) * cum[-1], side="right"), len(everyone) - 1)
        pts, r = _polar(rng, everyone[which], d[.50][j], d[.10][j])
        keep = np.all(_sq_dist(pts, everyone) > d[.50][j] ** 2, axis=1)
        return pts[keep], r[keep]
    if mode in ("jitter", "good"):
        own_src, others = own, np.concatenate([mirror, near])
        lo, hi = (d[.85][j], d[.50][j]) if mode == "jitter" else (0.0, d[.85][j])
    elif mode == "inversion":
        own_src, others = mirror, np.concatenate([own, near])
        lo, hi = 0.0, d[.50][j]
    else:  # swap
        own_src, others = near, np.concatenate([own, mirror])
        lo, hi = 0.0, d[.50][j]
    if len(own_src) == 0:
        return np.zeros((0, 2)), np.zeros(0)
    which = rng.integers(0, len(own_src), size=n)
    pts, r = _polar(rng, own_src[which], lo, hi)
    competitors = np.concatenate([others, own_src])  # for swap, the other near sources compete too
    dist = _sq_dist(pts, competitors)
    dist[np.arange(n), len(others) + which] = np.inf
    keep = np.all(dist >= (r * r)[:, None], axis=1)
    return pts[keep], r[keep]


def perturb_joint(j: int, joints: np.ndarray, near: np.ndarray, d: dict[float, np.ndarray],
                  probs: dict[str, np.ndarray], rng: np.random.Generator) -> tuple[np.ndarray, str | None, float]:
    """One joint: -> ((3,) x, y, 1 — or zeros), chosen mode or None, radius from its source."""
    src = _sources(j, joints, near)
    p = np.array([max(float(probs[m][j]), 0.0) for m in MODES])
    while p.sum() > 0:
        cum = np.cumsum(p)
        k = min(int(np.searchsorted(cum, rng.random() * cum[-1], side="right")), len(MODES) - 1)
        pts, r = _candidates(MODES[k], j, src, d, rng)
        if len(pts):
            i = int(rng.integers(len(pts)))
            return np.array([pts[i, 0], pts[i, 1], 1.0]), MODES[k], float(r[i])
        p[k] = 0.0
    return np.zeros(3), None, 0.0


def synthesize_pose(joints: np.ndarray, near: np.ndarray, rng: np.random.Generator,
                    area: float | None = None) -> tuple[np.ndarray, list[str | None]]:
    """(17,3) COCO GT x, y, v in crop px; near (N,17,3) near people's joints -> (17,3), modes.

    ``area`` defaults to the tight-bbox area of the GT. Unannotated joints give (0,0,0)/None."""
    joints = np.asarray(joints, dtype=np.float64)
    near = np.asarray(near, dtype=np.float64).reshape(-1, 17, 3)
    area = tight_area(joints) if area is None else float(area)
    d = {ks: ks_radius(area, ks) for ks in (.85, .50, .10)}
    num_valid = int((joints[:, 2] > 0).sum())
    probs = mode_probabilities(num_valid, len(near))
    out = np.zeros((17, 3))
    modes: list[str | None] = [None] * 17
    for j in range(17):
        if joints[j, 2] > 0:
            out[j], modes[j], _ = perturb_joint(j, joints, near, d, probs, rng)
    return out, modes


_COCO_IN_30 = superset_index(COCO17)  # (30,) COCO index per SMPL30 joint or -1


def synthesize_superset(joints30: np.ndarray, near30: np.ndarray, rng: np.random.Generator,
                        area: float | None = None) -> np.ndarray:
    """(30,3) SMPL30 input pose, near (N,30,3) -> (30,3) with the COCO-shared joints perturbed.

    Joints COCO lacks are copied unchanged (as official: only the shared joints come back)."""
    joints30 = np.asarray(joints30, dtype=np.float64)
    near30 = np.asarray(near30, dtype=np.float64).reshape(-1, len(SMPL30), 3)
    to_coco = np.array([list(_COCO_IN_30).index(i) for i in range(17)])
    coco, _ = synthesize_pose(joints30[to_coco], near30[:, to_coco], rng, area)
    out = joints30.copy()
    out[to_coco] = coco
    return out
