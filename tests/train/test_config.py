"""train.config: recipes load, overrides apply, unknown keys name themselves; the lr schedule."""
from pathlib import Path

import pytest

from train.config import ConfigError, TrainConfig, from_dict, load_config, to_dict

RECIPES = Path(__file__).resolve().parents[2] / "configs" / "train"


@pytest.mark.parametrize("name", ["3dpw_crowd", "3dpw", "synthetic"])
def test_recipes_load_and_round_trip(name):
    cfg = load_config(RECIPES / f"{name}.yaml")
    assert from_dict(TrainConfig, to_dict(cfg)) == cfg


def test_official_schedules():
    crowd = load_config(RECIPES / "3dpw_crowd.yaml")
    assert (crowd.optim.lr, crowd.optim.lr_backbone, crowd.optim.lr_decay_epochs, crowd.optim.end_epoch) == \
        (1e-4, 1e-4, (4, 6), 7)
    assert crowd.data.train == ("Human36M", "MuCo", "MSCOCO", "CrowdPose") and crowd.data.batch_size == 64
    pw3d = load_config(RECIPES / "3dpw.yaml")
    assert (pw3d.optim.lr, pw3d.optim.lr_backbone, pw3d.optim.lr_decay_epochs, pw3d.optim.end_epoch) == \
        (1e-3, 1e-4, (10,), 11)
    assert load_config(RECIPES / "synthetic.yaml").model.arch == "reduced"


def test_overrides_parse_yaml_values():
    cfg = load_config(RECIPES / "synthetic.yaml", ["optim.lr=3e-4", "optim.lr_decay_epochs=[2, 3]",
                                                   "data.synthetic.depth_range=[2, 5]", "amp=true"])
    assert cfg.optim.lr == 3e-4 and cfg.optim.lr_decay_epochs == (2, 3)
    assert cfg.data.synthetic.depth_range == (2.0, 5.0) and cfg.amp is True


def test_config_is_frozen():
    cfg = load_config(None)
    with pytest.raises(AttributeError):
        cfg.optim.lr = 1.0


def test_unknown_override_key_is_named():
    with pytest.raises(ConfigError, match=r"optim\.lrx"):
        load_config(None, ["optim.lrx=1"])


def test_unknown_yaml_key_is_named(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("data:\n  synthetic:\n    bogus: 1\n")
    with pytest.raises(ConfigError, match=r"data\.synthetic\.bogus"):
        load_config(path)


def test_wrong_type_is_named():
    with pytest.raises(ConfigError, match=r"data\.batch_size"):
        load_config(None, ["data.batch_size=big"])


def test_override_without_equals():
    with pytest.raises(ConfigError, match="dotted.key=value"):
        load_config(None, ["optim.lr"])


def test_missing_recipe_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.yaml"):
        load_config(tmp_path / "nope.yaml")


def test_body_files_have_the_stream_keys():
    from nets.body import BodyConfig
    from stream.config import PipelineConfig

    cfg = load_config(None, ["body.smpl=SMPL_NEUTRAL.pkl", "body.joint_regressor_extra=J_regressor_extra.npy"])
    assert cfg.body == BodyConfig("SMPL_NEUTRAL.pkl", "J_regressor_extra.npy")
    assert type(cfg.body) is type(PipelineConfig().body)
    assert load_config(None).body == BodyConfig(None, None)          # None: the stand-in body
    with pytest.raises(ConfigError, match=r"unknown config key model\.smpl_path"):
        load_config(None, ["model.smpl_path=SMPL_NEUTRAL.pkl"])


def test_not_given_is_none_and_checked():
    cfg = load_config(RECIPES / "demo.yaml")
    assert cfg.optim.max_steps is None and cfg.ray.fail_once_after_epoch is None and cfg.ray.storage_path is None
    with pytest.raises(ConfigError, match=r"optim: max_steps = 0: expected null \(the epochs decide\) or an int >= 1"):
        load_config(None, ["optim.max_steps=0"])
    with pytest.raises(ConfigError, match=r"model\.arch = 'tiny': expected one of \['official', 'reduced'\]"):
        load_config(None, ["model.arch=tiny"])
