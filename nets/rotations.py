"""Rotation conversions in numpy float64 (the exporters, the smoother, the synthetic crowds).

    R = axis_angle_to_matrix(aa)            # (..., 3) -> (..., 3, 3)
    q = matrix_to_quaternion(R)             # (..., 3, 3) -> (..., 4) x, y, z, w (glTF order), unit
    q = axis_angle_to_quaternion(aa)        # (..., 3) -> (..., 4) x, y, z, w, unit
    aa = quaternion_to_axis_angle(q)        # (..., 4) -> (..., 3), angle in [0, pi]
    q = continuous_quaternions(q)           # (T, ..., 4): sign flips removed along T
    q = quaternion_multiply(a, b)           # (..., 4), (..., 4) -> (..., 4): the rotation a after b
    q = quaternion_conjugate(q)             # (..., 4): the inverse rotation of a unit quaternion
    angles = matrix_to_euler(R, "ZXY")      # (T, ..., 3, 3) -> (T, ..., 3) radians, continuous along T
    R = euler_to_matrix(angles, "ZXY")      # R = R_Z(a0) @ R_X(a1) @ R_Y(a2)

An Euler order names the axes in the order the rotations multiply, left to right, which is the order
a BVH file lists its rotation channels in: ``"ZXY"`` is ``Rz(a0) @ Rx(a1) @ Ry(a2)`` acting on column
vectors (the Y rotation is applied first).

The torch versions the model uses (quaternions w first) are in ``nets.geometry``.
"""
from __future__ import annotations

import numpy as np

_AXES = {"X": 0, "Y": 1, "Z": 2}


def axis_angle_to_matrix(aa: np.ndarray) -> np.ndarray:
    """(..., 3) axis-angle (axis times angle in radians) -> (..., 3, 3) rotation matrices (Rodrigues)."""
    aa = np.asarray(aa, dtype=np.float64)
    angle = np.linalg.norm(aa, axis=-1, keepdims=True)
    axis = aa / np.where(angle > 1e-12, angle, 1.0)
    x, y, z = axis[..., 0], axis[..., 1], axis[..., 2]
    zero = np.zeros_like(x)
    K = np.stack([zero, -z, y, z, zero, -x, -y, x, zero], -1).reshape(aa.shape[:-1] + (3, 3))
    s, c = np.sin(angle)[..., None], np.cos(angle)[..., None]
    return np.eye(3) + s * K + (1 - c) * (K @ K)


def matrix_to_quaternion(R: np.ndarray) -> np.ndarray:
    """(..., 3, 3) rotation matrices -> (..., 4) unit quaternions (x, y, z, w) with w >= 0."""
    R = np.asarray(R, dtype=np.float64)
    m = R.reshape(-1, 3, 3)
    trace = m[:, 0, 0] + m[:, 1, 1] + m[:, 2, 2]
    # four candidate solutions, each accurate where its largest component is large (Shepperd's method)
    cand = np.stack([
        np.stack([m[:, 2, 1] - m[:, 1, 2], m[:, 0, 2] - m[:, 2, 0], m[:, 1, 0] - m[:, 0, 1], 1 + trace], -1),
        np.stack([1 + m[:, 0, 0] - m[:, 1, 1] - m[:, 2, 2], m[:, 0, 1] + m[:, 1, 0], m[:, 0, 2] + m[:, 2, 0],
                  m[:, 2, 1] - m[:, 1, 2]], -1),
        np.stack([m[:, 0, 1] + m[:, 1, 0], 1 - m[:, 0, 0] + m[:, 1, 1] - m[:, 2, 2], m[:, 1, 2] + m[:, 2, 1],
                  m[:, 0, 2] - m[:, 2, 0]], -1),
        np.stack([m[:, 0, 2] + m[:, 2, 0], m[:, 1, 2] + m[:, 2, 1], 1 - m[:, 0, 0] - m[:, 1, 1] + m[:, 2, 2],
                  m[:, 1, 0] - m[:, 0, 1]], -1),
    ], 1)                                                            # (N, 4, 4)
    pick = np.argmax(np.stack([trace, m[:, 0, 0], m[:, 1, 1], m[:, 2, 2]], -1), -1)
    q = cand[np.arange(len(m)), pick]
    q /= np.linalg.norm(q, axis=-1, keepdims=True)
    q *= np.where(q[:, 3:] < 0, -1.0, 1.0)
    return q.reshape(R.shape[:-2] + (4,))


