"""Native RTMO against the rtmo_parity fixture (mmpose 1.3.2 outputs), through the project's loader."""
import subprocess
import sys
from dataclasses import replace

import cv2
import numpy as np
import pytest
import torch

from nets.rtmo.model import RTMO, SIZES, config_from_state, read_mmpose_checkpoint
from stream.pose2d.rtmo import RtmoBackend, letterbox

IMAGES = ("basketball1.png", "basketball2.png", "basketball2_crop_tint.png")
MODELS = ("rtmo-s_crowdpose", "rtmo-l_body7")
RAW = {"cls": "raw_cls_score", "bbox": "raw_bbox_pred", "vis": "raw_kpt_vis"}


@pytest.fixture(scope="module")
def images(fixture_file):
    return [cv2.imread(str(fixture_file(f"rtmo_parity/{name}")), cv2.IMREAD_COLOR) for name in IMAGES]


@pytest.fixture(scope="module", params=MODELS)
def model_name(request):
    return request.param


@pytest.fixture(scope="module")
def backend(model_name, rtmo_checkpoint):
    return RtmoBackend(rtmo_checkpoint(model_name), device="cpu", batch_size=len(IMAGES))


def candidate(backend, images, reference) -> dict:
    """Every key check_rtmo_parity.py knows, from one batched run of the backend."""
    out = {"image_names": reference["image_names"]}
    for i, (inst, boxed, centre, scale) in enumerate(backend.detect(images)):
        d, p = inst.debug, f"img{i}_"
        poses = backend.to_frame_poses(inst, boxed, centre, scale)
        xyxy = poses.boxes.astype(np.float64)
        xyxy[:, 2:] += xyxy[:, :2]
        out.update({p + "input_u8": boxed.transpose(2, 0, 1)[None], p + "input_center": centre,
                    p + "input_scale": np.array([scale, scale]), p + "keypoints": poses.keypoints[..., :2],
                    p + "keypoint_scores": poses.keypoints[..., 2], p + "bboxes": xyxy,
                    p + "bbox_scores": poses.scores, p + "pred_keypoints_input": inst.keypoints,
                    p + "dcc_keypoints_input": inst.keypoints, p + "pred_bboxes_input": inst.bboxes})
        for name in ("all_scores", "cand_idx", "cand_scores", "cand_bboxes", "nms_keep", "final_anchor_idx",
                     "dcc_pose_vecs", "dcc_bbox_cs", "dcc_grids"):
            out[p + name] = d[name]
        for ours, theirs in RAW.items():
            for level, x in enumerate(d["raw"][ours]):
                out[p + f"{theirs}{level}"] = x[None]
        dcc = d["dcc"]
        for name in ("kpt_feats_pre_gau", "kpt_feats", "x_logits", "y_logits", "x_hms", "y_hms"):
            out[p + "dcc_" + name] = dcc[name][:4].reshape(len(dcc[name][:4]), -1) if name == "kpt_feats_pre_gau" \
                else dcc[name][:4]
        out[p + "dcc_x_bins_enc0"], out[p + "dcc_y_bins_enc0"] = dcc["x_bins_enc"][0], dcc["y_bins_enc"][0]
        refin = backend.model.head.dcc(*(torch.from_numpy(reference[p + k]) for k in
                                         ("dcc_pose_vecs", "dcc_bbox_cs", "dcc_grids")))
        out[p + "dcc_keypoints_refin"] = refin["keypoints"]
        out["priors"], out["strides"] = d["priors"], d["strides"]
    return {k: v.detach().cpu().numpy() if isinstance(v, torch.Tensor) else np.asarray(v) for k, v in out.items()}


