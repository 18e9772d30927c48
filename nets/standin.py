"""Synthetic stand-in body model in the SMPL file format. It is NOT SMPL.

The licensed SMPL files cannot ship with crowdmesh, so tests and the demo use this
made-up body instead. It is plain geometry built from scratch here: five closed
tubes of vertex rings (torso with head, two legs, two arms) laid along a T-pose
skeleton about 1.7 m tall. There is no real human-body content in it: no scans, no
learned shapes, no SMPL data. Only the format matches SMPL: 6890 vertices, the
24-joint kinematic tree, 10 shape and 207 pose blend dimensions, and the same keys,
so the stand-in goes through exactly the code that loads the real files.

    smpl, extra = make_standin_body(seed=0)
    pkl_path, extra_path = write_standin_body(folder)
    pkl_path, extra_path = standin_body_files(folder)     # the same, written only when not there yet

Axes as in SMPL: +y up, +x the body's left, +z forward; metres.
"""
from __future__ import annotations

import os
import pickle
from pathlib import Path

import numpy as np

from nets.smpl_file import FACE_VERTEX_IDS, HEAD_TOP_ROW

NUM_VERTICES = 6890
RING_SIZE = 20  # vertices per ring
STANDIN_FILES = ("standin_smpl_neutral.pkl", "standin_J_regressor_extra.npy")   # SMPL .pkl, J_regressor_extra
PARENTS = (-1, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 12, 13, 14, 16, 17, 18, 19, 20, 21)
JOINT_NAMES = ("pelvis", "left_hip", "right_hip", "spine1", "left_knee", "right_knee", "spine2",
               "left_ankle", "right_ankle", "spine3", "left_foot", "right_foot", "neck",
               "left_collar", "right_collar", "head", "left_shoulder", "right_shoulder",
               "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_hand", "right_hand")
# T-pose joint centres of the body's midline and left side; the right side mirrors x.
_LEFT_JOINTS = {
    0: (0.0, -0.225, 0.015), 1: (0.07, -0.315, 0.005), 3: (0.0, -0.105, -0.01),
    4: (0.105, -0.695, 0.01), 6: (0.0, 0.03, 0.0), 7: (0.09, -1.095, -0.035),
    9: (0.0, 0.09, 0.015), 10: (0.115, -1.155, 0.085), 12: (0.0, 0.295, -0.015),
    13: (0.075, 0.2, -0.005), 15: (0.0, 0.36, 0.035), 16: (0.185, 0.225, -0.015),
    18: (0.445, 0.215, -0.03), 20: (0.705, 0.218, -0.03), 22: (0.79, 0.21, -0.04),
}
_MIRROR = {1: 2, 4: 5, 7: 8, 10: 11, 13: 14, 16: 17, 18: 19, 20: 21, 22: 23}

# A chain is a tube through knots: (joint id or None, point when no joint,
# ring radii (along the reference axis, across it), ring intervals to the next knot).
_TORSO = (
    (None, (0.0, -0.335, 0.01), (0.12, 0.085), 10), (0, None, (0.165, 0.11), 12),
    (3, None, (0.145, 0.10), 12), (6, None, (0.15, 0.105), 8), (9, None, (0.165, 0.11), 12),
    (None, (0.0, 0.215, 0.0), (0.17, 0.09), 10), (12, None, (0.055, 0.055), 8),
    (15, None, (0.075, 0.085), 10), (None, (0.0, 0.435, 0.025), (0.09, 0.10), 9),
    (None, (0.0, 0.49, 0.02), (0.065, 0.075), 6), (None, (0.0, 0.508, 0.02), (0.025, 0.03), 0),
)
_LEFT_LEG = (
    (1, None, (0.085, 0.085), 24), (4, None, (0.055, 0.055), 10),
    (None, (0.095, -0.83, 0.0), (0.055, 0.06), 16), (7, None, (0.04, 0.045), 8),
    (10, None, (0.045, 0.025), 7), (None, (0.125, -1.165, 0.185), (0.035, 0.018), 0),
)
_LEFT_ARM = (
    (13, None, (0.05, 0.05), 6), (16, None, (0.055, 0.055), 18), (18, None, (0.04, 0.042), 18),
    (20, None, (0.028, 0.032), 6), (22, None, (0.016, 0.042), 8),
    (None, (0.96, 0.205, -0.04), (0.01, 0.03), 0),
)
# chain: (knots, reference axis, parent driver joint, start cap offset, end cap offset)
_CHAINS = (
    (_TORSO, (1.0, 0.0, 0.0), None, 0.03, 0.006),
    (_LEFT_LEG, (1.0, 0.0, 0.0), 0, 0.03, 0.01),
    (_LEFT_ARM, (0.0, 1.0, 0.0), 9, 0.02, 0.008),
)
# where the face vertices go (nose, left eye, right eye, left ear, right ear)
_FACE_TARGETS = ((0.0, 0.405, 0.135), (0.035, 0.435, 0.12), (-0.035, 0.435, 0.12),
                 (0.09, 0.425, 0.02), (-0.09, 0.425, 0.02))
