import numpy as np
import pytest

from nets.joints import SMPL30
from train.posefix import (COCO_MIRROR, MODES, ks_radius, mode_probabilities, perturb_joint,
                           synthesize_pose, synthesize_superset, tight_area)

# a standing person in crop px (COCO-17), ~190 px tall
PERSON = np.array([
    [128, 40, 2], [122, 35, 2], [134, 35, 2], [115, 38, 2], [141, 38, 2], [105, 70, 2], [151, 70, 2],
    [98, 105, 2], [158, 105, 2], [95, 140, 2], [161, 140, 2], [115, 140, 2], [141, 140, 2],
    [114, 185, 2], [142, 185, 2], [113, 228, 2], [143, 228, 2]], float)
NEAR = PERSON + np.array([70.0, 5.0, 0.0])  # a neighbour overlapping the right half
N_DRAWS = 20000


def _expected(j, num_valid, num_overlap, feasible):
    table = mode_probabilities(num_valid, num_overlap)
    p = np.array([table[m][j] if feasible[m] else 0.0 for m in MODES])
    return p / p.sum()


def _frequencies(j, joints, near, seed):
    rng = np.random.default_rng(seed)
    area = tight_area(joints)
    d = {ks: ks_radius(area, ks) for ks in (.85, .50, .10)}
    probs = mode_probabilities(int((joints[:, 2] > 0).sum()), len(near))
    counts = dict.fromkeys(MODES, 0)
    radii = {m: [] for m in MODES}
    for _ in range(N_DRAWS):
        _, mode, r = perturb_joint(j, joints, near, d, probs, rng)
        counts[mode] += 1
        radii[mode].append(r)
    return np.array([counts[m] for m in MODES]) / N_DRAWS, radii, d


def _with_valid(n):
    joints = PERSON.copy()
    joints[n:, 2] = 0
    return joints


CASES = [  # (joint, valid count, near people, feasible modes)
    (13, 17, 0, dict(jitter=1, miss=1, inversion=1, swap=0, good=1)),   # >10 valid, alone: no swap
    (9, 17, 1, dict(jitter=1, miss=1, inversion=1, swap=1, good=1)),    # >10 valid, one near: not crowded
    (7, 9, 1, dict(jitter=1, miss=1, inversion=1, swap=1, good=1)),     # <=10 valid, crowded
    (0, 5, 0, dict(jitter=1, miss=1, inversion=0, swap=0, good=1)),     # <=5 valid, nose has no mirror
]


@pytest.mark.parametrize("case", CASES)
def test_mode_frequencies_match_renormalised_table(case):
    j, n_valid, n_near, feasible = case
    joints = _with_valid(n_valid)
    near = np.stack([NEAR] * n_near) if n_near else np.zeros((0, 17, 3))
    freq, radii, d = _frequencies(j, joints, near, seed=j)
    expected = _expected(j, n_valid, n_near, feasible)
    assert np.abs(freq - expected).max() < 0.02, (dict(zip(MODES, freq)), dict(zip(MODES, expected)))
    # radii within the official ranges
    bounds = {"jitter": (d[.85][j], d[.50][j]), "miss": (d[.50][j], d[.10][j]), "inversion": (0, d[.50][j]),
              "swap": (0, d[.50][j]), "good": (0, d[.85][j])}
    for mode, rs in radii.items():
        if rs:
            lo, hi = bounds[mode]
            assert min(rs) >= lo - 1e-9 and max(rs) <= hi + 1e-9, mode


def test_crowded_rule_changes_swap_table():
    assert mode_probabilities(10, 1)["swap"][9] == pytest.approx(.15)
    assert mode_probabilities(11, 1)["swap"][9] == pytest.approx(.06)
    assert mode_probabilities(15, 3)["swap"][13] == pytest.approx(.10)
    assert mode_probabilities(17, 3)["swap"][13] == pytest.approx(.03)
    for n in (3, 8, 17):
        good = mode_probabilities(n, 2)["good"]
        assert np.all((good > 0) & (good < 1))


def test_no_swap_without_near_people_and_points_land_near_sources():
    rng = np.random.default_rng(7)
    for _ in range(300):
        out, modes = synthesize_pose(PERSON, np.zeros((0, 17, 3)), rng)
        assert "swap" not in modes
        assert np.all(out[:, 2] == 1)
        good = [j for j, m in enumerate(modes) if m in ("good", "jitter")]
        d50 = ks_radius(tight_area(PERSON), .50)
        assert np.all(np.linalg.norm(out[good, :2] - PERSON[good, :2], axis=1) <= d50[good] + 1e-9)


def test_swap_lands_nearest_a_neighbour_joint():
    rng = np.random.default_rng(8)
    joints = _with_valid(9)
    seen = 0
    for _ in range(400):
        out, modes = synthesize_pose(joints, NEAR[None], rng)
        for j, m in enumerate(modes):
            if m == "swap":
                seen += 1
                cand = np.stack([NEAR[j, :2], NEAR[COCO_MIRROR[j], :2]])
                own = np.stack([joints[j, :2], joints[COCO_MIRROR[j], :2]])
                assert np.linalg.norm(cand - out[j, :2], axis=1).min() <= np.linalg.norm(own - out[j, :2], axis=1).min()
    assert seen > 50


def test_unannotated_joints_stay_zero_and_same_seed_same_result():
    joints = _with_valid(6)
    a, modes = synthesize_pose(joints, NEAR[None], np.random.default_rng(3))
    b, _ = synthesize_pose(joints, NEAR[None], np.random.default_rng(3))
    assert np.array_equal(a, b)
    assert np.all(a[6:] == 0) and all(m is None for m in modes[6:])


def test_superset_copies_back_only_coco_joints():
    from nets.joints import to_superset, COCO17
    j30 = to_superset(PERSON, COCO17)
    j30[SMPL30.index("Pelvis")] = (128, 140, 1)
    out = synthesize_superset(j30, np.zeros((0, 30, 3)), np.random.default_rng(0))
    assert out[SMPL30.index("Pelvis")].tolist() == [128, 140, 1]
    assert not np.allclose(out[SMPL30.index("Nose")], j30[SMPL30.index("Nose")])
