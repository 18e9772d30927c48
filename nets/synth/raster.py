"""A small z-buffer rasteriser in numpy: many triangle meshes, one image, id and depth buffers.

    out = rasterize(meshes, faces, K, (width, height), colors=colors, background=bgr)
    out.image      # (H, W, 3) uint8, channels in the order of ``colors`` / ``background``
    out.mesh_id    # (H, W) int32: which mesh is front-most at the pixel, -1 where none
    out.depth      # (H, W) float32: its camera-frame z in metres, inf where none
    out.face_id    # (H, W) int32: the front-most face of that mesh, -1 where none

Camera: pinhole, camera frame x right, y down, z forward, metres; pixel coordinates
``(u, v, 1) ~ K @ (x, y, z)``. Pixel (row r, column c) has its centre at (u, v) = (c, r) and is covered
by a triangle when that centre lies inside the projected triangle (edges inclusive). Depth is
interpolated perspective-correctly (1/z is linear in the image).

How it works, all vectorised: every face is projected; faces with a vertex at or behind ``near`` are
skipped (no clipping), and so are back faces with ``cull_backfaces=True``. Each remaining face's
pixel bounding box is clipped to the image; faces are grouped by box size (powers of two per axis)
so that each group tests a fixed grid of candidate pixel centres per face, in chunks of at most
``_CANDIDATES`` candidates (large close-up triangles get chunks of few faces). A barycentric test
keeps the covered candidates, and the z-buffer resolve is one ``np.minimum.at`` over a 64-bit key
(float32 depth bits, then the global face index), so the nearest fragment wins regardless of the
order of meshes or faces, and equal depths go to the lower face index.

Back-face culling (about twice as fast) is only right for closed meshes whose faces wind
counter-clockwise seen from outside; ``orient_faces`` checks a mesh and turns its faces outward:

    faces, closed = orient_faces(rest_vertices, faces)
    out = rasterize(meshes, faces, K, size, cull_backfaces=closed)
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

SHADINGS = ("lambert", "flat")
_CANDIDATES = 1 << 20       # candidate pixels tested per chunk
_EDGE_EPS = 1e-9            # barycentric tolerance: pixel centres on a shared edge belong to both faces
_NO_HIT = np.iinfo(np.uint64).max
# light travelling from above-left of the camera into the scene (camera frame)
DEFAULT_LIGHT = (0.25, 0.55, 1.0)


@dataclass(frozen=True)
class Raster:
    """What ``rasterize`` returns (see the module docstring)."""
    image: np.ndarray | None  # (H, W, 3) uint8, None when draw=False
    mesh_id: np.ndarray       # (H, W) int32, -1 background
    depth: np.ndarray         # (H, W) float32, inf background
    face_id: np.ndarray       # (H, W) int32, -1 background


def orient_faces(vertices: np.ndarray, faces: np.ndarray) -> tuple[np.ndarray, bool]:
    """(V, 3) vertices of one mesh, (F, 3) faces -> (faces wound outward, whether back faces may be culled).

    The mesh may be culled when it is closed and consistently wound: every directed edge occurs once
    and so does its reverse. Faces are reversed when the mesh's signed volume is negative (wound
    inward).
    """
    faces = np.asarray(faces, dtype=np.int64)
    tri = np.asarray(vertices, dtype=np.float64)[faces]
    volume = np.einsum("ij,ij->i", tri[:, 0], np.cross(tri[:, 1], tri[:, 2])).sum() / 6.0
    if volume < 0:
        faces = faces[:, ::-1].copy()
    edges = np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]])
    n = int(faces.max()) + 1 if len(faces) else 1
    directed = edges[:, 0] * n + edges[:, 1]
    unique, counts = np.unique(directed, return_counts=True)
    closed = bool(len(faces)) and bool((counts == 1).all()) and bool(
        np.isin(edges[:, 1] * n + edges[:, 0], unique).all())
    return faces, closed


def _as_meshes(meshes) -> np.ndarray:
    if isinstance(meshes, np.ndarray):
        verts = meshes.astype(np.float64, copy=False)
    elif isinstance(meshes, Sequence) and len(meshes) == 0:
        verts = np.zeros((0, 0, 3))
    else:
        try:
            verts = np.stack([np.asarray(m, dtype=np.float64) for m in meshes])
        except ValueError as e:
            raise ValueError(f"meshes: expected (N, V, 3) vertices or a list of (V, 3) arrays of one size ({e})") \
                from None
    if verts.ndim == 2 and verts.shape[-1] == 3:
        verts = verts[None]
    if verts.ndim != 3 or verts.shape[-1] != 3 and verts.shape[0] > 0:
        raise ValueError(f"meshes: expected (N, V, 3) camera-frame vertices, got shape {verts.shape}")
    if not np.isfinite(verts).all():
        raise ValueError("meshes: vertices contain NaN or inf; pass finite camera-frame coordinates")
    return verts


def _check_inputs(verts, faces, K, size, colors):
    faces = np.asarray(faces)
    if faces.ndim != 2 or faces.shape[1] != 3 or faces.dtype.kind not in "iu":
        raise ValueError(f"faces: expected (F, 3) integer vertex ids, got shape {faces.shape} {faces.dtype}")
    n, v = verts.shape[:2]
    if n and len(faces) and (faces.min() < 0 or faces.max() >= v):
        raise ValueError(f"faces index vertices {faces.min()}..{faces.max()}, the meshes have {v} vertices")
    K = np.asarray(K, dtype=np.float64)
    if K.shape != (3, 3) or not np.isfinite(K).all() or K[0, 0] <= 0 or K[1, 1] <= 0:
        raise ValueError(f"K: expected a 3x3 pinhole intrinsics matrix with positive focal lengths, got {K!r}")
    try:
        width, height = (int(s) for s in size)
    except (TypeError, ValueError):
        raise ValueError(f"size: expected (width, height), got {size!r}") from None
    if width < 1 or height < 1:
        raise ValueError(f"size: expected a positive (width, height), got {size!r}")
    if colors is not None:
        colors = np.asarray(colors, dtype=np.float64)
        if colors.shape not in ((n, 3), (n, len(faces), 3)):
            raise ValueError(f"colors: expected ({n}, 3) per mesh or ({n}, {len(faces)}, 3) per face, "
                             f"got {colors.shape}")
    return faces.astype(np.int64), K, width, height, colors


def _setup(u: np.ndarray, v: np.ndarray, iz: np.ndarray, width: int, height: int,
           cull_backfaces: bool) -> dict[str, np.ndarray]:
    """Per-face corner pixels (F, 3) and 1/z -> pixel boxes and linear barycentric and 1/z coefficients.

    Only faces that can cover a pixel centre are kept (``face``: their indices): not degenerate, box
    inside the image and, when culling, facing the camera. A front face (counter-clockwise seen from
    outside, normal towards the camera) has negative signed area in pixel coordinates (y down).
    """
    u0, u1, u2 = u[:, 0], u[:, 1], u[:, 2]
    v0, v1, v2 = v[:, 0], v[:, 1], v[:, 2]
    area = (u1 - u0) * (v2 - v0) - (u2 - u0) * (v1 - v0)
    f = np.flatnonzero((area < -1e-12) if cull_backfaces else (np.abs(area) > 1e-12))
    u0, u1, u2, v0, v1, v2, area = u0[f], u1[f], u2[f], v0[f], v1[f], v2[f], area[f]
    lo_x = np.ceil(np.minimum(np.minimum(u0, u1), u2) - 1e-7).clip(0, width)
    hi_x = np.floor(np.maximum(np.maximum(u0, u1), u2) + 1e-7).clip(-1, width - 1)
    lo_y = np.ceil(np.minimum(np.minimum(v0, v1), v2) - 1e-7).clip(0, height)
    hi_y = np.floor(np.maximum(np.maximum(v0, v1), v2) + 1e-7).clip(-1, height - 1)
    covers = np.flatnonzero((lo_x <= hi_x) & (lo_y <= hi_y))
    f = f[covers]
    u0, u1, u2, v0, v1, v2, area = u0[covers], u1[covers], u2[covers], v0[covers], v1[covers], v2[covers], area[covers]
    lo_x, hi_x, lo_y, hi_y = lo_x[covers], hi_x[covers], lo_y[covers], hi_y[covers]
    inv = 1.0 / area
    # barycentric w_i(px, py) = a_i px + b_i py + c_i (w_0 weighs vertex 0, ...)
    a = ((v1 - v2) * inv, (v2 - v0) * inv, (v0 - v1) * inv)
    b = ((u2 - u1) * inv, (u0 - u2) * inv, (u1 - u0) * inv)
    c = ((u1 * v2 - u2 * v1) * inv, (u2 * v0 - u0 * v2) * inv, (u0 * v1 - u1 * v0) * inv)
    iz0, iz1, iz2 = iz[f, 0], iz[f, 1], iz[f, 2]
    return {"face": f, "lo_x": lo_x.astype(np.int64), "hi_x": hi_x.astype(np.int64),
            "lo_y": lo_y.astype(np.int64), "hi_y": hi_y.astype(np.int64), "a": a, "b": b, "c": c,
            "az": a[0] * iz0 + a[1] * iz1 + a[2] * iz2, "bz": b[0] * iz0 + b[1] * iz1 + b[2] * iz2,
            "cz": c[0] * iz0 + c[1] * iz1 + c[2] * iz2}


def _fragments(s: dict[str, np.ndarray], width: int):
    """Covered pixels of the faces of ``s``: (pixel index, depth, face index into ``s``) arrays."""
    if not len(s["face"]):
        return np.zeros(0, np.int64), np.zeros(0), np.zeros(0, np.int64)
    bw = s["hi_x"] - s["lo_x"] + 1
    bh = s["hi_y"] - s["lo_y"] + 1
    kx = np.ceil(np.log2(bw)).astype(np.int64)
    ky = np.ceil(np.log2(bh)).astype(np.int64)
    key = kx * 64 + ky
    order = np.argsort(key, kind="stable")
    bounds = np.flatnonzero(np.diff(key[order])) + 1
    pix, depth, fid = [], [], []
    for group in np.split(order, bounds):
        sx, sy = 1 << int(kx[group[0]]), 1 << int(ky[group[0]])
        dy, dx = np.divmod(np.arange(sx * sy), sx)
        step = max(1, _CANDIDATES // (sx * sy))
        for start in range(0, len(group), step):
            f = group[start:start + step, None]
            px = s["lo_x"][f] + dx
            py = s["lo_y"][f] + dy
            inside = (px <= s["hi_x"][f]) & (py <= s["hi_y"][f])
            pxf, pyf = px.astype(np.float64), py.astype(np.float64)
            for a, b, c in zip(s["a"], s["b"], s["c"]):
                inside &= a[f] * pxf + b[f] * pyf + c[f] >= -_EDGE_EPS
            rows, cols = np.nonzero(inside)
            if not len(rows):
                continue
            ff = f[rows, 0]
            xs, ys = px[rows, cols], py[rows, cols]
            pix.append(ys * width + xs)
            depth.append(1.0 / (s["az"][ff] * xs + s["bz"][ff] * ys + s["cz"][ff]))
            fid.append(ff)
    if not pix:
        return np.zeros(0, np.int64), np.zeros(0), np.zeros(0, np.int64)
    return np.concatenate(pix), np.concatenate(depth), np.concatenate(fid)


def face_shades(tri: np.ndarray, shading: str = "lambert", light=DEFAULT_LIGHT, ambient: float = 0.35) -> np.ndarray:
    """(F, 3, 3) camera-frame triangles -> (F,) brightness in [0, 1].

    ``flat``: 1 everywhere. ``lambert``: ``ambient + (1 - ambient) * max(0, n . -light)`` with the face
    normal n turned towards the camera (two-sided), ``light`` the direction the light travels.
    """
    if shading == "flat":
        return np.ones(len(tri))
    if shading != "lambert":
        raise ValueError(f"shading {shading!r}: expected one of {list(SHADINGS)}")
    n = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    n /= np.linalg.norm(n, axis=1, keepdims=True) + 1e-20
    n *= np.where((n * tri.mean(axis=1)).sum(1) > 0, -1.0, 1.0)[:, None]  # face the camera
    to_light = -np.asarray(light, dtype=np.float64)
    to_light /= np.linalg.norm(to_light)
    return ambient + (1.0 - ambient) * np.clip(n @ to_light, 0.0, 1.0)


def _paint(flat: np.ndarray, hit: np.ndarray, winner: np.ndarray, verts: np.ndarray, faces: np.ndarray, colors,
           shading: str, light, ambient: float) -> None:
    """Colour the covered pixels in place: ``flat`` (H*W, 3) uint8, ``hit`` (H*W,) covered, ``winner`` the
    global face (mesh * F + face) seen at each covered pixel; each face's colour times its shade."""
    nf = len(faces)
    used, where = np.unique(winner, return_inverse=True)
    tri = verts.reshape(-1, 3)[((used // nf) * verts.shape[1])[:, None] + faces[used % nf]]
    shade = face_shades(tri, shading, light, ambient)
    if colors is None:
        base = np.full((len(used), 3), 200.0)
    elif colors.ndim == 2:
        base = colors[used // nf]
    else:
        base = colors.reshape(-1, 3)[used]
    flat[hit] = np.clip(np.rint(base * shade[:, None]), 0, 255).astype(np.uint8)[where]


def rasterize(meshes, faces, K, size: tuple[int, int], colors=None, background=None, *,
              shading: str = "lambert", light=DEFAULT_LIGHT, ambient: float = 0.35, near: float = 1e-2,
              cull_backfaces: bool = False, draw: bool = True) -> Raster:
    """Draw N meshes sharing ``faces`` with one z-buffer.

    meshes: (N, V, 3) camera-frame vertices (or a list of (V, 3)); faces: (F, 3) vertex ids;
    K: (3, 3) intrinsics; size: (width, height). colors: (N, 3) per mesh or (N, F, 3) per face, 0..255
    (default: grey). background: (H, W, 3) uint8 image to draw over (default black). With
    ``draw=False`` only the id and depth buffers are made (``image`` is None), which is faster.
    ``cull_backfaces``: skip faces turned away from the camera; only for closed, outward-wound meshes
    (see ``orient_faces``).
    """
    verts = _as_meshes(meshes)
    faces, K, width, height, colors = _check_inputs(verts, faces, K, size, colors)
    if shading not in SHADINGS:
        raise ValueError(f"shading {shading!r}: expected one of {list(SHADINGS)}")
    if background is not None:
        background = np.asarray(background)
        if background.shape != (height, width, 3):
            raise ValueError(f"background: expected ({height}, {width}, 3) for size {width}x{height}, "
                             f"got {background.shape}")
    n, nf = len(verts), len(faces)
    x, y, z = (verts[..., i].reshape(-1) for i in range(3))
    vid = ((np.arange(n) * verts.shape[1])[:, None, None] + faces[None]).reshape(-1, 3)  # (N*F, 3)
    zf = z[vid]
    live = np.flatnonzero((zf[:, 0] > near) & (zf[:, 1] > near) & (zf[:, 2] > near))
    vid, iz = vid[live], 1.0 / zf[live]
    with np.errstate(divide="ignore", invalid="ignore"):
        u = K[0, 0] * x / z + K[0, 1] * y / z + K[0, 2]
        v = K[1, 1] * y / z + K[1, 2]
    s = _setup(u[vid], v[vid], iz, width, height, cull_backfaces)
    pix, depth, local = _fragments(s, width)
    face = live[s["face"][local]]  # global face index = mesh * F + face of the mesh

    zkey = np.full(height * width, _NO_HIT, dtype=np.uint64)
    if len(pix):
        bits = depth.astype(np.float32).view(np.uint32).astype(np.uint64)
        np.minimum.at(zkey, pix, (bits << np.uint64(32)) | face.astype(np.uint64))
    hit = zkey != _NO_HIT
    winner = (zkey & np.uint64(0xFFFFFFFF)).astype(np.int64)
    mesh_id = np.where(hit, winner // max(nf, 1), -1).astype(np.int32)
    face_id = np.where(hit, winner % max(nf, 1), -1).astype(np.int32)
    zbuf = np.full(height * width, np.inf, dtype=np.float32)
    zbuf[hit] = (zkey[hit] >> np.uint64(32)).astype(np.uint32).view(np.float32)

    image = None
    if draw:
        image = (np.zeros((height, width, 3), np.uint8) if background is None
                 else background.astype(np.uint8, copy=True))
        if hit.any():
            _paint(image.reshape(-1, 3), hit, winner[hit], verts, faces, colors, shading, light, ambient)
    return Raster(image=image, mesh_id=mesh_id.reshape(height, width), depth=zbuf.reshape(height, width),
                  face_id=face_id.reshape(height, width))