_EXTRA_JOINT_RINGS = (15, 12, 9, None, 16, 17, 0, 1, 2)  # placeholder rows; HEAD_TOP_ROW is the top
_BLEND = 0.3  # fraction of an interval over which skin weights blend at a joint


def joint_positions() -> np.ndarray:
    """(24, 3) T-pose joint centres of the stand-in."""
    joints = np.zeros((len(PARENTS), 3))
    for joint, point in _LEFT_JOINTS.items():
        joints[joint] = point
        if joint in _MIRROR:
            joints[_MIRROR[joint]] = (-point[0], point[1], point[2])
    return joints


def _mirrored(knots: tuple) -> tuple:
    return tuple((_MIRROR[j] if j is not None else None,
                  None if p is None else (-p[0], p[1], p[2]), r, n) for j, p, r, n in knots)


def _chains() -> list[tuple]:
    torso, leg, arm = _CHAINS
    return [torso, leg, (_mirrored(leg[0]),) + leg[1:], arm, (_mirrored(arm[0]),) + arm[1:]]


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.linalg.norm(v, axis=-1, keepdims=True)


def _centre_line(knots: tuple, joints: np.ndarray, parent_driver) -> tuple:
    """The rings' centre line along one tube's knots: (centres (R, 3), radii (R, 2), skin weights (R, 24),
    {joint: index of the ring at that joint's knot})."""
    points = [joints[j] if j is not None else np.array(p) for j, p, _, _ in knots]
    drivers = []
    for i, (joint, _, _, _) in enumerate(knots[:-1]):
        drivers.append(joint if joint is not None else drivers[-1] if drivers else knots[1][0])
    centres, radii, weights, knot_ring = [], [], [], {}
    for i, (joint, _, radius, n) in enumerate(knots[:-1]):
        if joint is not None:
            knot_ring[joint] = len(centres)
        previous = drivers[i - 1] if i > 0 else parent_driver
        following = drivers[i + 1] if i + 1 < len(drivers) else None
        for k in range(n):
            s = k / n
            centres.append(points[i] + s * (points[i + 1] - points[i]))
            radii.append(np.array(radius) + s * (np.array(knots[i + 1][2]) - np.array(radius)))
            w = np.zeros(len(PARENTS))
            w[drivers[i]] = 1.0
            if s < _BLEND and previous is not None:
                w[drivers[i]] -= 0.5 * (1 - s / _BLEND)
                w[previous] += 0.5 * (1 - s / _BLEND)
            if s > 1 - _BLEND and following is not None:
                w[drivers[i]] -= 0.5 * (1 - (1 - s) / _BLEND)
                w[following] += 0.5 * (1 - (1 - s) / _BLEND)
            weights.append(w)
    centres.append(points[-1])
    radii.append(np.array(knots[-1][2]))
    weights.append(np.eye(len(PARENTS))[drivers[-1]])
    return np.array(centres), np.array(radii), np.array(weights), knot_ring


