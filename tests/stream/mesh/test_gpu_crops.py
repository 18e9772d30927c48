"""Crops warped in torch (``warp_crops``, MeshStage ``crop_device="gpu"``) vs OpenCV's, run on CPU tensors.

The torch warp samples at exact positions and keeps float values; cv2.warpAffine rounds positions to
1/32 pixel and values to uint8. The differences are below a few grey levels at sharp edges.
"""
import json
from types import SimpleNamespace

import cv2
import numpy as np
import pytest
import torch
from store_compare import assert_same_store

from nets.crops import crop_people, warp_crops
from stream.mesh.stage import concat_rows

CAMERA = (320.0, (159.5, 119.5))    # the pipeline clip's (320x240) default camera


def grey_level_diff(torch_crops: torch.Tensor, cv2_crops: np.ndarray) -> tuple[float, float]:
    """(max, mean) |difference| in grey levels of 255."""
    diff = np.abs(torch_crops.numpy() - cv2_crops) * 255
    return float(diff.max()), float(diff.mean())


@pytest.fixture(scope="module")
def basketball(fixtures_dir):
    folder = fixtures_dir / "official_parity"
    poses = json.loads((folder / "demo_io.json").read_text())["coco_poses"]
    return cv2.imread(str(folder / "basketball1.png")), [np.array(p, dtype=np.float64) for p in poses]


@pytest.fixture(scope="module")
def crowd_frame():
    """One 1280x720 frame of a synthetic 20-person crowd (flat shading: sharp edges) and its COCO-17 truth."""
    from nets.body import BodyModel
    from nets.standin import make_standin_body
    from nets.synth import CrowdConfig, make_crowd

    frames = []
    crowd = make_crowd(BodyModel(*make_standin_body()), CrowdConfig(people=20, frames=1, width=1280, height=720,
                                                                    seed=4),
                       on_frame=lambda t, bgr, mesh_id: frames.append(bgr))
    return frames[0], list(crowd.keypoints2d["coco17"][0])


# measured: basketball1.png (2 people, crops downsampled about 2x) max 2.14, mean 0.148 grey levels;
# the crowd frame (20 people, boxes 69-513 px, upsampled up to 3.7x) max 4.83, mean 0.130
@pytest.mark.parametrize("image, max_diff", [("basketball", 3.0), ("crowd_frame", 6.0)])
def test_warp_crops_match_opencv(image, max_diff, request):
    bgr, poses = request.getfixturevalue(image)
    ref = crop_people(bgr, poses, "coco17")
    assert len(ref["index"]) >= 2
    crops = warp_crops(torch.from_numpy(bgr), ref["bb2img_trans"], 256)
    assert crops.shape == ref["img"].shape and crops.dtype == torch.float32
    worst, mean = grey_level_diff(crops, ref["img"])
    assert worst < max_diff and mean < 0.2


def test_crop_people_without_warp_is_the_same_but_img(basketball):
    bgr, poses = basketball
    ref, geometry = crop_people(bgr, poses, "coco17"), crop_people(bgr, poses, "coco17", warp=False)
    assert set(ref) - set(geometry) == {"img"}
    for key, value in geometry.items():
        np.testing.assert_array_equal(value, ref[key], err_msg=key)
    assert "img" not in crop_people(bgr, [], "coco17", warp=False)


def test_warp_crops_of_no_people_and_outside_the_image():
    frame = torch.full((40, 60, 3), 200, dtype=torch.uint8)
    assert warp_crops(frame, np.zeros((0, 2, 3), np.float32), 16).shape == (0, 3, 16, 16)
    far = np.array([[[1, 0, 500], [0, 1, 500]]], np.float32)     # every sample far outside: zeros, as cv2
    inside = np.array([[[1, 0, 10], [0, 1, 10]]], np.float32)
    crops = warp_crops(frame, np.concatenate((far, inside)), 16)
    assert crops[0].abs().max() == 0 and torch.allclose(crops[1], torch.tensor(200 / 255))


def test_mesh_stage_gpu_crops_match_cpu_crops(pipeline_config, pipeline_clip):
    from stream.source.frames import FrameSource
    from stream.pipeline.setup import load_mesh_stage
    from stream.pose2d.precomputed import PrecomputedPoses

    cpu = load_mesh_stage(pipeline_config(), "coco17")             # crop_device auto on a CPU model: cpu
    gpu = load_mesh_stage(pipeline_config("model.crop_device=gpu"), "coco17")
    assert (cpu.crop_device, gpu.crop_device) == ("cpu", "gpu")
    poses = PrecomputedPoses.from_file(pipeline_clip.detections["coco17"])
    jobs = {"cpu": [], "gpu": []}
    for frame, _ in zip(FrameSource(str(pipeline_clip.video)), range(4)):
        p = poses.get(frame.index)
        people = [SimpleNamespace(track_id=10 + i, keypoints=k, box=b, score=s)
                  for i, (k, b, s) in enumerate(zip(p.keypoints, p.boxes, p.scores))]
        jobs["cpu"].append(cpu.crops(frame.index, frame.bgr, people, CAMERA))
        jobs["gpu"].append(gpu.crops(frame.index, frame.bgr, people, CAMERA))
    a, b = concat_rows(jobs["cpu"]), concat_rows(jobs["gpu"])
    assert isinstance(b["img"], torch.Tensor) and b["img"].shape == a["img"].shape and len(a["img"]) >= 8
    worst, mean = grey_level_diff(b["img"], a["img"])
    assert worst < 6.0 and mean < 0.3      # measured: max 3.55-3.68, mean 0.224 (128² crops of 320x240 frames)
    for key in ("joints", "joints_mask", "crop_bbox", "track_id", "keypoints2d", "bbox", "score", "focal"):
        np.testing.assert_array_equal(b[key], a[key], err_msg=key)
    out_a, out_b = cpu(a), gpu(b)
    np.testing.assert_array_equal(out_b["track_id"], out_a["track_id"])
    # measured max |diff| (untrained reduced model): smpl_pose 6.9e-5 rad, betas 3e-6, cam_trans and joints
    # 5.7e-5 m (values up to 48 m)
    for key in ("smpl_pose", "smpl_betas", "cam_trans", "joints3d"):
        assert isinstance(out_b[key], np.ndarray)
        np.testing.assert_allclose(out_b[key], out_a[key], atol=1e-3, err_msg=key)


def test_run_local_with_gpu_crops_is_close_to_cpu_crops(pipeline_config, reference_store):
    from stream.pipeline.local import run_local

    store = run_local(pipeline_config("model.crop_device=gpu")).store
    # measured max |diff|: smpl_pose 1.0e-4 rad, betas 4.9e-6, cam_trans 7e-6 m, joints3d 1.2e-4 m
    assert_same_store(store, reference_store, atol=1e-3)


def test_mesh_stage_rejects_an_unresolved_crop_device(pipeline_config):
    from stream.pipeline.setup import load_mesh_stage
    from stream.mesh.stage import MeshStage

    model = load_mesh_stage(pipeline_config(), "coco17").model
    with pytest.raises(ValueError, match="crop_device = 'auto': expected 'cpu' or 'gpu'"):
        MeshStage(model, "coco17", crop_device="auto")
