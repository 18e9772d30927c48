"""Joint sets of the training/test datasets that ``nets.joints`` does not define, and name-based conversion.

Conversion is by joint name into ``nets.joints.SMPL30`` (a joint the set lacks stays 0 and invalid), as
the official release does. Flip pairs are derived from the ``L_``/``R_`` names, so no set can carry a
wrong hand-written pair list (the official CrowdPose list was wrong).
"""
from __future__ import annotations

import numpy as np

from nets.joints import COCO17, CROWDPOSE14, OPENPOSE18, SMPL30, to_superset

H36M17 = ("Pelvis", "R_Hip", "R_Knee", "R_Ankle", "L_Hip", "L_Knee", "L_Ankle", "Torso", "Neck", "Nose",
          "Head_top", "L_Shoulder", "L_Elbow", "L_Wrist", "R_Shoulder", "R_Elbow", "R_Wrist")
MUCO21 = ("Head_top", "Thorax", "R_Shoulder", "R_Elbow", "R_Wrist", "L_Shoulder", "L_Elbow", "L_Wrist",
          "R_Hip", "R_Knee", "R_Ankle", "L_Hip", "L_Knee", "L_Ankle", "Pelvis", "Spine", "Head", "R_Hand",
          "L_Hand", "R_Toe", "L_Toe")
MUPOTS17 = MUCO21[:17]  # MPI-INF-3DHP / MuPoTS-3D test joints (the MI-17 regressor rows)
MPII16 = ("R_Ankle", "R_Knee", "R_Hip", "L_Hip", "L_Knee", "L_Ankle", "Pelvis", "Thorax", "Neck", "Head_top",
          "R_Wrist", "R_Elbow", "R_Shoulder", "L_Shoulder", "L_Elbow", "L_Wrist")
COCO17_PELVIS = COCO17 + ("Pelvis",)
CROWDPOSE14_PELVIS = CROWDPOSE14 + ("Pelvis",)

DATASET_JOINT_SETS: dict[str, tuple[str, ...]] = {
    "h36m17": H36M17, "muco21": MUCO21, "mupots17": MUPOTS17, "mpii16": MPII16, "coco17": COCO17,
    "coco17_pelvis": COCO17_PELVIS, "crowdpose14": CROWDPOSE14, "crowdpose14_pelvis": CROWDPOSE14_PELVIS,
    "openpose18": OPENPOSE18, "smpl30": SMPL30,
}


def flip_pairs(names: tuple[str, ...]) -> tuple[tuple[int, int], ...]:
    """Index pairs (i, j) with names[i] = 'L_x' and names[j] = 'R_x', derived from the names."""
    return tuple((i, names.index("R_" + n[2:])) for i, n in enumerate(names)
                 if n.startswith("L_") and "R_" + n[2:] in names)


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
