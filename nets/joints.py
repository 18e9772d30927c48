"""Joint sets and the one table that maps them into 3DCrowdNet's 30-joint superset.

The model reads 2D poses in ``SMPL30`` (24 SMPL joints + nose, eyes, ears, head top). A 2D pose
estimator speaks one of ``JOINT_SETS``; ``to_superset`` converts, leaving unmapped joints at 0
(with score 0, so they are masked). ``add_pelvis_neck`` derives the pelvis and neck the way the
official demo does (midpoints, score = product) for sets that lack them.
"""
import numpy as np

SMPL30 = (
    "Pelvis", "L_Hip", "R_Hip", "Torso", "L_Knee", "R_Knee", "Spine", "L_Ankle", "R_Ankle", "Chest",
    "L_Toe", "R_Toe", "Neck", "L_Thorax", "R_Thorax", "Head", "L_Shoulder", "R_Shoulder", "L_Elbow",
    "R_Elbow", "L_Wrist", "R_Wrist", "L_Hand", "R_Hand", "Nose", "L_Eye", "R_Eye", "L_Ear", "R_Ear",
    "Head_top",
)
SMPL30_FLIP_PAIRS = ((1, 2), (4, 5), (7, 8), (10, 11), (13, 14), (16, 17), (18, 19), (20, 21), (22, 23),
                     (25, 26), (27, 28))

# The 15 joints of PositionNet / the RotationNet graph, in order.
GRAPH15 = ("Pelvis", "L_Hip", "R_Hip", "L_Knee", "R_Knee", "L_Ankle", "R_Ankle", "Neck", "Head_top",
           "L_Shoulder", "R_Shoulder", "L_Elbow", "R_Elbow", "L_Wrist", "R_Wrist")
GRAPH15_SKELETON = ((0, 1), (1, 3), (3, 5), (0, 2), (2, 4), (4, 6), (0, 7), (7, 8), (7, 9), (9, 11),
                    (11, 13), (7, 10), (10, 12), (12, 14))
GRAPH15_FLIP_PAIRS = ((1, 2), (3, 4), (5, 6), (9, 10), (11, 12), (13, 14))
GRAPH15_IN_SMPL30 = tuple(SMPL30.index(n) for n in GRAPH15)

COCO17 = ("Nose", "L_Eye", "R_Eye", "L_Ear", "R_Ear", "L_Shoulder", "R_Shoulder", "L_Elbow", "R_Elbow",
          "L_Wrist", "R_Wrist", "L_Hip", "R_Hip", "L_Knee", "R_Knee", "L_Ankle", "R_Ankle")
COCO19 = COCO17 + ("Pelvis", "Neck")
CROWDPOSE14 = ("L_Shoulder", "R_Shoulder", "L_Elbow", "R_Elbow", "L_Wrist", "R_Wrist", "L_Hip", "R_Hip",
               "L_Knee", "R_Knee", "L_Ankle", "R_Ankle", "Head_top", "Neck")
OPENPOSE18 = ("Nose", "Neck", "R_Shoulder", "R_Elbow", "R_Wrist", "L_Shoulder", "L_Elbow", "L_Wrist",
              "R_Hip", "R_Knee", "R_Ankle", "L_Hip", "L_Knee", "L_Ankle", "R_Eye", "L_Eye", "R_Ear", "L_Ear")

# Joint sets of the training/test datasets (train.datasets); 2D pose input uses JOINT_SETS below.
H36M17 = ("Pelvis", "R_Hip", "R_Knee", "R_Ankle", "L_Hip", "L_Knee", "L_Ankle", "Torso", "Neck", "Nose",
          "Head_top", "L_Shoulder", "L_Elbow", "L_Wrist", "R_Shoulder", "R_Elbow", "R_Wrist")
MUCO21 = ("Head_top", "Thorax", "R_Shoulder", "R_Elbow", "R_Wrist", "L_Shoulder", "L_Elbow", "L_Wrist",
          "R_Hip", "R_Knee", "R_Ankle", "L_Hip", "L_Knee", "L_Ankle", "Pelvis", "Spine", "Head", "R_Hand",
          "L_Hand", "R_Toe", "L_Toe")
MUPOTS17 = MUCO21[:17]  # MPI-INF-3DHP / MuPoTS-3D test joints (the MI-17 regressor rows)
MPII16 = ("R_Ankle", "R_Knee", "R_Hip", "L_Hip", "L_Knee", "L_Ankle", "Pelvis", "Thorax", "Neck", "Head_top",
          "R_Wrist", "R_Elbow", "R_Shoulder", "L_Shoulder", "L_Elbow", "L_Wrist")


def flip_pairs(names: tuple[str, ...]) -> tuple[tuple[int, int], ...]:
    """Index pairs (i, j) with names[i] = 'L_x' and names[j] = 'R_x', derived from the names (no hand-written
    lists to get wrong, as the official CrowdPose one was)."""
    return tuple((i, names.index("R_" + n[2:])) for i, n in enumerate(names)
                 if n.startswith("L_") and "R_" + n[2:] in names)


JOINT_SETS = {
    "smpl30": SMPL30,
    "coco17": COCO17,
    "coco19": COCO19,
    "crowdpose14": CROWDPOSE14,
    "openpose18": OPENPOSE18,
}