def test_parity_with_mmpose(backend, images, model_name, fixture_file, tmp_path):
    """Raw head maps, candidates, NMS, DCC and final instances pass the fixture's checker (--require-all)."""
    ref_path = fixture_file(f"rtmo_parity/{model_name}_io.npz")
    with torch.inference_mode():
        cand = candidate(backend, images, np.load(ref_path))
    np.savez(tmp_path / "mine.npz", **cand)
    proc = subprocess.run([sys.executable, str(fixture_file("rtmo_parity/check_rtmo_parity.py")),
                           str(tmp_path / "mine.npz"), "--ref", str(ref_path), "--require-all"],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr
    assert "FAIL" not in proc.stdout


def test_letterbox_is_mmpose_input_exactly(images, fixture_file):
    ref = np.load(fixture_file("rtmo_parity/rtmo-s_crowdpose_io.npz"))
    for i, image in enumerate(images):
        boxed, centre, scale = letterbox(image)
        np.testing.assert_array_equal(boxed.transpose(2, 0, 1)[None], ref[f"img{i}_input_u8"])
        np.testing.assert_allclose(centre, ref[f"img{i}_input_center"])
        assert scale == ref[f"img{i}_input_scale"][0]


def test_batched_frames_equal_single_frames(backend, images):
    batched = backend(images)
    singles = [backend([image])[0] for image in images]
    for b, s in zip(batched, singles):
        assert_same_people(b, s)


def assert_same_people(a, b):
    """Equal up to the fixture's tolerances (scores 5e-5, boxes 5e-3 px, keypoints 0.3 px / 2e-5)."""
    assert len(a) == len(b) > 0
    np.testing.assert_allclose(a.scores, b.scores, atol=5e-5)
    np.testing.assert_allclose(a.boxes, b.boxes, atol=5e-3)
    np.testing.assert_allclose(a.keypoints[..., 2], b.keypoints[..., 2], atol=2e-5)
    np.testing.assert_allclose(a.keypoints[..., :2], b.keypoints[..., :2], atol=0.3)


def test_fused_model_equals_unfused(rtmo_checkpoint, images):
    path = rtmo_checkpoint("rtmo-s_crowdpose")
    plain = RtmoBackend(path, device="cpu", fuse=False)(images[:1])[0]
    fused = RtmoBackend(path, device="cpu", fuse=True)(images[:1])[0]
    assert len(plain) == len(fused) > 0
    np.testing.assert_allclose(plain.scores, fused.scores, atol=5e-5)
    np.testing.assert_allclose(plain.keypoints[..., :2], fused.keypoints[..., :2], atol=0.3)


def test_shape_read_from_checkpoint(rtmo_checkpoint):
    state, meta = read_mmpose_checkpoint(rtmo_checkpoint("rtmo-s_crowdpose"))
    assert config_from_state(state) == replace(SIZES["s"], num_keypoints=14)
    assert meta["dataset_meta"]["num_keypoints"] == 14
    l_state, _ = read_mmpose_checkpoint(rtmo_checkpoint("rtmo-l_body7"))
    assert config_from_state(l_state).joint_set == "coco17"
    assert config_from_state(l_state) == SIZES["l"]


def test_numpy_meta_checkpoint_loads_without_unsafe_pickle(fixture_file, tmp_path):
    """Files written by mmpose training keep numpy arrays in meta; they load with weights_only=True."""
    out = tmp_path / "numpy_meta.pth"
    subprocess.run([sys.executable, str(fixture_file("rtmo_parity/make_rtmo_checkpoint.py")), "--model",
                    "rtmo-s_crowdpose", "--out", str(out), "--numpy-meta"], check=True, capture_output=True)
    model = RTMO.from_checkpoint(out)
    assert model.config.joint_set == "crowdpose14"


def test_wrong_checkpoint_lists_keys(rtmo_checkpoint, tmp_path):
    from nets.checkpoint import CheckpointError

    state, meta = read_mmpose_checkpoint(rtmo_checkpoint("rtmo-s_crowdpose"))
    state.pop("head.dcc.x_fc.weight")
    state["head.extra.weight"] = torch.zeros(1)
    torch.save({"state_dict": state, "meta": meta}, tmp_path / "broken.pth")
    with pytest.raises(CheckpointError, match=r"missing \(1\): head.dcc.x_fc.weight.*unexpected \(1\): head.extra"):
        RTMO.from_checkpoint(tmp_path / "broken.pth")
    with pytest.raises(FileNotFoundError, match="stream assets"):
        RTMO.from_checkpoint(tmp_path / "absent.pth")


def test_odd_frames_give_results_or_clear_errors(rtmo_checkpoint, images):
    from stream.pose2d.base import FrameError

    backend = RtmoBackend(rtmo_checkpoint("rtmo-s_crowdpose"), device="cpu")
    gray = cv2.cvtColor(images[0], cv2.COLOR_BGR2GRAY)
    reference = backend([images[0]])[0]
    same = backend([gray, (gray.astype(np.uint16) * 257), np.dstack([images[0], np.full_like(gray, 255)])])
    for poses in same:  # grayscale, 16-bit and BGRA versions of the same picture find the same people
        assert_same_people(poses, reference)
    tiny = backend([np.zeros((1, 1, 3), np.uint8)])[0]
    assert tiny.keypoints.shape[1:] == (14, 3) and np.isfinite(tiny.keypoints).all()
    with pytest.raises(FrameError, match="frame 7: the image is empty"):
        backend([np.zeros((0, 5, 3), np.uint8)], frame_ids=[7])
    with pytest.raises(FrameError, match=r"expected an image of shape"):
        backend([np.zeros((4, 4, 2), np.uint8)])


def test_stream_poses_rtmo_cli_writes_what_the_backend_finds(rtmo_checkpoint, fixture_file, images, tmp_path):
    """`stream poses IMAGE --backend rtmo` -> COCO results that read back as the backend's own people."""
    from typer.testing import CliRunner

    from stream.cli.app import app
    from stream.pose2d.precomputed import PrecomputedPoses

    image, checkpoint = fixture_file("rtmo_parity/basketball1.png"), rtmo_checkpoint("rtmo-s_crowdpose")
    res = CliRunner().invoke(app, ["poses", str(image), "--backend", "rtmo", "--checkpoint",
                                   str(checkpoint), "--device", "cpu", "--out",
                                   str(tmp_path / "poses.json"), "--draw", str(tmp_path / "drawn.png")])
    assert res.exit_code == 0, res.output
    read = PrecomputedPoses.from_file(tmp_path / "poses.json")
    assert read.joint_set == "crowdpose14"
    assert_same_people(read.get(image.name), RtmoBackend(checkpoint, device="cpu")(images[:1])[0])
    drawn = cv2.imread(str(tmp_path / "drawn.png"))
    assert drawn.shape == images[0].shape and np.abs(drawn.astype(int) - images[0]).max() > 60
