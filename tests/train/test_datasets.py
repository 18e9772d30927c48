"""Dataset readers on tiny seeded fixtures in the official formats (tests/train/make_fixtures.py)."""
from __future__ import annotations

import shutil

import numpy as np
import pytest

from nets.joints import SMPL30
from train.datasets import (READERS, CrowdPose, DatasetFileMissing, Human36M, MPII, MSCOCO, MuCo, MuPoTS, PW3D,
                            ImageMissing, load_image, match_2d_pose, open_dataset)
from train.datasets.base import translation_aligned_error
from train.datasets.crowdpose import FLIP_PAIRS
from nets.joints import H36M17, flip_pairs
from train.datasets.joint_sets import CROWDPOSE14_PELVIS
from make_fixtures import fit_offsets, write_fixtures  # tests/train is on sys.path (pytest's prepend import mode)


@pytest.fixture(scope="module")
def fx(tmp_path_factory):
    return write_fixtures(tmp_path_factory.mktemp("datasets"), seed=0)


def _check_record(r, is_3d: bool):
    assert r.joint_img.shape == (30, 2) and r.joint_valid.shape == (30, 1)
    assert r.bbox.shape == (4,) and r.img_size == (240, 320)
    assert r.img_path.is_file()
    assert r.near_joints.ndim == 3 and r.near_joints.shape[1:] == (17, 3)
    assert r.is_3d is is_3d
    if r.fit is not None:
        assert r.fit.pose.shape == (72,) and r.fit.shape.shape == (10,) and r.fit.trans.shape == (3,)
    if r.joint_cam is not None:
        assert r.joint_cam.shape == (30, 3)


def test_human36m_split_selection_and_projection(fx):
    m = fx["Human36M"]
    train = Human36M(m["root"], split="train", subjects=(1,))
    assert [r.meta["frame_idx"] for r in train] == m["train_frames"]
    test = Human36M(m["root"], split="test", subjects=(9,))
    assert [r.meta["frame_idx"] for r in test] == m["test_frames"]
    for r in list(train) + list(test):
        _check_record(r, is_3d=True)
        assert r.native_cam.shape == (17, 3) and len(r.near_joints) == 0
    r = train[0]
    cam = m["world"] @ m["R"].T + m["t"]
    np.testing.assert_allclose(r.native_cam, cam, atol=1e-5)  # JSON keeps 3 decimals of mm
    assert np.all(r.native_cam[:, 2] > 1.0)  # metres, not mm
    proj = cam[:, :2] / cam[:, 2:] * 300.0 + [160.0, 120.0]
    np.testing.assert_allclose(r.joint_img[SMPL30.index("L_Knee")], proj[H36M17.index("L_Knee")], atol=1e-3)
    assert r.joint_valid.sum() == len(set(H36M17) & set(SMPL30))
    assert r.joint_valid[SMPL30.index("L_Toe"), 0] == 0


def test_human36m_25mm_fit_rule(fx):
    m = fx["Human36M"]
    world = m["world"]
    reader = Human36M(m["root"], split="train", subjects=(1,),
                      fit_joints=lambda fit: world + fit_offsets(17, fit.trans[0]))  # trans[0] = planted error
    by_frame = {r.meta["frame_idx"]: r for r in reader}
    assert by_frame[0].fit_valid and 9.0 < by_frame[0].fit_error_mm < 11.0
    assert not by_frame[5].fit_valid and 39.0 < by_frame[5].fit_error_mm < 41.0


def test_translation_aligned_error_ignores_translation():
    a = np.random.default_rng(0).normal(size=(17, 3))
    assert translation_aligned_error(a, a + [1.0, -2.0, 3.0]) == pytest.approx(0.0, abs=1e-12)