# Limbs to draw, per joint set, by joint name (one table; ``skeleton`` turns a row into index pairs).
_LEGS = (("L_Hip", "L_Knee"), ("L_Knee", "L_Ankle"), ("R_Hip", "R_Knee"), ("R_Knee", "R_Ankle"))
_ARMS = (("L_Shoulder", "L_Elbow"), ("L_Elbow", "L_Wrist"), ("R_Shoulder", "R_Elbow"), ("R_Elbow", "R_Wrist"))
_COCO_FACE = (("Nose", "L_Eye"), ("Nose", "R_Eye"), ("L_Eye", "L_Ear"), ("R_Eye", "R_Ear"))
_COCO17_EDGES = _LEGS + _ARMS + _COCO_FACE + (
    ("L_Hip", "R_Hip"), ("L_Shoulder", "L_Hip"), ("R_Shoulder", "R_Hip"), ("L_Shoulder", "R_Shoulder"),
    ("L_Eye", "R_Eye"), ("L_Ear", "L_Shoulder"), ("R_Ear", "R_Shoulder"))
SKELETONS: dict[str, tuple[tuple[str, str], ...]] = {
    "coco17": _COCO17_EDGES,
    "coco19": _COCO17_EDGES + (("Pelvis", "L_Hip"), ("Pelvis", "R_Hip"), ("Neck", "L_Shoulder"),
                               ("Neck", "R_Shoulder"), ("Neck", "Pelvis"), ("Neck", "Nose")),
    "crowdpose14": _LEGS + _ARMS + (("Head_top", "Neck"), ("Neck", "L_Shoulder"), ("Neck", "R_Shoulder"),
                                    ("L_Shoulder", "L_Hip"), ("R_Shoulder", "R_Hip"), ("L_Hip", "R_Hip")),
    "openpose18": _LEGS + _ARMS + _COCO_FACE + (("Neck", "Nose"), ("Neck", "L_Shoulder"), ("Neck", "R_Shoulder"),
                                                ("Neck", "L_Hip"), ("Neck", "R_Hip")),
    # the SMPL kinematic tree (child, parent) plus the face joints and head top
    "smpl30": tuple((SMPL30[c], SMPL30[p]) for c, p in enumerate(
        (-1, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 12, 13, 14, 16, 17, 18, 19, 20, 21)) if p >= 0)
        + (("Head", "Nose"), ("Nose", "L_Eye"), ("Nose", "R_Eye"), ("L_Eye", "L_Ear"), ("R_Eye", "R_Ear"),
           ("Head", "Head_top")),
}


def skeleton(joint_set: str) -> np.ndarray:
    """(E, 2) int joint-index pairs of the limbs of ``joint_set`` (for drawing)."""
    names = joint_names(joint_set)
    return np.array([(names.index(a), names.index(b)) for a, b in SKELETONS[joint_set]], dtype=np.int64)


def joint_names(joint_set: str) -> tuple[str, ...]:
    """Names of a joint set; the error lists the valid sets."""
    try:
        return JOINT_SETS[joint_set]
    except KeyError:
        raise KeyError(f"unknown joint set {joint_set!r}; expected one of {sorted(JOINT_SETS)}") from None


def _names(joint_set: str | tuple[str, ...]) -> tuple[str, ...]:
    return joint_set if isinstance(joint_set, tuple) else joint_names(joint_set)


def add_pelvis_neck(kpts: np.ndarray, joint_set: str | tuple[str, ...]) -> tuple[np.ndarray, tuple[str, ...]]:
    """(K,3) x, y, score -> (K',3) with Pelvis and Neck appended where the set lacks them.

    Each derived joint is the midpoint of the hips / shoulders; its score is the product of their
    scores (as the official demo does). Returns the keypoints and their joint names.
    """
    names = list(_names(joint_set))
    kpts = np.asarray(kpts, dtype=np.float64)
    extra = []
    for joint, (a, b) in (("Pelvis", ("L_Hip", "R_Hip")), ("Neck", ("L_Shoulder", "R_Shoulder"))):
        if joint in names:
            continue
        pa, pb = kpts[names.index(a)], kpts[names.index(b)]
        mid = (pa + pb) * 0.5
        mid[2] = pa[2] * pb[2]
        extra.append(mid)
        names.append(joint)
    return np.concatenate([kpts, np.reshape(extra, (-1, 3))], axis=0), tuple(names)


def superset_index(joint_set: str | tuple[str, ...]) -> np.ndarray:
    """(30,) index into ``joint_set`` for each SMPL30 joint, -1 where the set has no such joint."""
    names = _names(joint_set)
    return np.array([names.index(n) if n in names else -1 for n in SMPL30])


def to_superset(values: np.ndarray, joint_set: str | tuple[str, ...]) -> np.ndarray:
    """(K,C) per-joint values in ``joint_set`` -> (30,C) in SMPL30; unmapped joints are 0."""
    values = np.asarray(values)
    idx = superset_index(joint_set)
    out = np.zeros((len(SMPL30),) + values.shape[1:], dtype=values.dtype)
    out[idx >= 0] = values[idx[idx >= 0]]
    return out


def graph_adjacency() -> np.ndarray:
    """(15,15) float32 normalised adjacency D^-1/2 (A+I) D^-1/2 of skeleton + flip-pair edges."""
    n = len(GRAPH15)
    a = np.eye(n, dtype=np.float64)
    for i, j in GRAPH15_SKELETON + GRAPH15_FLIP_PAIRS:
        a[i, j] = a[j, i] = 1.0
    d = a.sum(axis=0) ** -0.5
    return (d[:, None] * a * d[None, :]).astype(np.float32)