def _tube_faces(n_rings: int, first_vertex: int) -> tuple[np.ndarray, np.ndarray]:
    """Faces of ``n_rings`` rings of RING_SIZE vertices from ``first_vertex`` on, then the start and end
    apexes: (faces (F, 3): sides and two closing fans, top: the last ring's vertex ids and the end apex)."""
    ring_start = first_vertex + RING_SIZE * np.arange(n_rings)[:, None]
    a = ring_start[:-1] + np.arange(RING_SIZE)
    a_next = ring_start[:-1] + (np.arange(RING_SIZE) + 1) % RING_SIZE
    b, b_next = a + RING_SIZE, a_next + RING_SIZE
    side = np.concatenate([np.stack([a, a_next, b], -1), np.stack([a_next, b_next, b], -1)]).reshape(-1, 3)
    first, last = ring_start[0] + np.arange(RING_SIZE), ring_start[-1] + np.arange(RING_SIZE)
    first_next, last_next = np.roll(first, -1), np.roll(last, -1)
    start_apex, end_apex = first_vertex + n_rings * RING_SIZE, first_vertex + n_rings * RING_SIZE + 1
    start_fan = np.stack([np.full(RING_SIZE, start_apex), first_next, first], -1)
    end_fan = np.stack([np.full(RING_SIZE, end_apex), last, last_next], -1)
    return np.concatenate([side, start_fan, end_fan]), np.append(last, end_apex)


