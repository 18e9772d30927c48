"""`stream synth`: a decodable H.264 clip, ground truth that matches it, detections the pose stage reads."""
from __future__ import annotations

import av
import numpy as np
import pytest
from typer.testing import CliRunner

from nets.synth import CrowdConfig, make_crowd, render
from stream.cli.app import app
from stream.source.frames import FrameSource
from stream.pose2d.precomputed import PrecomputedPoses

runner = CliRunner()
ARGS = ["--people", "3", "--frames", "12", "--fps", "24", "--size", "160x96", "--seed", "1"]


@pytest.fixture(scope="module")
def standin_body():
    from nets.body import BodyModel
    from nets.standin import make_standin_body

    return BodyModel(*make_standin_body())


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    out = tmp_path_factory.mktemp("synth") / "clip"
    res = runner.invoke(app, ["synth", str(out), *ARGS, "--noise", "moderate"])
    assert res.exit_code == 0, res.output
    return out, res.output


def test_writes_the_files_and_reports_occlusion(clip):
    out, output = clip
    names = {"clip.mp4", "truth.npz", "detections_coco17.json", "detections_crowdpose14.json",
             "truth_coco17.json", "truth_crowdpose14.json"}
    assert names <= {p.name for p in out.iterdir()}
    assert "12 frames, 160x96, 24 fps, 3 people" in output and "occlusion:" in output


def test_video_is_h264_with_the_requested_frames_size_and_fps(clip, standin_body):
    out, _ = clip
    with av.open(str(out / "clip.mp4")) as container:
        assert container.streams.video[0].codec_context.name == "h264"
    source = FrameSource(out / "clip.mp4")
    frames = [f.bgr for f in source]
    assert len(frames) == 12 and frames[0].shape == (96, 160, 3)
    assert source.fps == pytest.approx(24.0)
    crowd = make_crowd(standin_body, CrowdConfig(people=3, frames=12, fps=24, width=160, height=96, seed=1))
    for t in (0, 11):
        rendered, _ = render(crowd, t)
        assert np.abs(frames[t].astype(float) - rendered).mean() < 4.0  # the same picture, through H.264


def test_truth_npz_matches_the_generator(clip, standin_body):
    out, _ = clip
    truth = np.load(out / "truth.npz")
    crowd = make_crowd(standin_body, CrowdConfig(people=3, frames=12, fps=24, width=160, height=96, seed=1))
    for key in ("smpl_pose", "betas", "trans", "joints3d", "boxes", "present", "occlusion", "K", "R", "t"):
        np.testing.assert_array_equal(truth[key], crowd.arrays()[key], err_msg=key)
    for name in ("coco17", "crowdpose14", "smpl30"):
        np.testing.assert_array_equal(truth[f"keypoints2d_{name}"], crowd.keypoints2d[name])
    assert truth["fps"] == 24 and (truth["width"], truth["height"]) == (160, 96)
    assert str(truth["body"]) == "standin"


@pytest.mark.parametrize("joint_set", ["coco17", "crowdpose14"])
def test_json_reads_back_as_precomputed_poses(clip, joint_set):
    out, _ = clip
    truth = np.load(out / "truth.npz")
    dets = PrecomputedPoses.from_file(out / f"detections_{joint_set}.json")
    assert dets.joint_set == joint_set and dets.id_kind == "index"
    records = truth[f"detections_{joint_set}_truth"]
    assert sum(len(dets.get(t)) for t in range(12)) == len(records) > 0
    exact = PrecomputedPoses.from_file(out / f"truth_{joint_set}.json")
    kp = truth[f"keypoints2d_{joint_set}"]
    for t in range(12):
        poses = exact.get(t)
        people = np.flatnonzero(truth["present"][t] & (kp[t, :, :, 2] > 0).any(-1))
        assert len(poses) == len(people)
        for person, n in zip(poses.keypoints, people):
            visible = kp[t, n, :, 2] > 0
            np.testing.assert_array_equal(person[visible, :2].astype(np.float32), kp[t, n, visible, :2])
            assert (person[visible, 2] == 1).all() and (person[~visible] == 0).all()


@pytest.mark.parametrize("args, message", [
    (["--size", "0x10"], "--size"),
    (["--size", "wide"], "WIDTHxHEIGHT"),
    (["--size", "161x96"], "even"),
    (["--people", "0"], "people"),
    (["--frames", "0"], "frames"),
    (["--fps", "0"], "fps"),
    (["--noise", "loud"], "moderate"),
])
def test_bad_arguments_exit_2_with_a_message(tmp_path, args, message):
    res = runner.invoke(app, ["synth", str(tmp_path / "out"), "--frames", "2", *args])
    assert res.exit_code == 2 and message in res.output, res.output
    assert not (tmp_path / "out" / "clip.mp4").exists()
