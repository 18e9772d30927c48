"""Helpers of the export tests (their fixtures ``export_body``, ``export_crowd``, ``export_store`` are in
``conftest.py``): the camera-to-Y-up mapping written out independently, and reference rotations and joints.
"""
from __future__ import annotations

import numpy as np
import torch

from nets.geometry import axis_angle_to_matrix

CAMERA_TO_YUP = np.diag([1.0, -1.0, -1.0])  # the documented mapping, written out independently here
FPS = 30.0


def rotation_matrices(axis_angle: np.ndarray) -> np.ndarray:
    """(..., 3) -> (..., 3, 3) by the project's torch geometry (independent of stream.export)."""
    aa = torch.from_numpy(np.asarray(axis_angle, dtype=np.float64).reshape(-1, 3))
    return axis_angle_to_matrix(aa).numpy().reshape(np.shape(axis_angle)[:-1] + (3, 3))


def smpl_joints(body, pose: np.ndarray, betas: np.ndarray, trans: np.ndarray) -> np.ndarray:
    """Kinematic (forward-kinematics) joints of the smplx layer: (T, 24, 3) camera frame, metres."""
    pose = torch.from_numpy(np.asarray(pose, np.float32).reshape(len(pose), 72))
    betas = torch.from_numpy(np.broadcast_to(np.asarray(betas, np.float32), (len(pose), 10)).copy())
    with torch.no_grad():
        out = body.smpl(betas=betas, global_orient=pose[:, :3], body_pose=pose[:, 3:],
                        transl=torch.from_numpy(np.asarray(trans, np.float32)))
    return out.joints[:, :24].numpy().astype(np.float64)