def _build_chain(chain: tuple, joints: np.ndarray, first_vertex: int) -> dict:
    """Rings along one tube: vertices, outward directions, faces, skin weights, knot rings."""
    knots, reference, parent_driver, start_cap, end_cap = chain
    centres, radii, weights, knot_ring = _centre_line(knots, joints, parent_driver)

    tangents = _unit(np.gradient(centres, axis=0))
    u = _unit(np.asarray(reference) - (tangents @ reference)[:, None] * tangents)
    w_axis = np.cross(tangents, u)
    half = np.arange(RING_SIZE // 2) * (2 * np.pi / RING_SIZE)
    cos, sin = np.cos(half), np.sin(half)
    offsets = (radii[:, 0, None, None] * cos[None, :, None] * u[:, None]
               + radii[:, 1, None, None] * sin[None, :, None] * w_axis[:, None])
    offsets = np.concatenate([offsets, -offsets], axis=1)  # exact point pairs: ring mean = centre
    rings = centres[:, None] + offsets
    caps = np.array([centres[0] - start_cap * tangents[0], centres[-1] + end_cap * tangents[-1]])
    vertices = np.concatenate([rings.reshape(-1, 3), caps])
    outward = np.concatenate([_unit(offsets).reshape(-1, 3), [-tangents[0], tangents[-1]]])
    skin = np.concatenate([np.repeat(weights, RING_SIZE, axis=0), weights[:1], weights[-1:]])
    faces, top = _tube_faces(len(centres), first_vertex)
    return {
        "vertices": vertices, "outward": outward, "weights": skin, "faces": faces,
        "knot_rings": {j: first_vertex + RING_SIZE * r + np.arange(RING_SIZE) for j, r in knot_ring.items()},
        "top": top,
    }


def _face_permutation(vertices: np.ndarray, head: np.ndarray) -> np.ndarray:
    """order such that vertices[order][FACE_VERTEX_IDS[i]] is the head vertex nearest target i."""
    order = np.arange(len(vertices))
    position = np.arange(len(vertices))  # position[old] = new index
    candidates = list(head)
    for new_id, target in zip(FACE_VERTEX_IDS, _FACE_TARGETS):
        distance = np.linalg.norm(vertices[candidates] - np.array(target), axis=1)
        old = candidates.pop(int(np.argmin(distance)))
        here = position[old]
        displaced = order[new_id]
        order[new_id], order[here] = old, displaced
        position[old], position[displaced] = new_id, here
    return order


def make_standin_body(seed: int = 0) -> tuple[dict, np.ndarray]:
    """Build the stand-in: (SMPL-format dict, (9, 6890) extra joint regressor)."""
    rng = np.random.default_rng(seed)
    joints = joint_positions()
    parts, first = [], 0
    for chain in _chains():
        parts.append(_build_chain(chain, joints, first))
        first += len(parts[-1]["vertices"])
    if first != NUM_VERTICES:
        raise RuntimeError(f"stand-in layout has {first} vertices, expected {NUM_VERTICES}")
    vertices = np.concatenate([p["vertices"] for p in parts])
    outward = np.concatenate([p["outward"] for p in parts])
    weights = np.concatenate([p["weights"] for p in parts])
    faces = np.concatenate([p["faces"] for p in parts])
    rings = {j: r for p in parts for j, r in p["knot_rings"].items()}

    regressor = np.zeros((len(PARENTS), NUM_VERTICES))
    for joint, ring in rings.items():
        regressor[joint, ring] = 1.0 / len(ring)
    extra = np.zeros((len(_EXTRA_JOINT_RINGS), NUM_VERTICES))
    for row, joint in enumerate(_EXTRA_JOINT_RINGS):
        ids = parts[0]["top"] if row == HEAD_TOP_ROW else rings[joint]
        extra[row, ids] = 1.0 / len(ids)

    # shape blend shapes: overall size, girth, then smooth random waves (a few mm)
    shapedirs = np.zeros((NUM_VERTICES, 3, 10))
    shapedirs[:, :, 0] = (vertices - joints[0]) * np.array([0.02, 0.05, 0.02])
    shapedirs[:, :, 1] = 0.015 * outward
    frequency = rng.normal(0.0, 4.0, size=(8, 3))
    phase = rng.uniform(0.0, 2 * np.pi, size=8)
    direction = _unit(rng.normal(size=(8, 3)))
    waves = np.sin(vertices @ frequency.T + phase)
    shapedirs[:, :, 2:] = 0.006 * np.einsum("vk,kc->vck", waves, direction)
    # pose blend shapes: small bumps around the joint whose rotation they follow
    near = np.exp(-np.sum((vertices[:, None] - joints[None, 1:]) ** 2, -1) / (2 * 0.06 ** 2))
    coefficients = rng.normal(0.0, 0.004, size=(len(PARENTS) - 1, 9, 3))
    posedirs = np.einsum("vj,jmc->vcjm", near, coefficients).reshape(NUM_VERTICES, 3, -1)

    torso = parts[0]["vertices"]  # the torso chain comes first, so its ids start at 0
    order = _face_permutation(vertices, np.flatnonzero(torso[:, 1] > joints[15, 1]))
    new_index = np.argsort(order)
    smpl = {
        "v_template": vertices[order],
        "shapedirs": shapedirs[order],
        "posedirs": posedirs[order],
        "J_regressor": regressor[:, order],
        "J": joints,
        "weights": weights[order],
        "kintree_table": np.array([[2 ** 32 - 1, *PARENTS[1:]], list(range(len(PARENTS)))],
                                  dtype=np.int64),
        "f": new_index[faces].astype(np.uint32),
        "bs_style": "lbs",
        "bs_type": "lrotmin",
        "synthetic_note": "crowdmesh synthetic stand-in body in the SMPL format; not the SMPL model",
    }
    return smpl, extra[:, order]


def write_standin_body(folder: str | os.PathLike, seed: int = 0) -> tuple[Path, Path]:
    """Write standin_smpl_neutral.pkl (protocol 2, numpy only) and standin_J_regressor_extra.npy."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    smpl, extra = make_standin_body(seed)
    pkl_path, extra_path = (folder / name for name in STANDIN_FILES)
    with open(pkl_path, "wb") as file:
        pickle.dump(smpl, file, protocol=2)
    np.save(extra_path, extra)
    return pkl_path, extra_path


def standin_body_files(folder: str | os.PathLike) -> tuple[Path, Path]:
    """The stand-in body files in ``folder`` (``STANDIN_FILES``), written there first when either is missing."""
    pkl_path, extra_path = (Path(folder) / name for name in STANDIN_FILES)
    if pkl_path.is_file() and extra_path.is_file():
        return pkl_path, extra_path
    return write_standin_body(folder)
