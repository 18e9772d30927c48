"""`stream image` end to end, through the installed console script and in-process."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest
from typer.testing import CliRunner

from stream.cli.app import app

OUTPUTS = ("joint_img", "joint_score", "smpl_pose", "smpl_shape", "cam_param", "joint_proj", "smpl_mesh_cam",
           "mesh_cam_render", "cam_trans")
# fixture key -> people.npz key, compared exactly
PREPROCESSING = {"joints": "joints", "joints_mask": "joints_mask", "bbox": "bbox", "pre_bbox_tight": "bbox_tight",
                 "pre_img2bb_trans": "img2bb_trans", "pre_bb2img_trans": "bb2img_trans",
                 "pre_joints_valid": "joints_valid", "pre_coco19": "kpts"}


@pytest.fixture(scope="module")
def demo_poses(fixture_file, tmp_path_factory):
    poses = json.loads(fixture_file("official_parity/demo_io.json").read_text())["coco_poses"]
    path = tmp_path_factory.mktemp("poses") / "poses.json"
    path.write_text(json.dumps({"basketball1.png": poses}))
    return path


@pytest.fixture(scope="module")
def asset_args(fixture_file, official_checkpoint):
    return ["--checkpoint", str(official_checkpoint),
            "--smpl", str(fixture_file("official_parity/smpl_synthetic_neutral.pkl")),
            "--joint-regressor-extra", str(fixture_file("official_parity/J_regressor_extra.npy"))]


def stream_cmd(*args, cwd, env=None):
    exe = os.path.join(os.path.dirname(sys.executable), "stream")
    cmd = [exe] if os.path.exists(exe) else [sys.executable, "-m", "stream.cli.app"]
    return subprocess.run(cmd + list(args), cwd=cwd, capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, timeout=600)


def test_cli_matches_official_demo(fixture_file, demo_poses, asset_args, tmp_path):
    proc = stream_cmd("image", str(fixture_file("official_parity/basketball1.png")), "--poses", str(demo_poses),
                      *asset_args, "--out", str(tmp_path / "out"), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    people = np.load(tmp_path / "out" / "people.npz")
    ref = np.load(fixture_file("official_parity/demo_io.npz"))
    for ref_key, key in PREPROCESSING.items():
        np.testing.assert_array_equal(people[key], ref[ref_key].astype(people[key].dtype), err_msg=key)
    np.testing.assert_array_equal(people["crop_rgb"].transpose(0, 3, 1, 2) / np.float32(255), ref["img"])
    candidate = tmp_path / "candidate.npz"
    np.savez(candidate, **{"render_" + k: people[k] for k in OUTPUTS})
    check = subprocess.run([sys.executable, str(fixture_file("official_parity/check_parity.py")), str(candidate),
                            "--ref", str(fixture_file("official_parity/demo_io.npz")), "--keys",
                            *["render_" + k for k in OUTPUTS if "render_" + k in ref.files]],
                           capture_output=True, text=True)
    assert check.returncode == 0, check.stdout
    objs = sorted(p.name for p in (tmp_path / "out").glob("*.obj"))
    assert objs == ["person_0.obj", "person_1.obj"]
    verts = [l for l in (tmp_path / "out" / "person_1.obj").read_text().splitlines() if l.startswith("v ")]
    np.testing.assert_allclose(np.array([l.split()[1:] for l in verts], float), people["mesh_cam_render"][1], atol=1e-5)


def test_builtin_example_runs_with_labelled_standins(tmp_path):
    proc = stream_cmd("image", cwd=tmp_path, env={"CROWDMESH_HOME": str(tmp_path / "home")})
    assert proc.returncode == 0, proc.stderr
    assert "STAND-IN" in proc.stderr and "UNTRAINED" in proc.stderr
    people = np.load(tmp_path / "out" / "image" / "people.npz")
    assert people["index"].tolist() == [0, 1, 2]
    assert people["smpl_mesh_cam"].shape == (3, 6890, 3) and np.isfinite(people["smpl_mesh_cam"]).all()
    assert (people["joints_mask"].sum(axis=(1, 2)) >= 17).all()  # all 19 projected joints but a few in the crop
    assert (tmp_path / "out" / "image" / "overlay.png").stat().st_size > 0


@pytest.fixture()
def runner():
    return CliRunner()


def invoke(runner, *args):
    return runner.invoke(app, ["image", *map(str, args)])


def test_unreadable_image(runner, demo_poses, asset_args, tmp_path):
    bad = tmp_path / "basketball1.png"
    bad.write_text("not an image")
    res = invoke(runner, bad, "--poses", demo_poses, *asset_args, "--out", tmp_path / "o")
    assert res.exit_code == 2 and "could not be decoded" in res.output and str(bad) in res.output


def test_missing_image(runner, demo_poses, asset_args, tmp_path):
    res = invoke(runner, tmp_path / "nope.png", "--poses", demo_poses, *asset_args)
    assert res.exit_code == 2 and "nope.png does not exist" in res.output


def test_malformed_json(runner, fixture_file, asset_args, tmp_path):
    poses = tmp_path / "poses.json"
    poses.write_text("{not json")
    res = invoke(runner, fixture_file("official_parity/basketball1.png"), "--poses", poses, *asset_args)
    assert res.exit_code == 2 and "not valid JSON" in res.output


def test_poses_for_another_image(runner, fixture_file, asset_args, tmp_path):
    poses = tmp_path / "poses.json"
    poses.write_text(json.dumps({"other.jpg": []}))
    res = invoke(runner, fixture_file("official_parity/basketball1.png"), "--poses", poses, *asset_args)
    assert res.exit_code == 2 and "no entry for image 'basketball1.png'" in res.output and "other.jpg" in res.output


def test_wrong_joint_count(runner, fixture_file, asset_args, tmp_path):
    poses = tmp_path / "poses.json"
    poses.write_text(json.dumps({"basketball1.png": [[[1, 2, 0.9]] * 14]}))
    res = invoke(runner, fixture_file("official_parity/basketball1.png"), "--poses", poses, *asset_args)
    assert res.exit_code == 2 and "person 0: expected 17" in res.output


def test_zero_valid_people_is_not_an_error(runner, fixture_file, asset_args, tmp_path):
    poses = tmp_path / "poses.json"
    poses.write_text(json.dumps({"basketball1.png": [[[100, 100, 0.01]] * 17]}))
    res = invoke(runner, fixture_file("official_parity/basketball1.png"), "--poses", poses, *asset_args,
                 "--out", tmp_path / "o")
    assert res.exit_code == 0, res.output
    people = np.load(tmp_path / "o" / "people.npz")
    assert people["smpl_pose"].shape == (0, 72) and people["mesh_cam_render"].shape == (0, 6890, 3)


def test_missing_smpl_names_flag_and_source(runner, fixture_file, demo_poses, official_checkpoint, tmp_path):
    res = invoke(runner, fixture_file("official_parity/basketball1.png"), "--poses", demo_poses,
                 "--checkpoint", official_checkpoint, "--smpl", tmp_path / "SMPL_NEUTRAL.pkl",
                 "--joint-regressor-extra", fixture_file("official_parity/J_regressor_extra.npy"))
    assert res.exit_code == 2
    assert "SMPL_NEUTRAL.pkl" in res.output and "--smpl" in res.output and "smpl.is.tue.mpg.de" in res.output
