"""Draw meshes onto images: the project's one renderer is the z-buffer of ``nets.synth.raster``.

``blend_meshes`` draws and blends; ``draw_meshes`` (``stream image``, the built-in example) adds per-box
cameras and colours; ``stream.export.overlay`` draws stored tracks with it. Cameras are pinhole: x right, y down,
z forward, ``uv = xy / z * focal + princpt``. Meshes share one face list (SMPL-format meshes); back
faces are culled when the mesh is closed (``orient_faces``). Faces are shaded with Lambert light, and
the meshes hide each other per pixel.
"""
import colorsys

import numpy as np

from nets.synth.raster import orient_faces, rasterize


def project(points: np.ndarray, focal: float, princpt) -> np.ndarray:
    """(...,3) camera metres -> (...,2) pixels."""
    return points[..., :2] / points[..., 2:] * focal + np.asarray(princpt, dtype=np.float64)


def person_colors(n: int) -> list[tuple[int, int, int]]:
    """n distinct RGB colours."""
    return [tuple(int(255 * c) for c in colorsys.hsv_to_rgb((0.13 + i * 0.618) % 1, 0.55, 1.0)) for i in range(n)]


def draw_meshes(image_rgb: np.ndarray, meshes: list[np.ndarray], faces: np.ndarray, focal: float, princpt,
                colors=None, alpha: float = 1.0) -> np.ndarray:
    """Return a copy of ``image_rgb`` (H,W,3 uint8) with the (V,3) camera-space meshes drawn over it.

    ``princpt`` is one (2,) principal point, or one per mesh (N, 2) when each mesh has its own camera
    (as 3DCrowdNet's per-box render cameras do): mesh i is moved into the camera of ``princpt[0]`` with
    the same projection, ``x += (princpt[i] - princpt[0]) * z / focal``, so all meshes share one z-buffer.
    ``alpha`` blends the meshes over the image.
    """
    if len(meshes) == 0:
        return np.asarray(image_rgb).copy()
    verts = np.stack([np.asarray(m, dtype=np.float64) for m in meshes])
    princpt = np.asarray(princpt, dtype=np.float64)
    if princpt.ndim == 2:
        shift = (princpt - princpt[0]) / focal                      # (N, 2)
        verts = verts.copy()
        verts[..., :2] += shift[:, None, :] * verts[..., 2:]
        princpt = princpt[0]
    K = np.array([[focal, 0.0, princpt[0]], [0.0, focal, princpt[1]], [0.0, 0.0, 1.0]])
    colors = colors if colors is not None else person_colors(len(verts))
    faces, closed = orient_faces(verts[0], faces)
    return blend_meshes(image_rgb, verts, faces, K, colors, alpha, cull_backfaces=closed)


def blend_meshes(image: np.ndarray, meshes, faces: np.ndarray, K: np.ndarray, colors, alpha: float = 1.0,
                 cull_backfaces: bool = False) -> np.ndarray:
    """A copy of ``image`` (H, W, 3) uint8 with N meshes (V, 3) in the camera frame drawn through the pinhole
    ``K`` (3, 3) by ``nets.synth.rasterize``, each in its colour of ``colors`` (N, 3) in the image's channel
    order, and blended ``alpha`` over the image. ``faces`` (F, 3) are used as given (see ``orient_faces``)."""
    canvas = np.asarray(image).copy()
    if len(meshes) == 0:
        return canvas
    h, w = canvas.shape[:2]
    colors = np.asarray(colors, dtype=np.float64)
    out = rasterize(np.stack(meshes), faces, K, (w, h), colors, canvas, cull_backfaces=cull_backfaces)
    covered = out.mesh_id >= 0
    blend = alpha * out.image[covered].astype(np.float64) + (1 - alpha) * canvas[covered]
    canvas[covered] = np.clip(np.rint(blend), 0, 255).astype(np.uint8)
    return canvas
