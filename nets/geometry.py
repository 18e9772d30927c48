"""Rotation geometry as pure functions.

Letters: B batch. Rotation matrices act on column vectors. Quaternions are (w, x, y, z).
"""
import torch
import torch.nn.functional as F


def rot6d_to_matrix(x: torch.Tensor) -> torch.Tensor:
    """(B, 6) -> (B, 3, 3). Gram-Schmidt on the two columns of ``x.view(B, 3, 2)``.

    The 6 numbers are read row-major from a 3x2 matrix: columns a1 = x[0::2], a2 = x[1::2].
    The result has columns (b1, b2, b1 x b2).
    """
    m = x.reshape(-1, 3, 2)
    a1, a2 = m[..., 0], m[..., 1]
    b1 = F.normalize(a1, dim=-1)
    b2 = F.normalize(a2 - (b1 * a2).sum(-1, keepdim=True) * b1, dim=-1)
    b3 = torch.cross(b1, b2, dim=-1)
    return torch.stack((b1, b2, b3), dim=-1)


def matrix_to_quaternion(R: torch.Tensor) -> torch.Tensor:
    """(B, 3, 3) -> (B, 4) unit quaternion (w, x, y, z) with w >= 0.

    Picks, per item, the largest of 4w², 4x², 4y², 4z² as the divisor, so it is
    accurate everywhere, including rotations near pi.
    """
    m00, m01, m02 = R[:, 0, 0], R[:, 0, 1], R[:, 0, 2]
    m10, m11, m12 = R[:, 1, 0], R[:, 1, 1], R[:, 1, 2]
    m20, m21, m22 = R[:, 2, 0], R[:, 2, 1], R[:, 2, 2]
    t = torch.stack((1 + m00 + m11 + m22, 1 + m00 - m11 - m22,
                     1 - m00 + m11 - m22, 1 - m00 - m11 + m22), dim=-1)  # (B, 4) = 4·(w², x², y², z²)
    candidates = torch.stack((
        torch.stack((t[:, 0], m21 - m12, m02 - m20, m10 - m01), -1),
        torch.stack((m21 - m12, t[:, 1], m01 + m10, m02 + m20), -1),
        torch.stack((m02 - m20, m01 + m10, t[:, 2], m12 + m21), -1),
        torch.stack((m10 - m01, m02 + m20, m12 + m21, t[:, 3]), -1),
    ), dim=1)  # (B, 4 candidates, 4)
    best = t.argmax(dim=-1)
    rows = torch.arange(R.shape[0], device=R.device)
    q = candidates[rows, best] / (2 * t[rows, best].clamp_min(1e-12).sqrt())[:, None]
    return q * torch.where(q[:, :1] < 0, -1.0, 1.0)


def quaternion_to_axis_angle(q: torch.Tensor) -> torch.Tensor:
    """(B, 4) unit quaternion (w, x, y, z) -> (B, 3) axis-angle, angle in [0, pi]."""
    q = q * torch.where(q[:, :1] < 0, -1.0, 1.0)
    w, v = q[:, 0], q[:, 1:]
    s = v.norm(dim=-1)
    angle = 2 * torch.atan2(s, w)
    small = s < 1e-7
    scale = torch.where(small, 2 / w.clamp_min(1e-12), angle / torch.where(small, 1.0, s))
    return v * scale[:, None]


def matrix_to_axis_angle(R: torch.Tensor) -> torch.Tensor:
    """(B, 3, 3) -> (B, 3)."""
    return quaternion_to_axis_angle(matrix_to_quaternion(R))


def rot6d_to_axis_angle(x: torch.Tensor) -> torch.Tensor:
    """(B, 6) -> (B, 3)."""
    return matrix_to_axis_angle(rot6d_to_matrix(x))


def axis_angle_to_matrix(aa: torch.Tensor) -> torch.Tensor:
    """(B, 3) -> (B, 3, 3), Rodrigues' formula."""
    angle = aa.norm(dim=-1, keepdim=True)
    axis = aa / angle.clamp_min(1e-12)
    x, y, z = axis.unbind(-1)
    zero = torch.zeros_like(x)
    K = torch.stack((zero, -z, y, z, zero, -x, -y, x, zero), -1).reshape(-1, 3, 3)
    s, c = angle.sin()[..., None], angle.cos()[..., None]
    eye = torch.eye(3, dtype=aa.dtype, device=aa.device)
    return eye + s * K + (1 - c) * (K @ K)
