"""Draw meshes onto images with OpenCV alone (painter's algorithm, flat Lambert shading).

Good enough to check results by eye and to synthesise test images; not a production renderer.
Cameras are pinhole: x right, y down, z forward, ``uv = xy / z * focal + princpt``.
"""
import colorsys

import cv2
import numpy as np

_SHIFT = 4  # fixed-point bits for sub-pixel polygon vertices


def project(points: np.ndarray, focal: float, princpt) -> np.ndarray:
    """(...,3) camera metres -> (...,2) pixels."""
    return points[..., :2] / points[..., 2:] * focal + np.asarray(princpt, dtype=np.float64)


def person_colors(n: int) -> list[tuple[int, int, int]]:
    """n distinct RGB colours."""
    return [tuple(int(255 * c) for c in colorsys.hsv_to_rgb((0.13 + i * 0.618) % 1, 0.55, 1.0)) for i in range(n)]


def draw_meshes(image_rgb: np.ndarray, meshes: list[np.ndarray], faces: np.ndarray, focal: float, princpt,
                colors=None, alpha: float = 1.0) -> np.ndarray:
    """Return a copy of ``image_rgb`` (H,W,3 uint8) with each (V,3) camera-space mesh drawn over it."""
    colors = colors or person_colors(len(meshes))
    pts, depth, rgb = [], [], []
    for verts, color in zip(meshes, colors):
        tri = np.asarray(verts, dtype=np.float64)[faces]  # (F,3,3)
        front = (tri[..., 2] > 1e-2).all(axis=1)
        tri = tri[front]
        normal = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
        normal /= np.linalg.norm(normal, axis=1, keepdims=True) + 1e-12
        view = tri.mean(axis=1)
        view /= np.linalg.norm(view, axis=1, keepdims=True)
        shade = 0.35 + 0.65 * np.abs((normal * view).sum(axis=1))
        pts.append(project(tri, focal, princpt))
        depth.append(tri[..., 2].mean(axis=1))
        rgb.append(shade[:, None] * np.asarray(color, dtype=np.float64)[None])
    canvas = image_rgb.copy()
    if not pts:
        return canvas
    pts, depth, rgb = np.concatenate(pts), np.concatenate(depth), np.concatenate(rgb)
    fixed = np.round(pts * (1 << _SHIFT)).astype(np.int32)
    limit = 1 << 30 >> _SHIFT
    keep = (np.abs(pts) < limit).all(axis=(1, 2))
    mask = np.zeros(canvas.shape[:2], dtype=np.uint8)
    layer = canvas.copy()
    for i in np.argsort(-depth):  # far to near
        if keep[i]:
            color = tuple(int(c) for c in rgb[i])
            cv2.fillConvexPoly(layer, fixed[i], color, lineType=cv2.LINE_AA, shift=_SHIFT)
            cv2.fillConvexPoly(mask, fixed[i], 255, shift=_SHIFT)
    covered = mask > 0
    canvas[covered] = (alpha * layer[covered] + (1 - alpha) * canvas[covered]).astype(np.uint8)
    return canvas
