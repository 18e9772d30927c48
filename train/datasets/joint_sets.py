"""Dataset joint-set variants (with a pelvis added) and name-based conversion; the sets live in ``nets.joints``.

Conversion is by joint name into ``nets.joints.SMPL30`` (a joint the set lacks stays 0 and invalid), as
the official release does. Flip pairs come from ``nets.joints.flip_pairs`` (derived from the names).
"""
from __future__ import annotations

import numpy as np

from nets.joints import COCO17, CROWDPOSE14, H36M17, MPII16, MUCO21, MUPOTS17, OPENPOSE18, SMPL30, to_superset

COCO17_PELVIS = COCO17 + ("Pelvis",)
CROWDPOSE14_PELVIS = CROWDPOSE14 + ("Pelvis",)

DATASET_JOINT_SETS: dict[str, tuple[str, ...]] = {
    "h36m17": H36M17, "muco21": MUCO21, "mupots17": MUPOTS17, "mpii16": MPII16, "coco17": COCO17,
    "coco17_pelvis": COCO17_PELVIS, "crowdpose14": CROWDPOSE14, "crowdpose14_pelvis": CROWDPOSE14_PELVIS,
    "openpose18": OPENPOSE18, "smpl30": SMPL30,
}


def convert(values: np.ndarray, src: tuple[str, ...], dst: tuple[str, ...]) -> np.ndarray:
    """(K, C) per-joint values named ``src`` -> (len(dst), C) by name; joints ``src`` lacks are 0."""
    values = np.asarray(values)
    if dst == SMPL30:
        return to_superset(values, src)
    out = np.zeros((len(dst),) + values.shape[1:], dtype=values.dtype)
    for j, name in enumerate(dst):
        if name in src:
            out[j] = values[src.index(name)]
    return out


def add_pelvis(kpts: np.ndarray, names: tuple[str, ...]) -> np.ndarray:
    """(K, 3) x, y, v -> (K+1, 3) with the hip midpoint appended; v = min of the hips' v (both needed)."""
    kpts = np.asarray(kpts, dtype=np.float64)
    lh, rh = kpts[names.index("L_Hip")], kpts[names.index("R_Hip")]
    pelvis = np.array([(lh[0] + rh[0]) / 2, (lh[1] + rh[1]) / 2, min(lh[2], rh[2])])
    return np.concatenate([kpts, pelvis[None]], axis=0)
