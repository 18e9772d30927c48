"""nets.synth.crowd: deterministic crowds whose ground truth agrees with the camera and the z-buffer."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from nets.config import ConfigError
from nets.joints import COCO17, CROWDPOSE14, SMPL30
from nets.synth import CrowdConfig, make_crowd, occlusion_summary, render
from nets.synth.crowd import place_people
from nets.synth.motion import gait_pose

SMALL = CrowdConfig(people=5, frames=24, width=320, height=180, seed=3)


@pytest.fixture(scope="module")
def crowd(standin_body):
    return make_crowd(standin_body, SMALL)


def test_same_seed_same_crowd_other_seed_other_crowd(standin_body, crowd):
    drawn = {}
    again = make_crowd(standin_body, SMALL, on_frame=lambda t, bgr, ids: drawn.update({t: (bgr, ids)}))
    first, second = crowd.arrays(), again.arrays()
    assert sorted(first) == sorted(second)
    for key in first:
        np.testing.assert_array_equal(first[key], second[key], err_msg=key)
    assert sorted(drawn) == list(range(24))
    for t in (0, 23):
        image, ids = render(crowd, t)
        image2, ids2 = render(again, t)
        np.testing.assert_array_equal(image, image2)
        np.testing.assert_array_equal(ids, ids2)
        np.testing.assert_array_equal(image, drawn[t][0])  # frames drawn while generating are render's
        np.testing.assert_array_equal(ids, drawn[t][1])
    other = make_crowd(standin_body, dataclasses.replace(SMALL, seed=4))
    assert not np.allclose(other.trans, crowd.trans)
    assert not np.allclose(other.betas, crowd.betas)


def test_shapes_and_dtypes(crowd):
    T, N = 24, 5
    assert crowd.ids.tolist() == list(range(N))
    assert crowd.smpl_pose.shape == (T, N, 72) and crowd.betas.shape == (N, 10) and crowd.trans.shape == (T, N, 3)
    assert crowd.joints3d.shape == (T, N, 30, 3)
    assert {k: v.shape for k, v in crowd.keypoints2d.items()} == {
        "coco17": (T, N, 17, 3), "crowdpose14": (T, N, 14, 3), "smpl30": (T, N, 30, 3)}
    assert crowd.boxes.shape == (T, N, 4) and crowd.present.shape == (T, N) and crowd.occlusion.shape == (T, N)
    assert crowd.present.dtype == bool and crowd.camera.K.shape == (3, 3)
    assert np.isfinite(crowd.joints3d).all() and ((crowd.occlusion >= 0) & (crowd.occlusion <= 1)).all()


def test_keypoints_are_the_exact_projection_of_the_joints(crowd):
    K = crowd.camera.K
    joints = crowd.joints3d.astype(np.float64)
    uv = joints[..., :2] / joints[..., 2:] * [K[0, 0], K[1, 1]] + K[:2, 2]
    np.testing.assert_allclose(crowd.keypoints2d["smpl30"][..., :2], uv, rtol=0, atol=1e-3)
    for name, names in (("coco17", COCO17), ("crowdpose14", CROWDPOSE14)):
        index = [SMPL30.index(n) for n in names]
        np.testing.assert_array_equal(crowd.keypoints2d[name], crowd.keypoints2d["smpl30"][:, :, index])


def test_smpl_parameters_reproduce_the_joints_in_the_camera_frame(standin_body, crowd):
    for t in (0, 11):
        with torch.no_grad():
            out = standin_body(torch.from_numpy(crowd.smpl_pose[t]), torch.from_numpy(crowd.betas),
                               torch.from_numpy(crowd.trans[t]))
        np.testing.assert_allclose(out.joints.numpy(), crowd.joints3d[t], atol=1e-4)
        np.testing.assert_allclose(out.vertices.numpy(), crowd.vertices(t), atol=1e-4)


def test_people_stand_on_the_ground_and_walk_at_their_speed(crowd):
    cam = crowd.camera
    for t in (0, 12, 23):
        world = (crowd.vertices(t).astype(np.float64) - cam.t) @ cam.R  # camera -> world
        np.testing.assert_allclose(world[..., 1].min(axis=1), 0.0, atol=1e-4)
    step = np.linalg.norm(np.diff(crowd.world_xz, axis=0), axis=-1) * SMALL.fps
    assert step.max() <= SMALL.speed_range[1] + 1e-6
    turn = np.abs(np.angle(np.exp(1j * np.diff(crowd.heading.astype(np.float64), axis=0)))) * SMALL.fps
    assert turn.max() <= np.radians(SMALL.turn_rate_deg) + 1e-4


def test_visibility_agrees_with_the_rendered_id_buffer(crowd):
    for t in (0, 10, 23):
        _, ids = render(crowd, t)
        kp = crowd.keypoints2d["smpl30"][t]
        np.testing.assert_array_equal(np.bincount(ids[ids >= 0], minlength=5), crowd.visible_pixels[t])
        for n in range(crowd.people):
            for x, y, v in kp[n]:
                px, py = int(round(x)), int(round(y))
                window = ids[max(py - 1, 0):py + 2, max(px - 1, 0):px + 2]
                if v:
                    assert (window == n).any()


def standing(n, frames=1):
    pose = gait_pose(np.zeros((frames, n)), np.zeros((frames, n)),
                     {"hip": np.zeros(n), "knee": np.zeros(n), "arm_down": np.full(n, 1.3),
                      "arm_swing": np.zeros(n), "elbow": np.full(n, 0.2), "lean": np.zeros(n),
                      "head_yaw": np.zeros(n)})
    return pose


@pytest.mark.parametrize("front", [0, 1])
def test_a_person_behind_another_is_occluded(standin_body, front):
    config = CrowdConfig(width=320, height=240, fov_deg=50)
    xz = np.zeros((1, 2, 2))
    xz[0, front] = (0.0, 6.0)
    xz[0, 1 - front] = (0.0, 7.0)
    crowd = place_people(standin_body, config, xz, np.full((1, 2), np.pi), standing(2), np.zeros((2, 10)))
    back = 1 - front
    assert crowd.present[0].all()
    assert crowd.keypoints2d["coco17"][0, front, :, 2].mean() >= 0.8  # facing the camera
    assert crowd.occlusion[0, front] <= 0.2 and crowd.occlusion[0, back] >= 0.75
    # only what sticks out above the nearer person's shoulders (the camera is at eye level) can be seen
    hidden = [SMPL30.index(n) for n in ("Pelvis", "L_Hip", "R_Hip", "L_Knee", "R_Knee", "L_Ankle", "R_Ankle",
                                         "L_Elbow", "R_Elbow", "L_Wrist", "R_Wrist", "Nose", "L_Eye", "R_Eye")]
    assert (crowd.keypoints2d["smpl30"][0, back, hidden, 2] == 0).all()
    assert (crowd.occluder[0, back, hidden] == front).all()
    assert (crowd.occluder[0, front] == -1).all()
    assert occlusion_summary(crowd)["by_others"] > 0.35


def test_seen_from_the_side_the_far_side_is_self_occluded(standin_body):
    config = CrowdConfig(width=320, height=240, fov_deg=30)
    crowd = place_people(standin_body, config, np.array([[[0.0, 5.0]]]), np.full((1, 1), np.pi / 2),
                         standing(1), np.zeros((1, 10)))
    vis = dict(zip(COCO17, crowd.keypoints2d["coco17"][0, 0, :, 2]))
    # heading pi/2 walks towards world +x (the image's left): the body's left side faces the camera
    for joint in ("Shoulder", "Elbow", "Wrist", "Knee", "Ear"):
        assert (vis["L_" + joint], vis["R_" + joint]) == (1, 0), joint
    assert (crowd.occluder[0, 0] == -1).all()


def test_keypoints_outside_the_image_are_not_visible(standin_body):
    config = CrowdConfig(width=320, height=180)
    half = np.tan(np.radians(config.fov_deg) / 2) * 6.0
    xz = np.array([[[half, 6.0], [0.0, 6.0], [half + 5.0, 6.0]]])  # on the right edge, centre, far out
    crowd = place_people(standin_body, config, xz, np.full((1, 3), np.pi), standing(3), np.zeros((3, 10)))
    kp = crowd.keypoints2d["coco17"][0]
    outside = (kp[..., 0] < -0.5) | (kp[..., 0] >= 319.5)
    assert outside[0].any() and (~outside[0]).any()
    assert (kp[outside, 2] == 0).all()
    assert kp[0][~outside[0], 2].sum() > 0
    assert crowd.present[0].tolist() == [True, True, False]
    assert (crowd.boxes[0, 2] == 0).all() and crowd.boxes[0, 0, 0] + crowd.boxes[0, 0, 2] <= 319
    assert crowd.boxes[0, 1, 3] > 50


def test_sequences_have_crossings(standin_body):
    crowd = make_crowd(standin_body, CrowdConfig(people=12, frames=40, width=320, height=180, seed=0))
    summary = occlusion_summary(crowd)
    assert summary["by_others"] > 0.02
    assert (crowd.occluder >= 0).any(axis=(0, 2)).sum() >= 3  # several people get hidden behind others


@pytest.mark.parametrize("change, message", [
    ({"people": 0}, "people"), ({"frames": 0}, "frames"), ({"width": 8}, "width"), ({"fps": 0.0}, "fps"),
    ({"depth_range": (9.0, 4.0)}, "depth_range"), ({"stop_probability": 2.0}, "stop_probability"),
    ({"people": 2.5}, "people"),
])
def test_bad_config_names_the_field(change, message):
    with pytest.raises(ConfigError, match=message):
        CrowdConfig(**change)


def test_frame_index_is_checked(crowd):
    with pytest.raises(IndexError, match="outside"):
        render(crowd, 24)


def test_walkers_keep_apart_turn_smoothly_and_some_pause():
    from nets.synth.motion import Area, walk

    area = Area(near=4.5, far=12.0, half_width_at_1m=0.58, margin=1.0)
    paths = walk(area, 12, 300, 30.0, (0.8, 1.6), np.radians(120), 0.5, (1.0, 2.0), np.random.default_rng(0))
    gap = np.linalg.norm(paths.xz[:, :, None] - paths.xz[:, None], axis=-1) + np.eye(12) * 99
    assert gap.min() > 0.35                                   # pelvis to pelvis: nobody walks through anyone
    assert ((paths.speed < 0.05).any(axis=0)).sum() >= 1      # someone stops at a waypoint
    assert paths.speed.max() <= 1.6 and paths.speed.mean() > 0.5
    assert np.ptp(paths.heading, axis=0).max() > np.pi / 2   # and people turn


def test_other_smpl_format_bodies_work(fixture_body):
    # the parity fixture's synthetic SMPL is wound inward and not closed: no back-face culling for it
    crowd = make_crowd(fixture_body, CrowdConfig(people=2, frames=3, width=160, height=96, seed=0))
    assert not crowd.cull_backfaces
    image, ids = render(crowd, 2)
    assert image.shape == (96, 160, 3) and set(np.unique(ids)) == {-1, 0, 1}
    assert crowd.keypoints2d["coco17"][..., 2].mean() > 0.5
