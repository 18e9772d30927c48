"""train.pipeline on the tiny official-format fixtures: targets, flip, PoseFix input, 50/50 mix, fit + eval."""
from __future__ import annotations

import copy
import dataclasses
from pathlib import Path

import numpy as np
import pytest
import torch
from torch.utils.data import Dataset

from nets.joints import COCO17, SMPL30, SMPL30_FLIP_PAIRS
from train.augment import Augmentation, flip_joints, flip_smpl_pose
from train.config import load_config
from train.datasets import Camera, SMPLFit
from train.losses import TARGET_KEYS
from train.pipeline import FitBody, MixedDataset, make_training_set
from train import trainer
from make_fixtures import write_fixtures  # tests/train is on sys.path (pytest's prepend import mode)

RECIPE = Path(__file__).resolve().parents[2] / "configs/train/3dpw_crowd.yaml"
ALL_TRAIN = "data.train=[Human36M, MuCo, MSCOCO, MPII, CrowdPose]"
NOT_COCO = [j for j, n in enumerate(SMPL30) if n not in COCO17]


@pytest.fixture(scope="module")
def data_root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("official")
    write_fixtures(root, seed=0)
    return root


@pytest.fixture(scope="module")
def body():
    return trainer.make_body(load_config(None).body)


@pytest.fixture(scope="module")
def mixed(data_root, body):
    cfg = load_config(RECIPE, [f"data.root={data_root}", "model.arch=reduced", "data.human36m_subjects=[1]", ALL_TRAIN])
    return make_training_set(cfg, body, trainer.build_model(cfg.model, body).config)


def datasets(mixed) -> dict:
    return {d.name: d for g in mixed.groups for d in g.datasets}


def weak_perspective_residual(xy: np.ndarray, cam: np.ndarray) -> float:
    """Relative residual of the best scale mapping the centred 3D x, y onto the centred 2D joints."""
    a, b = xy - xy.mean(0), cam[:, :2] - cam[:, :2].mean(0)
    s = (a * b).sum() / (b * b).sum()
    return float(np.linalg.norm(a - s * b, axis=1).mean() / np.linalg.norm(a, axis=1).mean())


def test_samples_have_the_synthetic_keys_and_shapes(mixed, body):
    from train.config import SyntheticConfig
    from train.synthetic import SyntheticCrowdDataset
    model_config = trainer.build_model(load_config(None, ["model.arch=reduced"]).model, body).config
    ref = SyntheticCrowdDataset(body, SyntheticConfig(sequences=1, people=3, frames=2), model_config)[0]
    assert mixed.names == ["3D", "2D"] and len(mixed) == 2 * max(len(g) for g in mixed.groups)
    for i in (0, len(mixed) - 1):
        s = mixed[i]
        assert set(s) == set(ref) and set(TARGET_KEYS) <= set(s)
        layout = lambda d: {k: (tuple(v.shape), v.dtype) for k, v in d.items()}  # noqa: E731
        assert layout(s) == layout(ref)
        assert float(s["img"].min()) >= 0 and float(s["img"].max()) <= 1


@pytest.mark.parametrize("aug", [Augmentation(), Augmentation(rot=40.0, scale=1.2), Augmentation(rot=-25.0, flip=True)])
def test_3d_targets_agree_with_2d_targets(mixed, aug):
    """Augmented root-relative 3D joints project (weak perspective) onto the augmented 2D crop joints, and
    the depth bins are the 3D depth; a wrong rotation sign would leave a large residual."""
    for name in ("Human36M", "MuCo"):
        d = datasets(mixed)[name]
        for i in range(len(d)):
            s = d.sample(i, aug)
            valid = s["orig_joint_valid"][:, 0].numpy() > 0
            xy, cam = s["orig_joint_img"][valid, :2].numpy(), s["orig_joint_cam"][valid].numpy()
            assert weak_perspective_residual(xy, cam) < 0.15, (name, i)
            wrong = cam @ np.array([[0.0, -1, 0], [1, 0, 0], [0, 0, 1]]).T  # a 90° error
            assert weak_perspective_residual(xy, wrong) > 0.5
            z = s["orig_joint_img"][valid, 2].numpy()
            np.testing.assert_allclose(z, (cam[:, 2] + 1.0) * 32 / 2, atol=1e-4)   # reduced: 32 bins over ±1 m
            assert float(s["is_3D"]) == 1


