"""stream.mesh: person crops made as `stream image` makes them, carrying their person; the crop camera moves into
the full image's camera."""
import json

import cv2
import numpy as np
import pytest

from nets.crops import crop_people, crop_transforms
from stream.mesh.camera import CROP_FOCAL, crop_camera_to_image
from stream.mesh.stage import person_crops
from trackers.core import TrackedPerson

CAMERA = (1000.0, (639.5, 359.5))


def tracked(track_id, keypoints, score=0.9):
    keypoints = np.asarray(keypoints, np.float32)
    box = np.array([keypoints[:, 0].min(), keypoints[:, 1].min(), 10 * track_id, 20], np.float32)
    return TrackedPerson(track_id, keypoints, box, score, 0, 42)


@pytest.fixture(scope="module")
def demo(fixtures_dir):
    folder = fixtures_dir / "official_parity"
    poses = json.loads((folder / "demo_io.json").read_text())["coco_poses"]
    bgr = cv2.imread(str(folder / "basketball1.png"))
    return bgr, [np.array(p, dtype=np.float64) for p in poses]


def test_person_crops_are_the_official_crops_with_their_people(demo):
    bgr, poses = demo
    hidden = tracked(9, np.zeros_like(poses[0]), score=0.0)   # predicted only: zero scores
    people = [tracked(7, poses[0], 0.8), hidden, tracked(3, poses[1], 0.7)]
    crops = person_crops(42, bgr, people, "coco17", CAMERA)
    ref = crop_people(bgr[:, :, ::-1].copy(), [p.keypoints for p in people], "coco17")
    assert ref["index"].tolist() == [0, 2]
    for key in ("img", "joints", "joints_mask"):
        np.testing.assert_array_equal(crops[key], ref[key], err_msg=key)
    np.testing.assert_array_equal(crops["crop_bbox"], ref["bbox"])
    kept = [people[0], people[2]]            # each crop carries its own tracked person and its image's camera
    assert crops["track_id"].tolist() == [7, 3] and crops["track_id"].dtype == np.int64
    np.testing.assert_array_equal(crops["keypoints2d"], np.stack([p.keypoints for p in kept]))
    np.testing.assert_array_equal(crops["bbox"], np.stack([p.box for p in kept]))
    np.testing.assert_allclose(crops["score"], [0.8, 0.7], rtol=1e-6)
    assert crops["focal"].tolist() == [1000.0] * 2 and crops["principal_point"].tolist() == [[639.5, 359.5]] * 2


def test_person_crops_of_an_empty_frame(demo):
    bgr, _ = demo
    crops = person_crops(0, bgr, [], "coco17", CAMERA)
    assert crops["img"].shape == (0, 3, 256, 256) and crops["keypoints2d"].shape == (0, 17, 3)
    assert crops["track_id"].shape == (0,) and crops["bbox"].shape == (0, 4) and crops["focal"].shape == (0,)


def test_mesh_stage_keeps_a_person_behind_another_that_the_official_test_drops(pipeline_config):
    from stream.pipeline.setup import load_mesh_stage

    # COCO-17 stick figures: one 80 px tall, one 56 px tall behind it (farther: smaller, higher in the image)
    figure = np.array([[0, .06], [-.02, .05], [.02, .05], [-.05, .06], [.05, .06], [-.12, .18], [.12, .18],
                       [-.15, .35], [.15, .35], [-.16, .5], [.16, .5], [-.08, .52], [.08, .52], [-.08, .75],
                       [.08, .75], [-.08, .98], [.08, .98]])
    people = [tracked(track_id, np.concatenate([figure * height + xy, np.full((17, 1), 0.9)], axis=1))
              for track_id, height, xy in ((1, 80, (100, 50)), (2, 56, (104, 62)))]
    bgr = np.zeros((240, 320, 3), np.uint8)
    stage = load_mesh_stage(pipeline_config(), "coco17")
    assert stage.crop_config.duplicate == "oks"
    assert stage.crops(0, bgr, people, CAMERA)["track_id"].tolist() == [1, 2]
    assert person_crops(0, bgr, people, "coco17", CAMERA)["track_id"].tolist() == [1]   # the official 20 px


def test_person_crops_rejects_a_grey_frame():
    with pytest.raises(ValueError, match=r"frame 5: expected an \(H, W, 3\) uint8 BGR image"):
        person_crops(5, np.zeros((8, 8), np.uint8), [], "coco17", CAMERA)


def _project(points, focal, centre):
    return points[..., :2] / points[..., 2:] * focal + np.asarray(centre)[..., None, :]


def _crop_projection_in_image(vertices, trans, bbox, crop_focal_crop_px):
    """Project in 256-crop pixels (focal in crop pixels, centre 128) and map back with the crop's bb2img."""
    out = []
    for v, t, box in zip(vertices, trans, bbox):
        uv = (v[:, :2] + t[:2]) / (v[:, 2:] + t[2]) * crop_focal_crop_px(box) + 128.0
        bb2img = crop_transforms(box, 256)[1].astype(np.float64)
        out.append(uv @ bb2img[:, :2].T + bb2img[:, 2])
    return np.stack(out)


