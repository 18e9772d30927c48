"""Numpy rotation conversions (nets.rotations) against the project's torch geometry and their own inverses."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from nets.geometry import axis_angle_to_matrix as torch_axis_angle_to_matrix
from nets.rotations import (axis_angle_to_matrix, continuous_quaternions, euler_to_matrix, matrix_to_axis_angle,
                            matrix_to_euler, matrix_to_quaternion, quaternion_to_matrix)


@pytest.fixture(scope="module")
def rotations():
    aa = np.random.default_rng(0).normal(size=(200, 3)) * 1.2
    return aa, torch_axis_angle_to_matrix(torch.from_numpy(aa)).numpy()


def test_axis_angle_matches_the_torch_geometry_and_inverts(rotations):
    aa, R = rotations
    np.testing.assert_allclose(axis_angle_to_matrix(aa), R, atol=1e-12)
    np.testing.assert_allclose(axis_angle_to_matrix(matrix_to_axis_angle(R)), R, atol=1e-12)


def test_quaternions_are_unit_and_invert(rotations):
    _, R = rotations
    q = matrix_to_quaternion(R)
    np.testing.assert_allclose(np.linalg.norm(q, axis=-1), 1.0, atol=1e-12)
    np.testing.assert_allclose(quaternion_to_matrix(q), R, atol=1e-12)


@pytest.mark.parametrize("order", ["XYZ", "XZY", "YXZ", "YZX", "ZXY", "ZYX"])
def test_euler_angles_give_back_the_matrix(rotations, order):
    _, R = rotations
    np.testing.assert_allclose(euler_to_matrix(matrix_to_euler(R, order), order), R, atol=1e-12)


def test_euler_angles_at_gimbal_lock_give_back_the_matrix():
    angles = np.array([[0.3, np.pi / 2, 0.2], [1.0, -np.pi / 2, -0.4], [0.0, np.pi / 2 - 1e-9, 2.0]])
    R = euler_to_matrix(angles, "ZXY")
    np.testing.assert_allclose(euler_to_matrix(matrix_to_euler(R, "ZXY"), "ZXY"), R, atol=1e-12)


def test_euler_curves_of_a_smooth_motion_have_no_jumps():
    """A turn about Y through +-180 degrees and a bend past 90 degrees stay continuous (unwrapped)."""
    t = np.linspace(0, 1, 120)
    R = euler_to_matrix(np.stack([0.3 * np.sin(6 * t), 2.5 * t, 4 * np.pi * t], -1), "ZXY")
    angles = matrix_to_euler(R, "ZXY")
    np.testing.assert_allclose(euler_to_matrix(angles, "ZXY"), R, atol=1e-12)
    assert np.abs(np.diff(angles, axis=0)).max() < 0.2                     # steps of ~0.1 rad, never 2 pi


def test_continuous_quaternions_keep_neighbours_on_one_hemisphere(rotations):
    _, R = rotations
    q = continuous_quaternions(matrix_to_quaternion(R))
    assert ((q[1:] * q[:-1]).sum(-1) >= 0).all()
    np.testing.assert_allclose(quaternion_to_matrix(q), R, atol=1e-12)