def test_fit_targets_agree(mixed, body):
    """A planted NeuralAnnot fit in front of the camera: projected fit joints match the fit's 3D joints, and
    the augmented pose through the body gives the augmented fit joints."""
    d = copy.copy(datasets(mixed)["MSCOCO"])   # the planted fit stays out of the shared fixture
    pose = np.zeros(72, np.float32)
    pose[:3] = [0.3, 0.2, 0.1]
    pose[3 * 16 + 2] = -0.6   # L_Shoulder
    fit = SMPLFit(pose, np.zeros(10, np.float32), np.array([0.0, 0.2, 6.0], np.float32))
    d.records = [dataclasses.replace(d.records[0], fit=fit, fit_valid=True,
                                     camera=Camera.of([600.0, 600.0], [160.0, 120.0]))]
    d._fits = {}
    for aug in (Augmentation(rot=30.0), Augmentation(rot=-30.0, flip=True, scale=0.9)):
        s = d.sample(0, aug)
        assert float(s["is_valid_fit"]) == 1 and float(s["is_3D"]) == 0 and float(s["fit_joint_trunc"].sum()) > 20
        cam = s["fit_joint_cam"].numpy()
        assert weak_perspective_residual(s["fit_joint_img"][:, :2].numpy(), cam) < 0.05
        with torch.no_grad():
            joints = body(s["pose_param"][None], s["shape_param"][None]).joints[0].numpy()
        tol = 1e-4 if not aug.flip else 0.02   # flip: exact only for a mirror-symmetric body
        np.testing.assert_allclose(joints - joints[0], cam, atol=tol)


def test_flipped_sample_is_the_mirror(mixed):
    """flip with rotation r = the horizontal mirror of the unflipped sample with rotation -r."""
    for name in ("MuCo", "CrowdPose"):   # CrowdPose record 0 has a valid NeuralAnnot fit
        d = datasets(mixed)[name]
        a = d.sample(0, Augmentation(rot=20.0, scale=1.1, color=(0.9, 1.0, 1.1)))
        b = d.sample(0, Augmentation(rot=-20.0, scale=1.1, color=(0.9, 1.0, 1.1), flip=True))
        size = a["img"].shape[-1]
        mirrored = a["img"].numpy()[:, :, ::-1][:, :, :-1]     # pixel u <- S - u (the official pixel convention)
        assert np.abs(b["img"].numpy()[:, :, 1:] - mirrored).mean() < 0.01
        hm = size // 4
        for key in ("orig_joint_img", "fit_joint_img", "joints"):
            expect = flip_joints(a[key].numpy(), SMPL30_FLIP_PAIRS)
            expect[:, 0] = hm - expect[:, 0]
            valid = flip_joints(a["orig_joint_valid"].numpy(), SMPL30_FLIP_PAIRS)[:, 0] > 0
            if key == "fit_joint_img":
                valid[:] = float(a["is_valid_fit"]) > 0
            if key == "joints":
                valid[[SMPL30.index(n) for n in COCO17]] = False   # PoseFix draws differ; the rest is GT
            np.testing.assert_allclose(b[key].numpy()[valid], expect[valid], atol=1e-3)
        for key in ("orig_joint_cam", "fit_joint_cam"):
            expect = flip_joints(a[key].numpy(), SMPL30_FLIP_PAIRS) * [-1, 1, 1]
            np.testing.assert_allclose(b[key].numpy(), expect, atol=1e-5)
        for key in ("orig_joint_trunc", "orig_joint_valid"):
            np.testing.assert_array_equal(b[key].numpy(), flip_joints(a[key].numpy(), SMPL30_FLIP_PAIRS))
        np.testing.assert_allclose(b["pose_param"].numpy(), flip_smpl_pose(a["pose_param"].numpy()), atol=1e-5)


def test_posefix_input_only_moves_coco_joints(mixed):
    d = datasets(mixed)["MSCOCO"]
    d.set_epoch(0)
    s, again = d[1], d[1]
    assert torch.equal(s["joints"], again["joints"])                      # seeded by (seed, epoch, dataset, index)
    np.testing.assert_allclose(s["joints"][NOT_COCO].numpy(), s["orig_joint_img"][NOT_COCO, :2].numpy(), atol=1e-6)
    coco = [SMPL30.index(n) for n in COCO17]
    assert not torch.allclose(s["joints"][coco], s["orig_joint_img"][coco, :2])
    assert torch.equal(s["joints_mask"], s["orig_joint_trunc"])           # mask = GT truncation
    d.set_epoch(1)
    assert not torch.equal(d[1]["joints"], s["joints"])
    d.set_epoch(0)


def test_data_posefix_false_feeds_the_clean_pose(data_root, body):
    cfg = load_config(RECIPE, [f"data.root={data_root}", "model.arch=reduced", "data.human36m_subjects=[1]",
                               "data.train=[Human36M, MSCOCO]", "data.posefix=false"])
    clean = make_training_set(cfg, body, trainer.build_model(cfg.model, body).config)
    assert all(not d.posefix for g in clean.groups for d in g.datasets)
    d = datasets(clean)["MSCOCO"]
    d.set_epoch(0)
    s = d[1]
    np.testing.assert_allclose(s["joints"].numpy(), s["orig_joint_img"][:, :2].numpy(), atol=1e-6)


class _Count(Dataset):
    def __init__(self, n: int, tag: int):
        self.n, self.tag = n, tag

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        return (self.tag, i)

    def set_epoch(self, epoch):
        pass