BOXES = np.array([[300.0, 150.0, 160.0, 160.0], [900.0, 500.0, 240.0, 240.0], [20.0, 600.0, 120.0, 120.0]])
FOCAL, PP = 1200.0, (639.5, 359.5)    # a 1280x720 image


@pytest.mark.parametrize("with_bbox", [True, False])
def test_flat_mesh_projects_exactly(with_bbox):
    """Points on the fronto-parallel plane through the translation origin land on the same pixels."""
    rng = np.random.default_rng(0)
    vertices = np.concatenate((rng.uniform(-0.4, 0.4, (3, 500, 1)), rng.uniform(-0.9, 0.9, (3, 500, 1)),
                               np.zeros((3, 500, 1))), axis=2)
    trans = np.array([[0.05, 0.2, 60.0], [-0.1, 0.1, 45.0], [0.0, -0.05, 80.0]])
    crop_px = (lambda box: CROP_FOCAL * 256 / box[2]) if with_bbox else (lambda box: CROP_FOCAL)
    expected = _crop_projection_in_image(vertices, trans, BOXES, crop_px)
    for i, box in enumerate(BOXES):
        crop_focal = CROP_FOCAL if with_bbox else CROP_FOCAL * box[2] / 256   # the docstring's no-bbox rule
        t_img = crop_camera_to_image(trans[i:i + 1], box[None], FOCAL, PP, crop_focal=crop_focal)
        np.testing.assert_allclose(_project(vertices[i] + t_img[0], FOCAL, PP), expected[i], atol=1e-6)


def test_body_projects_within_the_perspective_bound():
    """With depth in the body, pixels differ only by the parallax the true focal length adds:
    |du| <= |u0 - c| * |v_z| / t_z' (plus the crop camera's own, smaller, parallax): 4-8 px here for a
    40 cm deep person 100-600 px off the principal point at 14-27 m (focal 1200)."""
    rng = np.random.default_rng(1)
    vertices = np.stack([rng.uniform(-0.3, 0.3, 2000), rng.uniform(-0.9, 0.9, 2000), rng.uniform(-0.2, 0.2, 2000)], 1)
    trans = np.array([[0.05, 0.2, 60.0], [-0.1, 0.1, 45.0], [0.0, -0.05, 80.0]])
    t_img = crop_camera_to_image(trans, BOXES, FOCAL, PP)
    assert np.allclose(t_img[:, 2], trans[:, 2] * FOCAL / CROP_FOCAL)
    expected = _crop_projection_in_image(np.repeat(vertices[None], 3, 0), trans, BOXES,
                                         lambda box: CROP_FOCAL * 256 / box[2])
    for i in range(3):
        got = _project(vertices + t_img[i], FOCAL, PP)
        origin = _project(t_img[i][None], FOCAL, PP)[0]
        origin_crop = _crop_projection_in_image(np.zeros((1, 1, 3)), trans[i:i + 1], BOXES[i:i + 1],
                                                lambda box: CROP_FOCAL * 256 / box[2])[0, 0]
        np.testing.assert_allclose(origin, origin_crop, atol=1e-6)     # the origin lands on the same pixel
        err = np.abs(got - expected[i]).max()
        bound = 1.1 * (np.abs(origin - PP).max() * 0.2 / (t_img[i, 2] - 0.2) + 0.2 / trans[i, 2] * BOXES[i, 2])
        assert 0.5 * bound < err <= bound, (i, err, bound)    # the bound is tight, not vacuous


def test_crop_camera_validation():
    with pytest.raises(ValueError, match="one box per person"):
        crop_camera_to_image(np.ones((2, 3)), np.ones((1, 4)), 1000.0, (0, 0))
    with pytest.raises(ValueError, match="depths > 0"):
        crop_camera_to_image(np.array([[0.0, 0.0, -1.0]]), np.ones((1, 4)), 1000.0, (0, 0))


def test_one_camera_per_row_equals_one_call_per_camera():
    """A pass may hold crops of several videos: each row moves into its own image's camera."""
    trans = np.array([[0.05, 0.2, 60.0], [-0.1, 0.1, 45.0], [0.0, -0.05, 80.0]])
    focal, pp = np.array([1200.0, 800.0, 1000.0]), np.array([[639.5, 359.5], [319.5, 239.5], [99.5, 99.5]])
    together = crop_camera_to_image(trans, BOXES, focal, pp, crop_focal=2500.0)
    apart = [crop_camera_to_image(trans[i:i + 1], BOXES[i:i + 1], focal[i], tuple(pp[i]), crop_focal=2500.0)
             for i in range(3)]
    np.testing.assert_array_equal(together, np.concatenate(apart))
    with pytest.raises(ValueError, match="focal has 2 rows for 3 people"):
        crop_camera_to_image(trans, BOXES, focal[:2], pp)
