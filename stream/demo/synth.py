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
  (``stream.pose2d.precomputed``; ``image_id`` = frame index), readable by ``stream poses --backend precomputed``.
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
from stream.source.frames import VideoWriter
from stream.pose2d.base import FramePoses
from stream.pose2d.precomputed import write_coco_results

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


def store_from_crowd(crowd, path, *, joint_set: str = "coco17", min_visible: int = 0, fps: float | None = None,
                     overwrite: bool = False, flush_frames: int = 64) -> Path:
    """A crowdmesh store (``stream.store``) of a synthetic crowd's ground truth, for tests, demos and exporters.

    One track per person (track id = ``crowd.ids[n]``) over the frames where the person is present
    with at least ``min_visible`` visible keypoints of ``joint_set`` (0: every present frame; a person
    may leave and come back, so a track's frames need not be consecutive). Rows: ``smpl_pose``,
    ``smpl_betas``, ``joints3d`` from the truth; ``cam_trans`` = ``crowd.trans`` (the SMPL translation
    in the camera frame, so ``body(pose, betas).vertices + cam_trans == crowd.vertices(t)[n]``);
    ``keypoints2d`` = ``crowd.keypoints2d[joint_set]`` (x, y, visibility as the score); ``bbox`` =
    ``crowd.boxes``; ``score`` 1. Frame t is at ``t / fps`` seconds (default fps: the crowd's). The
    camera is the crowd's pinhole camera. Returns the store's path.
    """
    from stream.store import StoreWriter

    if joint_set not in crowd.keypoints2d:
        raise KeyError(f"joint set {joint_set!r}: the crowd has keypoints in {sorted(crowd.keypoints2d)}")
    if isinstance(min_visible, bool) or not isinstance(min_visible, (int, np.integer)) or min_visible < 0:
        raise ValueError(f"min_visible = {min_visible!r}: expected a whole number of keypoints >= 0")
    fps = crowd.fps if fps is None else float(fps)
    if not fps > 0:
        raise ValueError(f"fps = {fps!r}: expected frames per second > 0")
    keypoints = crowd.keypoints2d[joint_set]
    keep = crowd.present & ((keypoints[..., 2] > 0).sum(-1) >= min_visible)
    K = crowd.camera.K
    config = {"synthetic_crowd": dataclasses.asdict(crowd.config), "joint_set": joint_set,
              "min_visible": int(min_visible)}
    with StoreWriter.create(
            path, source={"path": None, "fps": fps, "size": [crowd.config.width, crowd.config.height],
                          "frame_count": crowd.frames, "synthetic": True},
            camera={"focal": [float(K[0, 0]), float(K[1, 1])], "principal_point": [float(K[0, 2]), float(K[1, 2])]},
            joint_set=joint_set, config=config, fingerprints={"ground_truth": "nets.synth",
                                                               "body_sha256": crowd.body.fingerprint()},
            flush_frames=flush_frames, overwrite=overwrite) as writer:
        for t in range(crowd.frames):
            n = np.flatnonzero(keep[t])
            writer.add_frame(t, t / fps, {
                "track_id": crowd.ids[n], "smpl_pose": crowd.smpl_pose[t, n], "smpl_betas": crowd.betas[n],
                "cam_trans": crowd.trans[t, n], "joints3d": crowd.joints3d[t, n], "keypoints2d": keypoints[t, n],
                "bbox": crowd.boxes[t, n], "score": np.ones(len(n), np.float32)})
        writer.finish()
    return Path(path)