def test_muco_closest_person_fit_rule_and_near_persons(fx):
    m = fx["MuCo"]
    gt = m["gt"]
    def fit_joints(fit):  # the fixture stores the annotation id in trans[0]
        cam, err = gt[int(fit.trans[0])]
        return cam + fit_offsets(21, err)

    reader = MuCo(m["root"], fit_joints=fit_joints)
    assert [r.ann_id for r in reader] == [m["closest"][0], m["closest"][1]]
    for r in reader:
        _check_record(r, is_3d=True)
        np.testing.assert_allclose(r.native_cam, gt[r.ann_id][0], atol=1e-6)
        np.testing.assert_allclose(r.joint_cam[SMPL30.index("Pelvis")], gt[r.ann_id][0][14], atol=1e-6)
    first, second = reader
    assert first.fit_valid and not second.fit_valid
    assert first.near_joints.shape == (1, 17, 3) and second.near_joints.shape == (0, 17, 3)


def test_mscoco_filters_pelvis_and_fits(fx):
    m = fx["MSCOCO"]
    reader = MSCOCO(m["root"])
    assert [r.ann_id for r in reader] == m["kept"]  # iscrowd and 0-keypoint annotations skipped
    for r in reader:
        _check_record(r, is_3d=False)
        assert r.joint_cam is None
        assert len(r.near_joints) == m["near"][r.ann_id]
        assert r.fit_valid == (r.ann_id in m["with_fit"])
        hips = r.joint_img[[SMPL30.index("L_Hip"), SMPL30.index("R_Hip")]]
        np.testing.assert_allclose(r.joint_img[SMPL30.index("Pelvis")], hips.mean(0))
        assert r.joint_valid[SMPL30.index("Pelvis"), 0] == 1
    assert reader[0].joint_valid[SMPL30.index("R_Eye"), 0] == 0  # unlabelled joint
    assert reader[0].camera.focal.shape == (2,)


def test_mpii_reads_every_annotation(fx):
    m = fx["MPII"]
    reader = MPII(m["root"])
    assert [r.ann_id for r in reader] == m["kept"]
    for r in reader:
        _check_record(r, is_3d=False)
        assert r.fit_valid
        assert r.joint_valid.sum() == 16 - 1  # MPII's Thorax has no SMPL30 joint


def test_crowdpose_fit_err_rule_skip_and_swapped_size(fx):
    m = fx["CrowdPose"]
    reader = CrowdPose(m["root"])
    assert [r.ann_id for r in reader] == m["kept"]
    for r in reader:
        _check_record(r, is_3d=False)  # img_size (240, 320) although the JSON says width 240, height 320
    assert [r.ann_id for r in reader if r.fit_valid] == m["valid_fit"]  # fit_err < 5.0 kept (official BUG fixed)
    assert reader[1].meta["fit_err"] == 7.5


def test_crowdpose_flip_pairs_from_names():
    assert FLIP_PAIRS == ((0, 1), (2, 3), (4, 5), (6, 7), (8, 9), (10, 11))
    for i, j in FLIP_PAIRS:
        assert CROWDPOSE14_PELVIS[i][2:] == CROWDPOSE14_PELVIS[j][2:]
    assert flip_pairs(SMPL30) == ((1, 2), (4, 5), (7, 8), (10, 11), (13, 14), (16, 17), (18, 19), (20, 21),
                                  (22, 23), (25, 26), (27, 28))


def test_pw3d_test_split_uses_openpose(fx):
    m = fx["PW3D"]
    reader = PW3D(m["root"], split="test")
    assert [r.ann_id for r in reader] == m["all"]
    for r in reader:
        _check_record(r, is_3d=True)
        assert r.input_joints.shape == (30, 3) and r.meta["input_source"] == "openpose"
        assert r.fit.gender in ("male", "female") and r.fit_valid
        assert r.input_joints[SMPL30.index("L_Shoulder"), 2] == 0  # score 0.03 <= 0.05
        valid = r.input_joints[r.input_joints[:, 2] > 0, :2]
        assert r.bbox[2] == pytest.approx((valid[:, 0].max() - valid[:, 0].min()) * 1.2)