def quaternion_to_matrix(q: np.ndarray) -> np.ndarray:
    """(..., 4) quaternions (x, y, z, w), normalised here -> (..., 3, 3) rotation matrices."""
    q = np.asarray(q, dtype=np.float64)
    q = q / np.linalg.norm(q, axis=-1, keepdims=True)
    x, y, z, w = q[..., 0], q[..., 1], q[..., 2], q[..., 3]
    return np.stack([
        1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w),
        2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w),
        2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y),
    ], -1).reshape(q.shape[:-1] + (3, 3))


def matrix_to_axis_angle(R: np.ndarray) -> np.ndarray:
    """(..., 3, 3) rotation matrices -> (..., 3) axis-angle, angle in [0, pi]."""
    return quaternion_to_axis_angle(matrix_to_quaternion(R))


def axis_angle_to_quaternion(aa: np.ndarray) -> np.ndarray:
    """(..., 3) axis-angle -> (..., 4) unit quaternions (x, y, z, w)."""
    aa = np.ascontiguousarray(aa, dtype=np.float64)
    angle = np.sqrt(vector_dot(aa, aa))
    half = 0.5 * angle
    small = angle < 1e-8
    scale = np.where(small, 0.5 - angle * angle / 48, np.sin(half) / np.where(small, 1.0, angle))
    return np.concatenate([aa * scale[..., None], np.cos(half)[..., None]], axis=-1)


def quaternion_to_axis_angle(q: np.ndarray) -> np.ndarray:
    """(..., 4) unit quaternions (x, y, z, w) -> (..., 3) axis-angle with angle in [0, pi]."""
    q = np.ascontiguousarray(q, dtype=np.float64)
    q = np.where(q[..., 3:] < 0, -q, q)
    v, w = q[..., :3], q[..., 3]
    s = np.sqrt(vector_dot(v, v))
    angle = 2 * np.arctan2(s, w)
    scale = np.where(s > 1e-12, angle / np.where(s > 1e-12, s, 1.0), 2.0 / np.maximum(w, 1e-12))
    return v * scale[..., None]


