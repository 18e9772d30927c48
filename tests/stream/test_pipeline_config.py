"""stream.config: configs/pipeline.yaml holds the defaults; overrides, unknown keys and bad values name themselves."""
from pathlib import Path

import pytest
import yaml

from nets.config import ConfigError, from_dict, to_dict
from stream.config import POSE_BACKENDS, PipelineConfig, load_pipeline_config
from trackers.config import TrackerConfig

PIPELINE_YAML = Path(__file__).resolve().parents[2] / "configs" / "pipeline.yaml"


def test_yaml_holds_the_defaults():
    assert yaml.safe_load(PIPELINE_YAML.read_text()) == to_dict(PipelineConfig())   # every key, every default
    cfg = load_pipeline_config(PIPELINE_YAML)
    assert cfg == PipelineConfig()
    assert cfg.tracker == TrackerConfig() and cfg.camera.focal is None and cfg.smoothing.enabled is False
    assert from_dict(PipelineConfig, to_dict(cfg)) == cfg


def test_asset_and_backend_overrides():
    cfg = load_pipeline_config(PIPELINE_YAML, ["model.checkpoint=x", "pose2d.backend=precomputed",
                                               "pose2d.poses=p.json", "body.smpl=SMPL_NEUTRAL.pkl",
                                               "model.max_wait_ms=5", "camera.focal=1.2e3",
                                               "tracker.distance_threshold=0.5", "smoothing.enabled=true"])
    assert (cfg.model.checkpoint, cfg.pose2d.backend, cfg.pose2d.poses) == ("x", "precomputed", "p.json")
    assert cfg.body.smpl == "SMPL_NEUTRAL.pkl" and cfg.model.max_wait_ms == 5.0
    assert cfg.camera.focal == 1200.0 and cfg.tracker.distance_threshold == 0.5 and cfg.smoothing.enabled is True
    assert cfg.model.max_batch == PipelineConfig().model.max_batch     # untouched keys keep their defaults


def test_config_is_frozen():
    with pytest.raises(AttributeError):
        load_pipeline_config().model.max_batch = 1


def test_unknown_override_key_is_named():
    with pytest.raises(ConfigError, match=r"unknown config key model\.checkpont"):
        load_pipeline_config(None, ["model.checkpont=x"])


def test_unknown_yaml_key_is_named(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("tracker:\n  distance_treshold: 0.5\n")
    with pytest.raises(ConfigError, match=r"tracker\.distance_treshold"):
        load_pipeline_config(path)


def test_bad_backend_lists_the_valid_ones():
    with pytest.raises(ConfigError, match=r"pose2d\.backend = 'openpose'.*'rtmo', 'mmpose', 'precomputed'"):
        load_pipeline_config(None, ["pose2d.backend=openpose"])
    assert POSE_BACKENDS == ("rtmo", "mmpose", "precomputed")


def test_precomputed_needs_poses():
    with pytest.raises(ConfigError, match=r"pose2d: .*pose2d\.poses"):
        load_pipeline_config(None, ["pose2d.backend=precomputed"])


def test_section_validation_is_a_config_error():
    with pytest.raises(ConfigError, match=r"tracker: hit_counter_max = 1: expected an int > birth_delay \(1\)"):
        load_pipeline_config(None, ["tracker.hit_counter_max=1"])
    with pytest.raises(ConfigError, match=r"tracker\.kalman = 'fast': expected one of \['optimized', 'filterpy', 'none'"):
        load_pipeline_config(None, ["tracker.kalman=fast"])
    with pytest.raises(ConfigError, match=r"model\.crop_device = 'tpu': expected one of \['auto', 'cpu', 'gpu'\]"):
        load_pipeline_config(None, ["model.crop_device=tpu"])
    with pytest.raises(ConfigError, match=r"ray: max_frames_in_flight = 0"):
        load_pipeline_config(None, ["ray.max_frames_in_flight=0"])
    with pytest.raises(ConfigError, match=r"camera\.focal: expected a number"):
        load_pipeline_config(None, ["camera.focal=wide"])


def test_focal_rule():
    assert load_pipeline_config().camera.intrinsics(640, 360) == (640.0, (319.5, 179.5))
    assert load_pipeline_config().camera.intrinsics(360, 641) == (641.0, (179.5, 320.0))
    assert load_pipeline_config(None, ["camera.focal=800"]).camera.intrinsics(640, 360)[0] == 800.0
    with pytest.raises(ValueError, match="0x10"):
        load_pipeline_config().camera.intrinsics(0, 10)


def test_not_given_is_none():
    """None means not given: the default, `key=` on the command line, and an empty string in a path field."""
    cfg = load_pipeline_config(None, ["model.checkpoint=x.pth", "model.checkpoint=", 'pose2d.poses=""', "output="])
    assert cfg.model.checkpoint is None and cfg.pose2d.poses is None and cfg.output is None
    assert (cfg.input, cfg.body.smpl, cfg.body.joint_regressor_extra, cfg.ray.address) == (None, None, None, None)


def test_direct_construction_names_the_class():
    from stream.config import RayConfig
    with pytest.raises(ConfigError, match=r"^RayConfig\.max_inputs = 0: expected an int >= 1$"):
        RayConfig(max_inputs=0)
