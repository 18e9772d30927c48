import math

import pytest
import torch

from nets.geometry import (axis_angle_to_matrix, matrix_to_axis_angle, matrix_to_quaternion, rot6d_to_axis_angle,
                           rot6d_to_matrix)


def random_axis_angle(n, lo, hi, seed=0):
    g = torch.Generator().manual_seed(seed)
    axis = torch.nn.functional.normalize(torch.randn(n, 3, generator=g, dtype=torch.float64), dim=1)
    angle = lo + (hi - lo) * torch.rand(n, 1, generator=g, dtype=torch.float64)
    return axis * angle


def test_rot6d_gives_rotations():
    R = rot6d_to_matrix(torch.randn(64, 6, dtype=torch.float64))
    eye = torch.eye(3, dtype=torch.float64).expand(64, 3, 3)
    assert torch.allclose(R.transpose(1, 2) @ R, eye, atol=1e-12)
    assert torch.allclose(torch.linalg.det(R), torch.ones(64, dtype=torch.float64), atol=1e-12)


def test_rot6d_first_column_is_normalised_a1():
    x = torch.tensor([[3.0, 0.0, 0.0, 1.0, 0.0, 0.0]])  # a1 = (3,0,0), a2 = (0,1,0)
    assert torch.allclose(rot6d_to_matrix(x)[0], torch.eye(3))


@pytest.mark.parametrize("lo,hi", [(1e-9, 1e-6), (1e-3, 1.0), (1.0, 3.0), (3.0, math.pi - 1e-6)])
def test_axis_angle_round_trip(lo, hi):
    aa = random_axis_angle(500, lo, hi)
    back = matrix_to_axis_angle(axis_angle_to_matrix(aa))
    assert torch.allclose(back, aa, atol=1e-9)


def test_quaternion_is_unit_with_nonnegative_w():
    q = matrix_to_quaternion(axis_angle_to_matrix(random_axis_angle(300, 0.0, math.pi)))
    assert torch.allclose(q.norm(dim=1), torch.ones(300, dtype=torch.float64), atol=1e-12)
    assert (q[:, 0] >= 0).all()


def test_rot6d_to_axis_angle_matches_rotation():
    x = torch.randn(32, 6, dtype=torch.float64)
    assert torch.allclose(axis_angle_to_matrix(rot6d_to_axis_angle(x)), rot6d_to_matrix(x), atol=1e-10)
