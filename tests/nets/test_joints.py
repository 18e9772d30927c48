import numpy as np
import pytest

from nets.joints import (COCO17, CROWDPOSE14, GRAPH15, GRAPH15_IN_SMPL30, JOINT_SETS, OPENPOSE18, SMPL30,
                         add_pelvis_neck, graph_adjacency, joint_names, skeleton, to_superset)


@pytest.mark.parametrize("joint_set", ["coco17", "crowdpose14", "openpose18"])
def test_superset_puts_each_named_joint_in_place(joint_set):
    names = joint_names(joint_set)
    values = np.arange(len(names) * 3, dtype=np.float64).reshape(-1, 3) + 1
    out = to_superset(values, joint_set)
    assert out.shape == (30, 3)
    for i, name in enumerate(SMPL30):
        expected = values[names.index(name)] if name in names else np.zeros(3)
        np.testing.assert_array_equal(out[i], expected)


def test_pelvis_and_neck_are_midpoints_with_product_scores():
    kpts = np.random.default_rng(0).uniform(0, 1, (17, 3))
    out, names = add_pelvis_neck(kpts, "coco17")
    assert names == COCO17 + ("Pelvis", "Neck")
    np.testing.assert_allclose(out[17, :2], (kpts[11, :2] + kpts[12, :2]) / 2)
    assert out[17, 2] == kpts[11, 2] * kpts[12, 2]
    np.testing.assert_allclose(out[18, :2], (kpts[5, :2] + kpts[6, :2]) / 2)
    assert out[18, 2] == kpts[5, 2] * kpts[6, 2]


def test_sets_with_a_neck_only_get_a_pelvis():
    for joint_set, names in (("crowdpose14", CROWDPOSE14), ("openpose18", OPENPOSE18)):
        out, new_names = add_pelvis_neck(np.ones((len(names), 3)), joint_set)
        assert new_names == names + ("Pelvis",) and out.shape == (len(names) + 1, 3)


def test_unknown_joint_set_lists_valid_ones():
    with pytest.raises(KeyError, match="coco17"):
        joint_names("coco18")


def test_graph_adjacency_is_symmetric_normalised():
    adj = graph_adjacency()
    assert adj.shape == (15, 15)
    np.testing.assert_allclose(adj, adj.T)
    a = (adj > 0).astype(np.float64)
    d = a.sum(0) ** -0.5
    np.testing.assert_allclose(adj, d[:, None] * a * d[None], rtol=1e-6)
    assert [SMPL30[i] for i in GRAPH15_IN_SMPL30] == list(GRAPH15)


@pytest.mark.parametrize("joint_set", sorted(JOINT_SETS))
def test_skeleton_connects_every_joint_once(joint_set):
    edges = skeleton(joint_set)
    k = len(joint_names(joint_set))
    assert edges.shape[1] == 2 and edges.min() >= 0 and edges.max() < k
    assert len({tuple(sorted(e)) for e in edges.tolist()}) == len(edges)  # no duplicates
    reached, frontier = {0}, [0]  # one connected tree/graph over all joints
    while frontier:
        j = frontier.pop()
        for a, b in edges.tolist():
            for x, y in ((a, b), (b, a)):
                if x == j and y not in reached:
                    reached.add(y)
                    frontier.append(y)
    assert reached == set(range(k))
