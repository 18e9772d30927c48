import numpy as np
import pytest

from nets.metrics import (crowd_index, match_people_2d, mpjpe, mpvpe, mupots_3dpck, pa_mpjpe,
                           rescale_bones, MUPOTS_PARENTS)


def _rot(axis, angle):
    axis = np.asarray(axis, float) / np.linalg.norm(axis)
    k = np.array([[0, -axis[2], axis[1]], [axis[2], 0, -axis[0]], [-axis[1], axis[0], 0]])
    return np.eye(3) + np.sin(angle) * k + (1 - np.cos(angle)) * k @ k


def test_mpjpe_known_value():
    gt = np.zeros((2, 4, 3))
    pred = gt.copy()
    pred[0, :, 0] = 3.0
    pred[1, 0] = (0, 4, 0)  # one joint of four wrong by 4
    assert mpjpe(pred, gt) == pytest.approx([3.0, 1.0])


def test_pa_mpjpe_zero_for_similarity_copy_and_invariant():
    rng = np.random.default_rng(0)
    gt = rng.normal(size=(3, 14, 3)) * 300
    pred = gt + rng.normal(size=gt.shape) * 20
    R = _rot((1, 2, 3), 1.1)
    moved = 1.7 * pred @ R.T + np.array([100.0, -50.0, 2000.0])
    assert pa_mpjpe(1.3 * gt @ R.T + 5.0, gt) == pytest.approx(np.zeros(3), abs=1e-8)
    assert pa_mpjpe(moved, gt) == pytest.approx(pa_mpjpe(pred, gt), rel=1e-9)
    assert np.all(pa_mpjpe(pred, gt) < mpjpe(pred, gt))


def test_pa_mpjpe_does_not_use_reflection():
    rng = np.random.default_rng(1)
    gt = rng.normal(size=(1, 14, 3)) * 300
    mirrored = gt * np.array([-1.0, 1.0, 1.0])
    assert pa_mpjpe(mirrored, gt)[0] > 10.0


def test_mpvpe_hand_computed():
    gt = np.zeros((1, 3, 3))
    pred = np.array([[[1.0, 0, 0], [0, 2.0, 0], [0, 0, 0]]]) + 10.0  # offset removed by its own root
    assert mpvpe(pred, gt, pred_root=np.full((1, 3), 10.0), gt_root=np.zeros((1, 3)))[0] == pytest.approx(1.0)
    # no Procrustes: a rotation about the root counts
    gt2 = np.array([[[100.0, 0, 0]]])
    pred2 = np.array([[[0, 100.0, 0]]])
    assert mpvpe(pred2, gt2, np.zeros((1, 3)), np.zeros((1, 3)))[0] == pytest.approx(100 * np.sqrt(2))


def _skeleton(offset=(0.0, 0.0, 4000.0)):
    # MuPoTS-17 in mm, +y down like the camera: a T-ish stick person
    j = np.array([
        [0, -700, 0], [0, -450, 0], [-180, -450, 0], [-430, -450, 0], [-650, -450, 0],
        [180, -450, 0], [430, -450, 0], [650, -450, 0], [-100, 0, 0], [-110, 420, 0], [-120, 820, 0],
        [100, 0, 0], [110, 420, 0], [120, 820, 0], [0, 0, 0], [0, -220, 0], [0, -560, 30]], float)
    return j + np.asarray(offset)


def _project(j3d, f=1000.0, c=(1000.0, 1000.0)):
    return j3d[..., :2] / j3d[..., 2:] * f + np.asarray(c)


def _image(gt3d, pred3d):
    return {"gt_2d": _project(gt3d), "gt_3d": gt3d, "pred_2d": _project(pred3d), "pred_3d": pred3d}


def test_3dpck_perfect_is_100_and_translation_free():
    people = np.stack([_skeleton((-1500, 0, 5000)), _skeleton((1500, 0, 5000))])
    assert mupots_3dpck([_image(people, people)]) == {"all": 100.0, "matched": 100.0}
    # predicted root off by 200 mm in depth: pelvis centring removes it (2D still matches)
    shifted = people + np.array([0, 0, 200.0])
    assert mupots_3dpck([_image(people, shifted)])["all"] == 100.0


def test_3dpck_zero_at_200mm_error():
    gt = _skeleton()[None]
    # the pose point-reflected through the pelvis: bones keep their GT lengths, so rescaling
    # leaves it, and every eval joint (all >= 100 mm from the pelvis) is >= 200 mm off
    pred = 2 * gt[:, 14:15] - gt
    err = np.linalg.norm(pred - gt, axis=-1)[0, :14]
    assert err.min() >= 200.0 - 1e-9
    res = mupots_3dpck([{"gt_2d": _project(gt), "gt_3d": gt, "pred_2d": _project(gt), "pred_3d": pred}])
    assert res == {"all": 0.0, "matched": 0.0}


def test_3dpck_unmatched_counts_only_in_all_mode():
    a, b = _skeleton((-1500, 0, 5000)), _skeleton((1500, 0, 5000))
    gt = np.stack([a, b])
    im = {"gt_2d": _project(gt), "gt_3d": gt, "pred_2d": _project(a[None]), "pred_3d": a[None]}
    assert mupots_3dpck([im]) == {"all": 50.0, "matched": 100.0}
    im["gt_valid"] = np.array([1, 0])
    assert mupots_3dpck([im]) == {"all": 100.0, "matched": 100.0}


def test_matching_threshold_40px():
    gt = _project(_skeleton())[None]
    assert match_people_2d(gt + 39.0 / np.sqrt(2), gt)[0] == 0
    assert match_people_2d(gt + 41.0 / np.sqrt(2), gt)[0] == -1


def test_bone_rescaling_restores_gt_lengths_keeps_directions():
    gt = _skeleton() - _skeleton()[14]
    pred = 1.5 * gt
    assert np.allclose(rescale_bones(pred, gt), gt)
    assert sum(p == j for j, p in enumerate(MUPOTS_PARENTS)) == 1  # one root: the pelvis


def test_crowd_index_hand_made():
    bbox = (0, 0, 100, 100)
    own = np.array([[10, 10, 2], [20, 20, 2], [30, 30, 1], [40, 40, 2], [150, 10, 2], [50, 50, 0]])
    other1 = np.array([[90, 90, 2], [95, 5, 2], [120, 50, 2], [50, 50, 0]])  # 2 inside, 1 out, 1 unlabelled
    other2 = np.array([[100, 100, 1]])  # on the border: inside
    assert crowd_index(own, bbox, [other1, other2]) == pytest.approx(3 / 4)
    assert crowd_index(own[:3], bbox, [other1]) == 0.0  # fewer than 4 own keypoints inside