def vector_dot(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(..., N), (..., N) -> (...,) sum of ``a * b`` over the last axis, written out so the result does not
    depend on how many rows are stacked."""
    out = a[..., 0] * b[..., 0]
    for k in range(1, a.shape[-1]):
        out = out + a[..., k] * b[..., k]
    return out


def quaternion_multiply(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(..., 4), (..., 4) quaternions (x, y, z, w) -> (..., 4) Hamilton product ``a b`` (rotate by b, then a)."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    ax, ay, az, aw = a[..., 0], a[..., 1], a[..., 2], a[..., 3]
    bx, by, bz, bw = b[..., 0], b[..., 1], b[..., 2], b[..., 3]
    return np.stack([aw * bx + ax * bw + ay * bz - az * by,
                     aw * by - ax * bz + ay * bw + az * bx,
                     aw * bz + ax * by - ay * bx + az * bw,
                     aw * bw - ax * bx - ay * by - az * bz], -1)


def quaternion_conjugate(q: np.ndarray) -> np.ndarray:
    """(..., 4) quaternions (x, y, z, w) -> (..., 4) conjugates (the inverse rotations of unit quaternions)."""
    q = np.asarray(q, dtype=np.float64)
    return np.concatenate([-q[..., :3], q[..., 3:]], -1)


def continuous_quaternions(q: np.ndarray) -> np.ndarray:
    """(T, ..., 4) quaternions -> the same rotations with each sign chosen nearest the previous frame.

    Tools that interpolate quaternion components one by one (Blender's f-curves) then never swing the
    long way round between two keys.
    """
    q = np.array(q, dtype=np.float64)
    for t in range(1, len(q)):
        flip = (q[t] * q[t - 1]).sum(-1, keepdims=True) < 0
        q[t] = np.where(flip, -q[t], q[t])
    return q


def slerp(q0: np.ndarray, q1: np.ndarray, w: np.ndarray) -> np.ndarray:
    """(..., 4) unit quaternions, (...,) weights in [0, 1] -> (..., 4) spherical interpolation, shortest arc."""
    q1 = np.where((q0 * q1).sum(-1, keepdims=True) < 0, -q1, q1)
    dot = np.clip((q0 * q1).sum(-1, keepdims=True), -1.0, 1.0)
    theta = np.arccos(dot)
    w = np.asarray(w, dtype=np.float64)[..., None]
    small = theta < 1e-6
    sin = np.where(small, 1.0, np.sin(theta))
    a = np.where(small, 1 - w, np.sin((1 - w) * theta) / sin)
    b = np.where(small, w, np.sin(w * theta) / sin)
    out = a * q0 + b * q1
    return out / np.linalg.norm(out, axis=-1, keepdims=True)


def _check_order(order: str) -> tuple[int, int, int]:
    if not isinstance(order, str) or len(order) != 3 or set(order.upper()) != set("XYZ"):
        raise ValueError(f"Euler order {order!r}: expected three distinct axes such as 'ZXY' or 'XYZ'")
    return tuple(_AXES[a] for a in order.upper())


def axis_rotation(axis: int, angle: np.ndarray) -> np.ndarray:
    """Rotation by ``angle`` (...,) radians about coordinate axis 0, 1 or 2 -> (..., 3, 3)."""
    angle = np.asarray(angle, dtype=np.float64)
    c, s = np.cos(angle), np.sin(angle)
    R = np.zeros(angle.shape + (3, 3))
    i, j = [(1, 2), (2, 0), (0, 1)][axis]
    R[..., axis, axis] = 1.0
    R[..., i, i], R[..., j, j] = c, c
    R[..., i, j], R[..., j, i] = -s, s
    return R


def euler_to_matrix(angles: np.ndarray, order: str) -> np.ndarray:
    """(..., 3) radians in ``order`` -> (..., 3, 3) ``R_order[0](a0) @ R_order[1](a1) @ R_order[2](a2)``."""
    i, j, k = _check_order(order)
    angles = np.asarray(angles, dtype=np.float64)
    return axis_rotation(i, angles[..., 0]) @ axis_rotation(j, angles[..., 1]) @ axis_rotation(k, angles[..., 2])


def matrix_to_euler(R: np.ndarray, order: str) -> np.ndarray:
    """(T, ..., 3, 3) rotation matrices -> (T, ..., 3) Euler angles in radians, inverse of ``euler_to_matrix``.

    Every rotation has two angle triples (a, b, c) and (a + pi, pi - b, c + pi); along the first axis
    (time) the one nearest the previous frame is kept and angles are unwrapped by whole turns, so
    curves have no jumps of 360 degrees. Near gimbal lock (middle angle +-90 degrees) the split between
    the first and last angle is arbitrary but the angles still give back the matrix exactly.
    """
    i, j, k = _check_order(order)
    R = np.asarray(R, dtype=np.float64)
    sign = 1.0 if (i, j, k) in ((0, 1, 2), (1, 2, 0), (2, 0, 1)) else -1.0
    b = np.arctan2(sign * R[..., i, k], np.hypot(R[..., i, i], R[..., i, j]))
    c = np.arctan2(-sign * R[..., i, j], R[..., i, i])
    # the first angle from what is left: R @ R_k(c)^T @ R_j(b)^T = R_i(a), exact even near gimbal lock
    rest = R @ np.swapaxes(axis_rotation(k, c), -1, -2) @ np.swapaxes(axis_rotation(j, b), -1, -2)
    p, q = [(1, 2), (2, 0), (0, 1)][i]
    a = np.arctan2(rest[..., q, p], rest[..., p, p])
    first = np.stack([a, b, c], -1)
    if first.ndim == 1:
        return first
    second = np.stack([a + np.pi, np.pi - b, c + np.pi], -1)
    out = np.empty_like(first)
    out[0] = _wrap(first[0])
    for t in range(1, len(first)):
        prev = out[t - 1]
        c1 = prev + _wrap(first[t] - prev)
        c2 = prev + _wrap(second[t] - prev)
        closer = (np.square(c1 - prev).sum(-1) <= np.square(c2 - prev).sum(-1))[..., None]
        out[t] = np.where(closer, c1, c2)
    return out


def _wrap(angle: np.ndarray) -> np.ndarray:
    """Angles into [-pi, pi)."""
    return (angle + np.pi) % (2 * np.pi) - np.pi