def test_mixing_is_half_3d_per_epoch_and_over_batches():
    mixed = MixedDataset({"3D": [_Count(3, 0), _Count(4, 1)], "2D": [_Count(10, 2), _Count(15, 3)]}, seed=0)
    assert len(mixed) == 50
    items = [mixed[i] for i in range(len(mixed))]
    assert sum(tag < 2 for tag, _ in items) == 25                      # exactly half 3D per epoch
    assert sorted(set(items[:21])) == [(0, i) for i in range(3)] + [(1, i) for i in range(4)]  # 3 whole cycles of 7
    assert items[25:] == [(2, i) for i in range(10)] + [(3, i) for i in range(15)]
    assert [mixed[i] for i in range(21, 25)] == items[21:25]           # the random remainder is seeded
    g = torch.Generator().manual_seed(0)
    fractions = []
    for epoch in range(40):
        mixed.set_epoch(epoch)
        order = torch.randperm(len(mixed), generator=g).tolist()
        for b in range(0, 48, 8):
            fractions.append(np.mean([mixed.locate(i)[0] == 0 for i in order[b:b + 8]]))
    assert abs(np.mean(fractions) - 0.5) < 0.03 and 0.1 < np.std(fractions) < 0.3   # 50/50 in expectation


def test_fit_then_eval_on_the_fixture_datasets(data_root, tmp_path, capsys):
    from train.__main__ import main
    common = [f"data.root={data_root}", "model.arch=reduced", "data.human36m_subjects=[1]", "device=cpu", "amp=false"]
    assert main(["fit", "--config", str(RECIPE), *common, ALL_TRAIN, "data.batch_size=4", "data.workers=0",
                 "optim.max_steps=2", "progress=false", "log_every=1", f"output_dir={tmp_path}"]) == 0
    state = trainer.read_state(tmp_path / "checkpoint" / "snapshot_0.pth")
    assert state["step"] == 2
    rows = (tmp_path / "metrics.csv").read_text().strip().splitlines()
    assert len(rows) == 1 + 2 and all(np.isfinite(float(x)) for x in rows[-1].split(",")[2:])
    capsys.readouterr()
    assert main(["eval", "--config", str(RECIPE), "--checkpoint", str(tmp_path / "checkpoint" / "snapshot_0.pth"),
                 *common]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert "3DPW-Crowd (n=4)" in lines[0] and "3DPW (n=6)" in lines[0] and "MuPoTS (n=4)" in lines[0]
    assert lines[2].split() == ["method", "MPJPE", "PA-MPJPE", "MPVPE", "MPJPE", "PA-MPJPE", "MPVPE", "3DPCK",
                                "all", "matched"]
    values = [float(v) for v in lines[3].split()[-8:]]
    assert len(lines) == 4 and all(v >= 0 for v in values) and all(v <= 100 for v in values[-2:])


def test_missing_dataset_file_names_the_file(tmp_path, capsys):
    from train.__main__ import main
    assert main(["fit", "--config", str(RECIPE), f"data.root={tmp_path}", f"output_dir={tmp_path / 'out'}"]) == 2
    err = capsys.readouterr().err
    assert "Human36M_subject1_data.json" in err and "vision.imar.ro" in err and "data.root" in err


def test_perfect_predictions_score_zero_and_full(data_root, body):
    from train.evaluate import gt_meshes, mupots_scores, pw3d_scores
    from train.datasets import MuPoTS, PW3D
    records = PW3D(data_root / "PW3D", split="validation", crowd=True).records
    gt = gt_meshes(records, {"neutral": body})
    perfect = pw3d_scores(gt - gt[:, :1] + 0.3, gt, body)          # any translation: metrics are root-centred
    assert perfect["mpjpe"] < 1e-3 and perfect["pa_mpjpe"] < 1e-3 and perfect["mpvpe"] < 1e-3   # mm
    scaled = pw3d_scores(gt * 1.2, gt, body)
    assert scaled["mpjpe"] > 10 and scaled["pa_mpjpe"] < 1e-3
    mupots = MuPoTS(data_root / "MuPoTs").records
    gt_rel = np.stack([r.native_cam - r.native_cam[14] for r in mupots]) * 1000.0
    assert mupots_scores(gt_rel, mupots) == {"pck_all": 100.0, "pck_matched": 100.0, "count": 4}
    off = mupots_scores(gt_rel + np.array([200.0, 0, 0]) * (np.arange(17) != 14)[:, None], mupots)
    assert off["pck_all"] < 100.0


def test_fit_body_native_joints_by_name(body):
    fit = SMPLFit(np.zeros(72, np.float32), np.zeros(10, np.float32), np.array([0.0, 0.0, 3.0], np.float32))
    from nets.joints import MUCO21
    joints = FitBody(body).native_joints(MUCO21)(fit)
    assert np.isnan(joints[MUCO21.index("Thorax")]).all() and np.isfinite(np.delete(joints, 1, 0)).all()
