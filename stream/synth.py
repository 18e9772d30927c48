"""Synthetic crowd clips on disk: an H.264 video, its ground truth and simulated detections.

    summary = write_synthetic_clip("out/synth", CrowdConfig(people=8, frames=300), noise="moderate")

writes into ``out_dir``:

- ``clip.mp4``: H.264 (yuv420p) at the config's size and fps; frame t is ``nets.synth.render(crowd, t)``.
- ``truth.npz``: the ground truth of ``nets.synth.crowd`` (camera frame, metres; T frames, N people):
  ``ids`` (N,), ``smpl_pose`` (T,N,72), ``betas`` (N,10), ``trans`` (T,N,3), ``joints3d`` (T,N,30,3),
  ``keypoints2d_coco17`` (T,N,17,3) / ``keypoints2d_crowdpose14`` (T,N,14,3) / ``keypoints2d_smpl30``
  (T,N,30,3) x, y, visibility (1 visible, 0 occluded or outside the image), ``boxes`` (T,N,4) xywh of
  the projected mesh clipped to the image, ``visible_boxes`` (T,N,4), ``visible_pixels`` (T,N),
  ``present`` (T,N), ``occlusion`` (T,N), ``occluder`` (T,N,30), ``world_xz`` (T,N,2), ``heading``
  (T,N), ``speed`` (T,N), ``colors`` (N,3,3) BGR; camera ``K`` (3,3), ``R`` (3,3), ``t`` (3,)
  (world to camera); ``fps``, ``width``, ``height``, ``joint_sets`` (names), ``config`` (JSON of the
  CrowdConfig), ``noise`` (JSON of the NoiseConfig), ``body`` ("standin" or "given"), and per joint set
  ``detections_<set>_truth`` (D,): the identity behind each record of ``detections_<set>.json``, in
  file order (-1 = false positive).
- ``detections_<set>.json``: the simulated detections (``nets.synth.noise``) as COCO keypoint results
  (``stream.poses_io``; ``image_id`` = frame index), readable by ``stream poses --backend precomputed``.
- ``truth_<set>.json``: the noise-free truth in the same format: people with a visible joint, visible
  joints at score 1, others (0, 0, 0), the true box.
"""
from __future__ import annotations

import dataclasses
import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from nets.synth import CrowdConfig, NoiseConfig, make_crowd, occlusion_summary, simulate_detections, truth_detections
from nets.synth.noise import noise_config
from stream.frames import VideoWriter
from stream.pose2d import FramePoses
from stream.poses_io import write_coco_results

log = logging.getLogger(__name__)

JOINT_SETS = ("coco17", "crowdpose14")
STANDIN_BODY_NOTICE = ("bodies are the project's synthetic stand-in body model (SMPL format, NOT SMPL): "
                       "shapes and motion are made up, the ground truth is exact for them")


@dataclass(frozen=True)
class SynthSummary:
    """What ``write_synthetic_clip`` wrote."""
    out_dir: Path
    video: Path
    truth: Path
    detections: dict[str, Path]
    truth_poses: dict[str, Path]
    detection_counts: dict[str, int]
    frames: int
    people: int
    size: tuple[int, int]
    fps: float
    occlusion: dict[str, float]
    seconds: float


def _json(config) -> str:
    return json.dumps(dataclasses.asdict(config), sort_keys=True)


def write_synthetic_clip(out_dir, config: CrowdConfig = CrowdConfig(), noise: str | NoiseConfig = "moderate",
                         body=None, joint_sets=JOINT_SETS) -> SynthSummary:
    """Generate a crowd with ``body`` (default: the stand-in body) and write the files listed above.

    ``noise``: a preset name of ``nets.synth.NOISE_PRESETS`` (seeded with ``config.seed``) or a NoiseConfig.
    """
    start = time.perf_counter()
    if not isinstance(config, CrowdConfig):
        raise TypeError(f"config: expected a nets.synth.CrowdConfig, got {type(config).__name__}")
    if isinstance(noise, str):  # a preset: its draws follow the clip's seed
        noise = dataclasses.replace(noise_config(noise), seed=config.seed)
    noise = noise_config(noise)
    if config.width % 2 or config.height % 2:
        raise ValueError(f"size {config.width}x{config.height}: H.264 (yuv420p) needs an even width and height; "
                         f"use {config.width + config.width % 2}x{config.height + config.height % 2}")
    for name in joint_sets:
        if name not in JOINT_SETS:
            raise KeyError(f"joint set {name!r}: expected some of {list(JOINT_SETS)}")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    given = body is not None
    if body is None:
        from nets.body import BodyModel
        from nets.standin import make_standin_body

        body = BodyModel(*make_standin_body())
        log.info("synthetic crowd: %s", STANDIN_BODY_NOTICE)
    video = out_dir / "clip.mp4"
    with VideoWriter(video, fps=config.fps) as writer:
        crowd = make_crowd(body, config, on_frame=lambda t, bgr, mesh_id: writer.write(bgr))
    log.info("synthetic crowd: %d people, %d frames generated and encoded in %.1f s", config.people,
             config.frames, time.perf_counter() - start)

    detections, truth_poses, counts, record_truth = {}, {}, {}, {}
    for name in joint_sets:
        dets = simulate_detections(crowd, noise, name)
        detections[name] = out_dir / f"detections_{name}.json"
        counts[name] = write_coco_results(detections[name], ((d.frame, _frame_poses(d)) for d in dets))
        record_truth[f"detections_{name}_truth"] = np.concatenate([d.truth for d in dets]).astype(np.int64)
        truth_poses[name] = out_dir / f"truth_{name}.json"
        write_coco_results(truth_poses[name], ((d.frame, _frame_poses(d)) for d in truth_detections(crowd, name)))

    truth = out_dir / "truth.npz"
    np.savez_compressed(truth, **crowd.arrays(), **record_truth, fps=np.float64(config.fps),
                        width=np.int64(config.width), height=np.int64(config.height),
                        joint_sets=np.array(sorted(crowd.keypoints2d)), config=np.array(_json(config)),
                        noise=np.array(_json(noise)), body=np.array("given" if given else "standin"))
    return SynthSummary(out_dir=out_dir, video=video, truth=truth, detections=detections, truth_poses=truth_poses,
                        detection_counts=counts, frames=crowd.frames, people=crowd.people,
                        size=(config.width, config.height), fps=config.fps, occlusion=occlusion_summary(crowd),
                        seconds=time.perf_counter() - start)


def _frame_poses(dets) -> FramePoses:
    return FramePoses(dets.keypoints, dets.boxes, dets.scores, dets.joint_set)
