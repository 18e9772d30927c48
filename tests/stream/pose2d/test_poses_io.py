"""COCO keypoint results and official demo JSON: round trips, parity with `stream image`, malformed files."""
import json

import numpy as np
import pytest

from nets.joints import joint_names
from stream.mesh.image import read_poses
from stream.pose2d.base import FramePoses, make_backend
from stream.pose2d.precomputed import (CocoResultsWriter, PosesFileError, PosesFileNotFoundError, PrecomputedPoses,
                             write_coco_results)


def random_frame(rng, n, joint_set="crowdpose14", dtype=np.float32) -> FramePoses:
    k = len(joint_names(joint_set))
    kpts = np.concatenate([rng.uniform(-50, 700, (n, k, 2)), rng.uniform(0, 1, (n, k, 1))], axis=2).astype(dtype)
    boxes = np.concatenate([rng.uniform(0, 600, (n, 2)), rng.uniform(1, 300, (n, 2))], axis=1).astype(dtype)
    return FramePoses(kpts, boxes, np.sort(rng.uniform(0, 1, n))[::-1].astype(dtype), joint_set)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_round_trip_by_frame_index(tmp_path, dtype):
    rng = np.random.default_rng(1)
    frames = {i: random_frame(rng, n, dtype=dtype) for i, n in enumerate([3, 0, 1, 5, 0])}
    n = write_coco_results(tmp_path / "p.json", frames.items())
    assert n == 9 and len(json.loads((tmp_path / "p.json").read_text())) == 9
    back = PrecomputedPoses.from_file(tmp_path / "p.json")
    assert back.joint_set == "crowdpose14" and back.id_kind == "index"
    got = back([np.zeros((2, 2, 3), np.uint8)] * 6, [0, 1, 2, 3, 4, 5])
    for i, fp in enumerate(got):
        want = frames.get(i, FramePoses.empty("crowdpose14"))
        assert fp.keypoints.shape == want.keypoints.shape and fp.joint_set == "crowdpose14"
        for key in ("keypoints", "boxes", "scores"):
            np.testing.assert_array_equal(getattr(fp, key).astype(dtype), getattr(want, key), err_msg=f"{i} {key}")


def test_float32_is_written_as_its_shortest_decimal(tmp_path):
    fp = FramePoses.from_keypoints(np.full((1, 17, 3), 0.92, np.float32), "coco17")
    write_coco_results(tmp_path / "p.json", [("a.jpg", fp)])
    rec = json.loads((tmp_path / "p.json").read_text())[0]
    assert rec["keypoints"][:3] == [0.92, 0.92, 0.92] and rec["image_id"] == "a.jpg" and rec["category_id"] == 1
    assert rec["joint_set"] == "coco17" and len(rec["bbox"]) == 4


def test_round_trip_by_image_name_ignores_folders(tmp_path):
    rng = np.random.default_rng(2)
    fp = random_frame(rng, 2, "coco17")
    write_coco_results(tmp_path / "p.json", [("shots/b.png", fp)])
    back = PrecomputedPoses.from_file(tmp_path / "p.json")
    assert back.id_kind == "name"
    np.testing.assert_array_equal(back.get("b.png").keypoints.astype(np.float32), fp.keypoints)
    assert len(back.get("c.png")) == 0


def test_official_demo_json_gives_stream_image_inputs_exactly(fixture_file, tmp_path):
    demo = json.loads(fixture_file("official_parity/demo_io.json").read_text())
    path = tmp_path / "poses.json"
    path.write_text(json.dumps({demo["image"]: demo["coco_poses"]}))
    backend = make_backend("precomputed", poses=path)
    (fp,) = backend([np.zeros((480, 640, 3), np.uint8)], [demo["image"]])
    people = read_poses(path, demo["image"])
    assert fp.joint_set == "coco17" and fp.keypoints.dtype == np.float64 and len(fp) == len(people) == 2
    np.testing.assert_array_equal(fp.keypoints, np.stack(people))
    ref = np.load(fixture_file("official_parity/demo_io.npz"))
    np.testing.assert_array_equal(fp.keypoints, ref["pre_coco17_raw"])


