"""nets.synth.raster: coverage of known shapes, the z-buffer, depth, colours and the input checks."""
from __future__ import annotations

import numpy as np
import pytest

from nets.synth.raster import orient_faces, rasterize

W, H, F = 32, 24, 100.0
K = np.array([[F, 0.0, 16.0], [0.0, F, 12.0], [0.0, 0.0, 1.0]])
QUAD_FACES = np.array([[0, 1, 2], [0, 2, 3]])  # counter-clockwise seen from the camera: front faces


def quad(u0, v0, u1, v1, z=2.0):
    """(4, 3) camera-frame corners of an axis-aligned quad at depth z covering pixels u0..u1, v0..v1."""
    corners = np.array([[u0, v0], [u0, v1], [u1, v1], [u1, v0]], dtype=np.float64)
    xy = (corners - K[:2, 2]) / F * z
    return np.concatenate([xy, np.full((4, 1), z)], axis=1)


def test_quad_covers_exactly_the_pixel_centres_inside():
    out = rasterize(quad(10.5, 8.5, 21.5, 15.5), QUAD_FACES, K, (W, H), [[10, 20, 30]], shading="flat")
    expected = np.zeros((H, W), bool)
    expected[9:16, 11:22] = True
    np.testing.assert_array_equal(out.mesh_id >= 0, expected)
    assert (out.mesh_id[expected] == 0).all() and (out.face_id[expected] >= 0).all()
    np.testing.assert_allclose(out.depth[expected], 2.0, rtol=1e-6)
    assert np.isinf(out.depth[~expected]).all() and (out.face_id[~expected] == -1).all()
    np.testing.assert_array_equal(out.image[expected], np.tile([10, 20, 30], (expected.sum(), 1)))
    assert (out.image[~expected] == 0).all()


def test_triangle_edges_are_inclusive():
    tri = np.array([[2.5, 2.5], [2.5, 12.5], [12.5, 2.5]])  # pixels: u >= 3, v >= 3, u + v <= 15
    verts = np.concatenate([(tri - K[:2, 2]) / F * 3.0, np.full((3, 1), 3.0)], axis=1)
    out = rasterize(verts, [[0, 1, 2]], K, (W, H))
    v, u = np.mgrid[:H, :W]
    np.testing.assert_array_equal(out.mesh_id == 0, (u >= 3) & (v >= 3) & (u + v <= 15))


def test_back_faces_are_culled_when_asked():
    reversed_faces = QUAD_FACES[:, ::-1]
    front = rasterize(quad(4.5, 4.5, 9.5, 9.5), QUAD_FACES, K, (W, H), cull_backfaces=True)
    back = rasterize(quad(4.5, 4.5, 9.5, 9.5), reversed_faces, K, (W, H), cull_backfaces=True)
    both = rasterize(quad(4.5, 4.5, 9.5, 9.5), reversed_faces, K, (W, H))
    assert (front.mesh_id == 0).sum() == 25
    assert (back.mesh_id >= 0).sum() == 0
    np.testing.assert_array_equal(both.mesh_id, front.mesh_id)


@pytest.mark.parametrize("order", [(0, 1), (1, 0)])
def test_nearer_mesh_wins_whatever_the_order(order):
    near = quad(4.5, 4.5, 14.5, 14.5, z=2.0)
    far = quad(9.5, 9.5, 24.5, 20.5, z=3.0)
    meshes = [near, far] if order == (0, 1) else [far, near]
    colors = [[255, 0, 0], [0, 0, 255]] if order == (0, 1) else [[0, 0, 255], [255, 0, 0]]
    out = rasterize(meshes, QUAD_FACES, K, (W, H), colors, shading="flat")
    near_id, far_id = order
    overlap = np.zeros((H, W), bool)
    overlap[10:15, 10:15] = True
    assert (out.mesh_id[overlap] == near_id).all()
    np.testing.assert_allclose(out.depth[overlap], 2.0, rtol=1e-6)
    assert (out.image[overlap] == [255, 0, 0]).all()
    far_only = np.zeros((H, W), bool)
    far_only[10:21, 10:25] = True
    far_only[10:15, 10:15] = False
    assert (out.mesh_id[far_only] == far_id).all() and (out.image[far_only] == [0, 0, 255]).all()
    assert (out.mesh_id >= 0).sum() == 100 + 11 * 15 - 25


