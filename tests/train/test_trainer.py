"""train.trainer on tiny synthetic runs: schedule, loss decrease, resume, export, Ray local mode."""
import math
import os

from pathlib import Path

import numpy as np
import pytest
import torch

from train import trainer
from train.config import load_config

TINY = ["model.arch=reduced", "model.train_vposer=true", "data.batch_size=4", "data.workers=0",
        "data.synthetic.sequences=1", "data.synthetic.test_sequences=1", "data.synthetic.people=3",
        "data.synthetic.frames=3", "progress=false", "log_every=1", "device=cpu", "amp=false"]


def tiny(tmp_path, *extra):
    return load_config(None, [*TINY, f"output_dir={tmp_path}", *extra])


def steps_per_epoch(cfg, body) -> int:
    model_config = trainer.build_model(cfg.model, body).config
    return len(trainer.make_dataset(cfg, body, model_config, "train")) // cfg.data.batch_size


@pytest.fixture(scope="module")
def body():
    return trainer.make_body(load_config(None).body)


def test_lr_schedule_keeps_backbone_lr(body):
    cfg = load_config(None, ["optim.lr=1e-3", "optim.lr_backbone=1e-4", "optim.lr_decay_epochs=[10]",
                             "model.arch=reduced"])
    opt = trainer.make_optimizer(trainer.build_model(cfg.model, body), cfg)
    assert [g["name"] for g in opt.param_groups] == list(trainer.GROUPS)
    for epoch, (lr, lr_bb) in {0: (1e-3, 1e-4), 9: (1e-3, 1e-4), 10: (1e-4, 1e-5)}.items():
        trainer.set_lr(opt, epoch, cfg)
        assert opt.param_groups[0]["lr"] == pytest.approx(lr_bb)
        assert all(g["lr"] == pytest.approx(lr) for g in opt.param_groups[1:])


def test_official_crowd_schedule():
    assert [trainer.lr_factor(e, (4, 6), 10.0) for e in range(7)] == pytest.approx([1, 1, 1, 1, .1, .1, .01])


def test_vposer_frozen_by_default(body):
    model = trainer.build_model(load_config(None, ["model.arch=reduced"]).model, body)
    assert not any(p.requires_grad for p in model.vposer.parameters())
    trainer.set_train_mode(model, load_config(None))
    assert model.training and not model.vposer.training


def test_unknown_arch(body):
    with pytest.raises(ValueError, match="tiny_vit"):
        trainer.build_model(load_config(None, ["model.arch=tiny_vit"]).model, body)


def test_fit_writes_csv_and_checkpoints(tmp_path, body):
    cfg = tiny(tmp_path, "optim.end_epoch=2")
    result = trainer.fit(cfg)
    assert result.epoch == 2 and result.step == 2 * steps_per_epoch(cfg, body) > 0
    rows = (tmp_path / "metrics.csv").read_text().strip().splitlines()
    assert rows[0].startswith("epoch,step,loss") and len(rows) == 1 + result.step
    assert sorted(p.name for p in (tmp_path / "checkpoint").iterdir()) == ["snapshot_1.pth", "snapshot_2.pth"]


def test_resume_restores_epoch_and_optimizer(tmp_path):
    first = trainer.fit(tiny(tmp_path, "optim.end_epoch=1"))
    state1 = trainer.read_state(first.checkpoint)
    assert state1["epoch"] == 1 and state1["optimizer"]["state"]
    second = trainer.fit(tiny(tmp_path, "optim.end_epoch=2"))  # same output_dir: resumes
    assert second.epoch == 2 and second.step == 2 * first.step and len(second.losses) == first.step
    state2 = trainer.read_state(second.checkpoint)
    step_key = next(iter(state2["optimizer"]["state"]))
    assert float(state2["optimizer"]["state"][step_key]["step"]) == second.step  # Adam state carried on