def test_external_estimator_records(tmp_path):
    # AlphaPose-style: file-name ids, no bbox, no joint_set; mmpose/ViTPose-style: int ids, no bbox
    kp = np.arange(51, dtype=float).reshape(17, 3) / 51
    path = tmp_path / "alphapose.json"
    path.write_text(json.dumps([{"image_id": "0.jpg", "category_id": 1, "keypoints": kp.ravel().tolist(),
                                 "score": 2.7}]))
    fp = PrecomputedPoses.from_file(path).get("0.jpg")
    assert fp.joint_set == "coco17" and fp.scores.tolist() == [2.7]
    np.testing.assert_allclose(fp.boxes[0], [kp[:, 0][kp[:, 2] > 0].min(), kp[:, 1][kp[:, 2] > 0].min(),
                                             np.ptp(kp[kp[:, 2] > 0, 0]), np.ptp(kp[kp[:, 2] > 0, 1])])
    path.write_text(json.dumps([{"image_id": 4, "keypoints": kp.ravel().tolist()}]))
    back = PrecomputedPoses.from_file(path)
    assert back.id_kind == "index" and back.get(4).scores[0] == pytest.approx(kp[:, 2].mean())


def test_writer_leaves_no_file_on_error(tmp_path):
    with pytest.raises(RuntimeError):
        with CocoResultsWriter(tmp_path / "p.json") as out:
            out.write(0, FramePoses.from_keypoints(np.ones((1, 17, 3)), "coco17"))
            raise RuntimeError("backend crashed")
    assert list(tmp_path.iterdir()) == []


def test_writer_refuses_nan(tmp_path):
    kpts = np.ones((1, 17, 3), np.float32)
    kpts[0, 3, 0] = np.nan
    with pytest.raises(ValueError, match="frame 7, person 0: NaN or inf"):
        write_coco_results(tmp_path / "p.json", [(7, FramePoses(kpts, np.ones((1, 4)), np.ones(1), "coco17"))])


GOOD = {"image_id": 0, "category_id": 1, "keypoints": [1.0, 2.0, 0.5] * 17, "score": 0.9}


@pytest.mark.parametrize("records, match", [
    ([GOOD, [1, 2]], "record 1: expected an object"),
    ([{**GOOD, "image_id": None}], "record 0: image_id"),
    ([{**GOOD, "image_id": True}], "record 0: image_id"),
    ([{**GOOD, "keypoints": [1, 2]}], r"record 0 \(image_id 0\): expected \"keypoints\" as a flat list"),
    ([{**GOOD, "keypoints": "abc"}], "expected \"keypoints\""),
    ([{**GOOD, "keypoints": [1.0, 2.0, 0.5] * 15}], "15 keypoints match no joint set"),
    ([GOOD, {**GOOD, "joint_set": "crowdpose14"}], "record 1 .*joint_set 'crowdpose14', expected 'coco17'"),
    ([{**GOOD, "joint_set": "h36m"}], "unknown joint_set 'h36m'"),
    ([{**GOOD, "joint_set": "crowdpose14"}], "17 keypoints, expected 14 \\(crowdpose14\\)"),
    ([{**GOOD, "score": "high"}], "expected \"score\" as a finite number"),
    ([{**GOOD, "bbox": [1, 2, 3]}], "expected \"bbox\" as 4 finite numbers"),
    ([{**GOOD, "category_id": 2}], "category_id 2 is not 1"),
])
def test_malformed_coco_records(tmp_path, records, match):
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(records))
    with pytest.raises(PosesFileError, match=match) as err:
        PrecomputedPoses.from_file(path)
    assert str(path) in str(err.value)


def test_non_finite_keypoints(tmp_path):
    path = tmp_path / "bad.json"
    path.write_text(json.dumps([{**GOOD, "keypoints": [float("nan"), 1.0, 1.0] * 17}]))
    with pytest.raises(PosesFileError, match="record 0 .*finite"):
        PrecomputedPoses.from_file(path)


def test_asked_joint_set_must_match(tmp_path):
    path = tmp_path / "p.json"
    path.write_text(json.dumps([GOOD]))
    with pytest.raises(PosesFileError, match="record 0 .*17 keypoints, expected 14 \\(crowdpose14\\)"):
        PrecomputedPoses.from_file(path, joint_set="crowdpose14")


@pytest.mark.parametrize("text, error, match", [
    ("{not json", PosesFileError, "is not valid JSON"),
    ("42", PosesFileError, "expected a list .* or an object"),
    ('{"a.png": [[[1, 2, 0.5]]]}', PosesFileError, r"image 'a.png', person 0: expected 17"),
    ('{"a.png": {"x": 1}}', PosesFileError, r"image 'a.png': expected a list of people"),
])
def test_malformed_files(tmp_path, text, error, match):
    path = tmp_path / "bad.json"
    path.write_text(text)
    with pytest.raises(error, match=match):
        PrecomputedPoses.from_file(path)


def test_missing_file(tmp_path):
    with pytest.raises(PosesFileNotFoundError, match="nope.json does not exist"):
        PrecomputedPoses.from_file(tmp_path / "nope.json")
    with pytest.raises(FileNotFoundError, match="needs --poses"):
        make_backend("precomputed", poses=None)