def test_pw3d_crowd_sequences_and_openpose_fallback(fx):
    m = fx["PW3D"]
    reader = PW3D(m["root"], split="validation", crowd=True)
    assert [r.ann_id for r in reader] == m["crowd"]
    assert {r.meta["sequence"] for r in reader} == {"courtyard_hug_00", "courtyard_dancing_00"}
    sources = {r.ann_id: r.meta["input_source"] for r in reader}
    assert sources.pop(m["fallback"]) == "openpose" and set(sources.values()) == {"hhrnet"}
    assert reader.fallbacks == 1
    hh = reader[0].input_joints
    lh, rh = hh[SMPL30.index("L_Hip")], hh[SMPL30.index("R_Hip")]
    np.testing.assert_allclose(hh[SMPL30.index("Pelvis"), :2], (lh[:2] + rh[:2]) / 2)


def test_match_2d_pose_threshold_and_nearest():
    rng = np.random.default_rng(1)
    ref = np.concatenate([rng.uniform(0, 150, (17, 2)), np.ones((17, 1))], 1)
    bbox = np.array([0.0, 0.0, 150.0, 300.0])  # threshold min(w, h) / 15 = 10 px
    near = ref.copy(); near[:, :2] += [6.0, 0.0]
    nearer = ref.copy(); nearer[:, :2] += [0.0, 3.0]
    far = ref.copy(); far[:, :2] += [11.0, 0.0]
    assert match_2d_pose(ref, np.stack([far, near, nearer]), bbox) == 2
    assert match_2d_pose(ref, np.stack([far]), bbox) is None
    low = far.copy(); low[:, 2] = 0.1  # joints with score <= 0.1 do not count: nothing to compare
    assert match_2d_pose(ref, np.stack([low]), bbox) is None
    part = far.copy(); part[:8, :2] = ref[:8, :2]; part[8:, 2] = 0.05  # only the exact joints count
    assert match_2d_pose(ref, np.stack([part]), bbox) == 0


def test_mupots_fields_validity_and_unmatched_input(fx):
    m = fx["MuPoTS"]
    reader = MuPoTS(m["root"])
    assert len(reader) == m["n"]
    for r in reader:
        _check_record(r, is_3d=True)
        assert r.native_cam.shape == (17, 3) and r.input_joints.shape == (30, 3)
    assert [r.ann_id for r in reader if r.meta["is_valid"]] == m["valid"]
    unmatched = reader[m["unmatched"]]
    assert not unmatched.meta["matched"] and not unmatched.input_joints.any()
    assert reader[0].meta["key"] == "TS1_img_000000" and reader[2].meta["key"] == "TS1_img_000001"


@pytest.mark.parametrize("name", sorted(READERS))
def test_missing_root_names_file_source_and_config_key(name, tmp_path):
    cls = READERS[name]
    with pytest.raises(DatasetFileMissing) as err:
        cls(tmp_path)
    assert isinstance(err.value, FileNotFoundError)
    assert str(err.value.path).startswith(str(tmp_path)) and str(err.value.path) in str(err.value)
    assert cls.config_key in str(err.value) and cls.source in str(err.value)
    assert "http" in cls.source or "github.com" in cls.source


def test_open_dataset_uses_the_official_folder(fx):
    data_root = fx["MPII"]["root"].parent
    assert [r.ann_id for r in open_dataset("MPII", data_root)] == fx["MPII"]["kept"]
    assert len(open_dataset("MuPoTS", data_root)) == fx["MuPoTS"]["n"]
    with pytest.raises(KeyError, match="expected one of"):
        open_dataset("LSP", data_root)


def test_load_image_reads_rgb_and_names_a_missing_image(fx, tmp_path):
    record = MPII(fx["MPII"]["root"])[0]
    assert load_image(record).shape == (240, 320, 3)
    record.img_path = tmp_path / "gone.jpg"
    with pytest.raises(ImageMissing, match="gone.jpg"):
        load_image(record)


def test_missing_single_file_is_named(fx, tmp_path):
    root = tmp_path / "h36m"
    shutil.copytree(fx["Human36M"]["root"], root)
    missing = root / "annotations" / "Human36M_subject1_smpl_param.json"
    missing.unlink()
    with pytest.raises(DatasetFileMissing, match="Human36M_subject1_smpl_param.json") as err:
        Human36M(root, subjects=(1,))
    assert err.value.path == missing and "vision.imar.ro/human3.6m" in str(err.value)
    assert "'data.root'" in str(err.value) and "Human36M/" in str(err.value)