def test_depth_is_perspective_correct_on_a_slanted_plane():
    # the plane z = 2 + x spans the image; exact depth along a pixel's ray: z = 2 / (1 - (u - cx) / f)
    corners = np.array([[-0.5, -0.5], [-0.5, 0.5], [0.5, 0.5], [0.5, -0.5]])
    verts = np.concatenate([corners, (2.0 + corners[:, :1])], axis=1)
    out = rasterize(verts, QUAD_FACES, K, (W, H))
    v, u = np.mgrid[:H, :W]
    hit = out.mesh_id >= 0
    assert hit.sum() > 0.5 * W * H
    np.testing.assert_allclose(out.depth[hit], (2.0 / (1.0 - (u - K[0, 2]) / F))[hit], rtol=1e-5)


def test_triangles_larger_than_the_image_fill_it():
    out = rasterize(quad(-300.5, -200.5, 400.5, 300.5, z=0.5), QUAD_FACES, K, (W, H))
    assert (out.mesh_id == 0).all()


def test_faces_behind_the_near_plane_are_skipped():
    verts = quad(4.5, 4.5, 9.5, 9.5)
    verts[0, 2] = -1.0
    out = rasterize(verts, QUAD_FACES, K, (W, H))
    assert (out.mesh_id >= 0).sum() == 0


def test_lambert_shading_darkens_faces_turned_from_the_light():
    facing = rasterize(quad(4.5, 4.5, 9.5, 9.5), QUAD_FACES, K, (W, H), [[200, 200, 200]], light=(0, 0, 1))
    assert (facing.image[facing.mesh_id == 0] == 200).all()
    flat = rasterize(quad(4.5, 4.5, 9.5, 9.5), QUAD_FACES, K, (W, H), [[200, 200, 200]], light=(1, 0, 0),
                     ambient=0.25)
    assert (flat.image[flat.mesh_id == 0] == 50).all()  # light grazing the face: ambient only


def test_body_meshes_cover_the_same_pixels_with_and_without_culling(standin_body):
    import torch

    pose = torch.zeros(3, 72)
    pose[:, 0] = np.pi
    trans = torch.tensor([[-0.4, 0.3, 4.0], [0.0, 0.3, 5.0], [0.5, 0.2, 6.0]])
    with torch.no_grad():
        verts = standin_body(pose, torch.zeros(3, 10), trans).vertices.numpy()
    faces, closed = orient_faces(verts[0], standin_body.faces)
    assert closed and np.array_equal(faces, standin_body.faces)
    k = np.array([[300.0, 0, 80], [0, 300.0, 60], [0, 0, 1]])
    culled = rasterize(verts, faces, k, (160, 120), draw=False, cull_backfaces=True)
    full = rasterize(verts, faces, k, (160, 120), draw=False)
    assert culled.image is None
    covered = full.mesh_id >= 0
    assert covered.sum() > 1000
    assert (culled.mesh_id != full.mesh_id).mean() < 0.002
    assert (culled.mesh_id[covered] == full.mesh_id[covered]).mean() > 0.995


def test_orient_faces_turns_inward_meshes_and_spots_open_ones():
    cube = np.array([[x, y, z] for x in (0, 1) for y in (0, 1) for z in (0, 1)], dtype=np.float64)
    outward = np.array([[0, 1, 3], [0, 3, 2], [4, 6, 7], [4, 7, 5], [0, 4, 5], [0, 5, 1],
                        [2, 3, 7], [2, 7, 6], [0, 2, 6], [0, 6, 4], [1, 5, 7], [1, 7, 3]])
    tri = cube[outward]
    assert np.einsum("ij,ij->i", tri[:, 0], np.cross(tri[:, 1], tri[:, 2])).sum() > 0
    faces, closed = orient_faces(cube, outward)
    assert closed and np.array_equal(faces, outward)
    faces, closed = orient_faces(cube, outward[:, ::-1])
    assert closed and np.array_equal(faces, outward)
    assert not orient_faces(cube, outward[:-1])[1]


@pytest.mark.parametrize("kwargs, message", [
    ({"faces": np.zeros((2, 4), int)}, "faces"),
    ({"faces": [[0, 1, 9]]}, "faces index"),
    ({"K": np.eye(2)}, "K:"),
    ({"size": (0, 10)}, "size"),
    ({"colors": [[1, 2, 3], [4, 5, 6]]}, "colors"),
    ({"meshes": np.full((1, 4, 3), np.nan)}, "NaN"),
    ({"shading": "phong"}, "shading"),
])
def test_bad_inputs_name_the_argument(kwargs, message):
    args = {"meshes": quad(4.5, 4.5, 9.5, 9.5)[None], "faces": QUAD_FACES, "K": K, "size": (W, H),
            "colors": [[1, 2, 3]], **kwargs}
    with pytest.raises(ValueError, match=message):
        rasterize(args.pop("meshes"), args.pop("faces"), args.pop("K"), args.pop("size"), **args)
