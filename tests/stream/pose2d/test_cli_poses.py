"""`stream poses` end to end with the precomputed backend: video, image folder, single image, bad input."""
import json
import os
import subprocess
import sys

import cv2
import numpy as np
import pytest
from typer.testing import CliRunner

from stream.source.frames import FrameSource
from stream.pose2d.base import FramePoses
from stream.pose2d.precomputed import PrecomputedPoses, write_coco_results

runner = CliRunner()


def invoke(*args):
    from stream.cli.app import app

    return runner.invoke(app, ["poses", *map(str, args)])


def person(rng, w, h, joint_set="coco17", n=1):
    k = 17 if joint_set == "coco17" else 14
    xy = rng.uniform([0.2 * w, 0.2 * h], [0.8 * w, 0.8 * h], (n, k, 2))
    kpts = np.concatenate([xy, rng.uniform(0.5, 1, (n, k, 1))], axis=2)
    return FramePoses.from_keypoints(kpts, joint_set)


@pytest.fixture()
def clip_with_poses(h264_clip, tmp_path):
    video = h264_clip(n=10, size=(96, 64), fps=24)
    rng = np.random.default_rng(0)
    frames = {i: person(rng, 96, 64, "crowdpose14", n=i % 3) for i in range(10) if i != 4}
    write_coco_results(tmp_path / "in.json", frames.items())
    return video, tmp_path / "in.json"


def test_video_round_trip_and_drawn_video(clip_with_poses, tmp_path):
    video, poses = clip_with_poses
    res = invoke(video, "--backend", "precomputed", "--poses", poses, "--out", tmp_path / "out.json",
                 "--draw", tmp_path / "drawn.mp4", "--batch-size", 3)
    assert res.exit_code == 0, res.output
    assert "10 frames, 8 people (crowdpose14)" in res.output  # i % 3 people in frame i, none in 4
    src, out = PrecomputedPoses.from_file(poses), PrecomputedPoses.from_file(tmp_path / "out.json")
    assert out.id_kind == "index" and out.joint_set == "crowdpose14"
    for i in range(10):
        for key in ("keypoints", "boxes", "scores"):
            np.testing.assert_array_equal(getattr(out.get(i), key), getattr(src.get(i), key))
    drawn = list(FrameSource(tmp_path / "drawn.mp4"))
    plain = list(FrameSource(video))
    assert len(drawn) == len(plain) == 10 and drawn[0].bgr.shape == plain[0].bgr.shape
    assert FrameSource(tmp_path / "drawn.mp4").fps == 24
    changed = [int(np.abs(d.bgr.astype(int) - p.bgr.astype(int)).max() > 60) for d, p in zip(drawn, plain)]
    assert changed == [int(i % 3 > 0 and i != 4) for i in range(10)]  # skeletons exactly where people are


def test_image_folder_official_demo_poses_and_drawn_folder(tmp_path):
    folder = tmp_path / "imgs"
    folder.mkdir()
    for name in ("a.png", "b.png", "c.png"):
        cv2.imwrite(str(folder / name), np.full((40, 50), 90, np.uint8))  # grayscale files
    rng = np.random.default_rng(1)
    people = {n: person(rng, 50, 40, n=2).keypoints.tolist() for n in ("a.png", "c.png")}
    (tmp_path / "demo.json").write_text(json.dumps(people))
    res = invoke(folder, "--backend", "precomputed", "--poses", tmp_path / "demo.json", "--out", tmp_path / "o.json",
                 "--draw", tmp_path / "drawn")
    assert res.exit_code == 0, res.output
    records = json.loads((tmp_path / "o.json").read_text())
    assert [r["image_id"] for r in records] == ["a.png", "a.png", "c.png", "c.png"]
    np.testing.assert_array_equal(np.reshape(records[2]["keypoints"], (17, 3)), people["c.png"][0])
    assert sorted(p.name for p in (tmp_path / "drawn").iterdir()) == ["a.png", "b.png", "c.png"]
    assert (cv2.imread(str(tmp_path / "drawn" / "b.png")) == 90).all()   # no people, nothing drawn


def test_image_folder_with_index_keyed_poses(tmp_path):
    folder = tmp_path / "imgs"
    folder.mkdir()
    for i in range(3):
        cv2.imwrite(str(folder / f"f{i + 1}.jpg"), np.zeros((30, 30, 3), np.uint8))
    write_coco_results(tmp_path / "p.json", [(1, person(np.random.default_rng(2), 30, 30))])
    res = invoke(folder, "--backend", "precomputed", "--poses", tmp_path / "p.json", "--out", tmp_path / "o.json")
    assert res.exit_code == 0, res.output
    assert [r["image_id"] for r in json.loads((tmp_path / "o.json").read_text())] == ["f2.jpg"]


def test_single_image_drawn_to_png(tmp_path):
    cv2.imwrite(str(tmp_path / "x.png"), np.zeros((40, 60, 3), np.uint8))
    write_coco_results(tmp_path / "p.json", [("x.png", person(np.random.default_rng(3), 60, 40))])
    res = invoke(tmp_path / "x.png", "--backend", "precomputed", "--poses", tmp_path / "p.json",
                 "--out", tmp_path / "o.json", "--draw", tmp_path / "x_drawn.png")
    assert res.exit_code == 0, res.output
    drawn = cv2.imread(str(tmp_path / "x_drawn.png"))
    assert drawn.shape == (40, 60, 3) and drawn.any()


@pytest.mark.parametrize("args, message", [
    (["{tmp}/nope.mp4", "--backend", "precomputed", "--poses", "{tmp}/in.json"], "nope.mp4 does not exist"),
    (["{video}", "--backend", "precomputed"], "needs --poses"),
    (["{video}", "--backend", "precomputed", "--poses", "{tmp}/bad.json"], "bad.json is not valid JSON"),
    (["{video}", "--backend", "openpifpaf"], "unknown pose backend 'openpifpaf'"),
    (["{video}", "--backend", "precomputed", "--poses", "{tmp}/in.json", "--draw", "{tmp}/one.png"],
     "one image can hold one frame"),
    (["{video}", "--backend", "rtmo", "--checkpoint", "rtmo-l_crowdpose"], "stream assets get rtmo-l_crowdpose"),
])
def test_bad_input_exits_2_with_a_message(clip_with_poses, tmp_path, monkeypatch, args, message):
    monkeypatch.setenv("CROWDMESH_HOME", str(tmp_path / "home"))
    video, _ = clip_with_poses
    (tmp_path / "bad.json").write_text("[{")
    res = invoke(*[a.format(tmp=tmp_path, video=video) for a in args], "--out", tmp_path / "o.json")
    assert res.exit_code == 2 and message in res.output, res.output
    assert not (tmp_path / "o.json").exists()


def test_console_script_reports_errors(tmp_path):
    exe = os.path.join(os.path.dirname(sys.executable), "stream")
    cmd = [exe] if os.path.exists(exe) else [sys.executable, "-m", "stream.cli.app"]
    (tmp_path / "empty.png").write_bytes(b"")
    (tmp_path / "p.json").write_text("[]")
    proc = subprocess.run(cmd + ["poses", str(tmp_path / "empty.png"), "--backend", "precomputed", "--poses",
                                 str(tmp_path / "p.json"), "--out", str(tmp_path / "o.json")],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2 and "empty.png is an empty file" in proc.stderr
