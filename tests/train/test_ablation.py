"""train.ablation: every variant trains and is scored through the trainer; reruns train only what changed."""
import json

import numpy as np
import pytest

from nets.config import ConfigError
from train.ablation import load_ablation, plan_runs, run_ablation
from train.ablation_eval import format_ablation, format_differences
from train.checkpoints import load_trained

TINY = ["train.data.synthetic.sequences=1", "train.data.synthetic.people=3", "train.data.synthetic.frames=2",
        "train.data.batch_size=4", "train.optim.max_steps=1", "train.optim.end_epoch=1",
        "eval.crowds.test_sequences=1", "eval.crowds.people=4", "eval.crowds.frames=2", "eval.noise=[clean,heavy]",
        "jobs=1"]


def tiny(tmp_path, *extra):
    return load_ablation("configs/train/ablation.yaml", [*TINY, f"output_dir={tmp_path}", *extra])


def test_each_variant_trains_and_is_scored(tmp_path):
    cfg = tiny(tmp_path, "variants=[{name: full, seeds: [0]}, {name: gap, overrides: [model.regressor=gap], seeds: [0]},"
                         " {name: no_guidance, overrides: [model.pose_guidance=false], seeds: [0]},"
                         " {name: no_posefix, overrides: [data.posefix=false], seeds: [0]}]",
               "train.optim.max_steps=2", "train.optim.end_epoch=2")
    results = run_ablation(cfg, echo=lambda *_: None)
    assert list(results) == ["full", "gap", "no_guidance", "no_posefix"]
    for run in plan_runs(cfg):
        record = json.loads((run.folder / "run.json").read_text())
        model = load_trained(record["checkpoint"])           # strictly, into the variant's own architecture
        assert (model.config.regressor, model.config.pose_guidance) == (run.config.model.regressor,
                                                                        run.config.model.pose_guidance)
        assert record["steps"] == 2 and [p.name for p in (run.folder / "checkpoint").iterdir()] == ["snapshot_2.pth"]
        scores = record["scores"]
        assert set(scores) == {"clean", "heavy"}
        all_bin = scores["clean"]["all"]
        assert all_bin["count"] == sum(v["count"] for k, v in scores["clean"].items() if k.startswith("CI "))
        assert all(np.isfinite(all_bin[m]) and all_bin[m] > 0 for m in ("mpjpe", "pa_mpjpe", "mpvpe"))
        assert all_bin["pa_mpjpe"] <= all_bin["mpjpe"] + 1e-6
    table = (tmp_path / "ablation.md").read_text()
    assert all(f"| {v} | 1 |" in table for v in results)


def test_rerun_trains_only_the_changed_variant(tmp_path):
    variants = "variants=[{name: full, seeds: [0, 1]}, {name: gap, overrides: [model.regressor=gap], seeds: [0]}]"
    lines = []
    run_ablation(tiny(tmp_path, variants, "jobs=2"), echo=lines.append)   # the process pool
    assert sum("trained" in line for line in lines) == 3
    lines.clear()
    changed = variants.replace("model.regressor=gap", "model.regressor=gap, optim.lr=0.01")
    run_ablation(tiny(tmp_path, changed), echo=lines.append)
    status = {line.split(":")[0].split("] ")[1]: line for line in lines if line.startswith("[")}
    assert "cached" in status["full seed 0"] and "cached" in status["full seed 1"]
    assert "trained" in status["gap seed 0"]
    lines.clear()
    run_ablation(tiny(tmp_path, changed, "eval.noise=[moderate]"), echo=lines.append)   # new set: scored, not trained
    assert all("cached" in line for line in lines if line.startswith("["))
    assert "input 2D pose: moderate" in (tmp_path / "ablation.md").read_text()


def test_a_bad_variant_override_is_named_before_training(tmp_path):
    with pytest.raises(ConfigError, match="model.regresor"):
        tiny(tmp_path, "variants=[{name: typo, overrides: [model.regresor=gap]}]")
    assert not (tmp_path / "runs").exists()


def test_table_mean_and_seed_spread():
    def scores(v):
        return {"clean": {"all": {"mpjpe": v, "pa_mpjpe": v / 2, "mpvpe": v, "count": 5}}}
    results = {"full": [scores(100.0), scores(110.0), scores(120.0)], "gap": [scores(150.0)]}
    table = format_ablation(results)
    assert "| full | 3 | 110.0 ± 10.0 | 55.0 ± 5.0 | 110.0 ± 10.0 |" in table
    assert "| gap | 1 | 150.0 | 75.0 | 150.0 |" in table
    assert "all +40.0 (±10.0)" in format_differences(results)


def test_cli_names_a_bad_override_and_exits_2(tmp_path, capsys):
    from train.__main__ import main
    code = main(["ablate", "--config", "configs/train/ablation.yaml", f"output_dir={tmp_path}",
                 "variants=[{name: typo, overrides: [model.regresor=gap]}]"])
    assert code == 2 and "model.regresor" in capsys.readouterr().err