def test_loss_decreases(tmp_path):
    result = trainer.fit(tiny(tmp_path, "optim.lr=1e-3", "optim.lr_backbone=1e-3", "optim.end_epoch=8"))
    losses = np.array(result.losses)
    assert losses[-3:].mean() < 0.8 * losses[:3].mean()


def test_load_trained_and_export_official(tmp_path, body):
    result = trainer.fit(tiny(tmp_path, "optim.max_steps=1"))
    model = trainer.load_trained(result.checkpoint, body)
    x = torch.rand(2, 3, 128, 128)
    out = model(x, torch.rand(2, 30, 2) * 32, torch.ones(2, 30, 1))
    assert out.joint_cam.shape == (2, 30, 3)
    path = trainer.export_official(model, tmp_path / "official.pth.tar", epoch=1)
    ckpt = torch.load(path, weights_only=True)
    assert ckpt["epoch"] == 1 and all(k.startswith("module.") for k in ckpt["network"])
    assert "module.vposer.vposer.bodyprior_dec_out.weight" in ckpt["network"]
    assert "module.human_model_layer.th_v_template" in ckpt["network"]


def test_project_export_loads_in_the_stream(tmp_path, body):
    """`python -m train export --project`: the reduced model trained here loads through nets.checkpoint (as
    `stream process model.checkpoint=` and `stream image --checkpoint` load it) and gives the same outputs."""
    from nets.checkpoint import load_model
    from train.__main__ import main

    result = trainer.fit(tiny(tmp_path, "optim.max_steps=1"))
    path = tmp_path / "model.pt"
    assert main(["export", "--checkpoint", str(result.checkpoint), "--project", str(path)]) == 0
    trained, loaded = trainer.load_trained(result.checkpoint, body).eval(), load_model(path, body)
    assert loaded.config.backbone == "small" and loaded.config.input_size == 128
    x, joints, mask = torch.rand(2, 3, 128, 128), torch.rand(2, 30, 2) * 32, torch.ones(2, 30, 1)
    with torch.no_grad():
        a, b = trained(x, joints, mask), loaded(x, joints, mask)
    torch.testing.assert_close(a.smpl_pose, b.smpl_pose)
    torch.testing.assert_close(a.cam_trans, b.cam_trans)


def test_official_export_matches_parity_key_list(tmp_path, fixture_file):
    """Same names and shapes as the release's state dict, less the VPoser encoder (never used)."""
    import json
    from nets.body import BodyModel
    keys = json.loads(fixture_file("official_parity/official_state_dict_keys.json").read_text())
    smpl_body = BodyModel.from_files(fixture_file("official_parity/smpl_synthetic_neutral.pkl"),
                                     fixture_file("official_parity/J_regressor_extra.npy"))
    model = trainer.build_model(load_config(None).model, smpl_body)
    ckpt = torch.load(trainer.export_official(model, tmp_path / "o.pth.tar", 0), weights_only=True)
    encoder = "module.vposer.vposer.bodyprior_enc_"
    expected = {name: tuple(shape) for name, shape, _ in keys if not name.startswith(encoder)}
    got = {k: tuple(v.shape) for k, v in ckpt["network"].items()}
    assert got == expected


def test_ray_local_mode(tmp_path, body):
    ray = pytest.importorskip("ray")
    os.environ["RAY_TRAIN_V2_ENABLED"] = "1"
    os.environ["RAY_USAGE_STATS_ENABLED"] = "0"  # local cluster on loopback, no usage reporting
    cfg = tiny(tmp_path, "optim.end_epoch=2", "ray.enabled=true", "ray.num_workers=0",
               f"ray.storage_path={tmp_path / 'ray'}", "ray.name=local")
    try:
        result = trainer.fit(cfg)
    finally:
        ray.shutdown()
    assert result.epoch == 2 and result.step == 2 * steps_per_epoch(cfg, body)
    assert result.checkpoint is not None and trainer.read_state(result.checkpoint)["epoch"] == 2


