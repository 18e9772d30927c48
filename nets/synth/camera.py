"""The synthetic scene's pinhole camera.

Frames:
- world: metres, +y up, ground plane y = 0, the camera stands at the world origin's x and z and looks
  along +z (SMPL's body axes: +x is the left of a body facing +z).
- camera: x right, y down, z forward, metres; ``X_cam = R @ X_world + t``; pixels
  ``(u, v, 1) ~ K @ X_cam``, pixel centres at integer (u, v) = (column, row).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True, eq=False)
class Camera:
    """Pinhole camera: intrinsics ``K`` (3, 3), world-to-camera ``R`` (3, 3) and ``t`` (3,), image size."""
    K: np.ndarray
    R: np.ndarray
    t: np.ndarray
    width: int
    height: int

    @property
    def size(self) -> tuple[int, int]:
        return self.width, self.height

    @property
    def center(self) -> np.ndarray:
        """(3,) camera position in the world frame."""
        return -self.R.T @ self.t

    def project(self, points: np.ndarray) -> np.ndarray:
        """(..., 3) camera-frame points -> (..., 2) pixels (u, v)."""
        points = np.asarray(points)
        uvw = points @ self.K.T.astype(points.dtype)
        return uvw[..., :2] / uvw[..., 2:]

    def to_camera(self, points: np.ndarray) -> np.ndarray:
        """(..., 3) world points -> (..., 3) camera-frame points."""
        return np.asarray(points) @ self.R.T + self.t


def look_down_camera(width: int, height: int, fov_deg: float, height_m: float, pitch_deg: float) -> Camera:
    """A level camera ``height_m`` above the ground at the world origin, pitched down by ``pitch_deg``.

    ``fov_deg`` is the horizontal field of view: focal = (width / 2) / tan(fov / 2), principal point at
    the image centre ((width - 1) / 2, (height - 1) / 2), square pixels, no skew.
    """
    focal = 0.5 * width / np.tan(np.radians(fov_deg) / 2)
    K = np.array([[focal, 0.0, (width - 1) / 2], [0.0, focal, (height - 1) / 2], [0.0, 0.0, 1.0]])
    p = np.radians(pitch_deg)
    forward = np.array([0.0, -np.sin(p), np.cos(p)])   # camera z in world
    down = np.array([0.0, -np.cos(p), -np.sin(p)])     # camera y in world
    right = np.cross(down, forward)                    # camera x in world (= world -x)
    R = np.stack([right, down, forward])
    t = -R @ np.array([0.0, height_m, 0.0])
    return Camera(K=K, R=R, t=t, width=width, height=height)