def test_ray_two_workers_resume_after_injected_failure(tmp_path, body):
    """Two CPU workers (gloo DDP); rank 1 dies once after epoch 0; Ray restarts from the epoch-1
    checkpoint and the run ends with the same number of steps as an uninterrupted one."""
    ray = pytest.importorskip("ray")
    os.environ["RAY_TRAIN_V2_ENABLED"] = "1"
    os.environ["RAY_USAGE_STATS_ENABLED"] = "0"  # local cluster on loopback, no usage reporting
    cfg = tiny(tmp_path, "optim.end_epoch=3", "ray.enabled=true", "ray.num_workers=2", "ray.max_failures=1",
               "ray.fail_once_after_epoch=0", f"ray.storage_path={tmp_path / 'ray'}", "ray.name=two")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, _node_ip_address="127.0.0.1")
    try:
        result = trainer.fit(cfg)
    finally:
        ray.shutdown()
    crops = len(trainer.make_dataset(cfg, body, trainer.build_model(cfg.model, body).config, "train"))
    per_worker_batches = math.ceil(crops / 2) // cfg.data.batch_size  # DistributedSampler pads; drop_last kept
    assert per_worker_batches > 0
    assert (tmp_path / "injected_failure_epoch0").exists()
    assert result.epoch == 3 and result.step == 3 * per_worker_batches
    assert trainer.read_state(result.checkpoint)["epoch"] == 3


def test_max_steps_inside_an_epoch_reruns_that_epoch(tmp_path, body):
    cfg = tiny(tmp_path, "optim.end_epoch=3", "data.batch_size=2")
    per_epoch = steps_per_epoch(cfg, body)
    assert per_epoch >= 2
    stopped = trainer.fit(tiny(tmp_path, "optim.end_epoch=3", "data.batch_size=2", "optim.max_steps=1"))
    assert trainer.read_state(stopped.checkpoint)["epoch"] == 0 and stopped.step == 1
    done = trainer.fit(cfg)
    assert done.epoch == 3 and done.step == 1 + 3 * per_epoch


def test_official_recipes_name_the_missing_dataset_file(tmp_path):
    from train.datasets import DatasetFileMissing
    cfg = load_config(Path(__file__).resolve().parents[2] / "configs/train/3dpw_crowd.yaml", [f"data.root={tmp_path}"])
    body = trainer.make_body(cfg.body)
    with pytest.raises(DatasetFileMissing, match="Human36M_subject1_data.json"):
        trainer.make_dataset(cfg, body, trainer.build_model(cfg.model, body).config, "train")
    with pytest.raises(ValueError, match="Human3.6M"):
        trainer.make_dataset(load_config(None, ["data.train=[Human3.6M]"]), body, None, "train")


@pytest.mark.parametrize("variant", [["model.regressor=gap"], ["model.pose_guidance=false"],
                                     ["model.regressor=gap", "model.pose_guidance=false"]],
                         ids=["gap", "no_guidance", "gap_no_guidance"])
def test_variant_trains_and_reloads_strictly(tmp_path, body, variant):
    """One step of each ablation variant; the training checkpoint and its project export rebuild that variant."""
    from nets.checkpoint import load_model
    cfg = tiny(tmp_path, "optim.max_steps=1", *variant)
    result = trainer.fit(cfg)
    assert result.step == 1 and math.isfinite(result.losses[0])
    model = trainer.load_trained(result.checkpoint, body)
    assert (model.config.regressor, model.config.pose_guidance) == (cfg.model.regressor, cfg.model.pose_guidance)
    assert trainer.read_state(result.checkpoint)["model_config"]["regressor"] == cfg.model.regressor
    loaded = load_model(trainer.export_project(model, tmp_path / "model.pt"), body)
    assert loaded.config == model.config
    state = model.network_state_dict()
    assert all(torch.equal(state[k], v) for k, v in loaded.network_state_dict().items())
