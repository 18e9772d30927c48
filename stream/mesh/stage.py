"""Plain pipeline stages of ``stream process`` (no Ray here; ``stream.pipeline.ray_driver`` wraps these).

    poses = PoseStage(backend)(frames, frame_ids)                # FramePoses per frame, batched
    people = TrackStage(tracker_config)(frame_index, poses[0])   # TrackedPerson list, frames in order
    jobs = mesh.jobs(frame_index, bgr, people)                   # crops of one frame (person_jobs)
    out = mesh(concat_jobs([jobs, ...]))                         # one batched forward for many frames
    rows = frame_rows(people, jobs, out, focal, principal_point) # StoreWriter.add_frame's people dict

``person_jobs`` crops exactly as ``stream image`` does (``nets.crops.crop_people``, the official demo's
preprocessing). ``crop_camera_to_image`` moves each person's crop-camera translation into the full
image's camera so that everyone in a frame shares one 3D scene.
"""
from __future__ import annotations

import logging
from typing import Sequence

import numpy as np
import torch

from nets.devices import resolve_precision
from nets.crops import CropConfig, crop_people, warp_crops
from stream.pose2d.base import FramePoses

log = logging.getLogger(__name__)

__all__ = ["CROP_FOCAL", "JOB_KEYS", "MeshStage", "PoseStage", "TrackStage", "compiled_or_eager", "concat_jobs",
           "crop_camera_to_image", "frame_rows", "person_jobs", "split_rows"]

JOB_KEYS = ("img", "joints", "joints_mask", "bbox", "index", "track_id", "frame_index")  # what a mesh worker needs

CROP_FOCAL = 5000.0  # 3DCrowdNet's virtual focal length (nets.ModelConfig.focal; stream.mesh.image.RENDER_FOCAL)


def person_jobs(frame_index: int, bgr: np.ndarray, tracked_people: Sequence, joint_set: str,
                config: CropConfig = CropConfig(), warp: bool = True) -> dict[str, np.ndarray]:
    """Model inputs for the tracked people of one frame: the ``crop_people`` batch plus who and when.

    bgr (H,W,3) uint8 as decoded; tracked_people: ``trackers.TrackedPerson``-like objects (``track_id``,
    ``keypoints`` (K,3) image pixels + score in ``joint_set``). Returns every ``crop_people`` key
    (``img`` (N,3,S,S), ``joints`` (N,30,3), ``joints_mask`` (N,30,1), ``bbox`` (N,4), ...) for the
    N people kept (weak or duplicate poses, e.g. predicted-only people with zero scores, are dropped as
    the official demo drops them), with ``index`` their position in ``tracked_people``, plus
    ``track_id`` (N,) int64 and ``frame_index`` (N,) int64. With ``warp=False`` there is no ``img``
    (``MeshStage`` then warps on its device with ``warp_crops``).
    """
    bgr = np.asarray(bgr)
    if bgr.ndim != 3 or bgr.shape[2] != 3 or bgr.dtype != np.uint8:
        raise ValueError(f"frame {frame_index}: expected an (H, W, 3) uint8 BGR image, got shape {bgr.shape} "
                         f"dtype {bgr.dtype}")
    # crop the BGR frame and swap the channels of the small crops: the same pixels as cropping an RGB copy
    # (warping is per channel), without copying the whole frame
    batch = crop_people(bgr, [np.asarray(p.keypoints) for p in tracked_people], joint_set, config, warp)
    if warp:
        batch["img"] = np.ascontiguousarray(batch["img"][:, ::-1])
    ids = np.array([p.track_id for p in tracked_people], dtype=np.int64)
    batch["track_id"] = ids[batch["index"]] if len(ids) else np.zeros(0, np.int64)
    batch["frame_index"] = np.full(len(batch["index"]), frame_index, dtype=np.int64)
    return batch


def crop_camera_to_image(cam_trans_crop: np.ndarray, bbox: np.ndarray, focal: float, principal_point,
                         crop_focal=CROP_FOCAL) -> np.ndarray:
    """(N,3) crop-camera translations, (N,4) xywh boxes -> (N,3) translations in the full image's camera.

    The crop camera (3DCrowdNet run with ``bbox``, as ``stream.mesh.image.estimate`` does; its render
    camera) maps a camera-frame point X to image pixels ``u = crop_focal * X_xy / X_z + c_box`` with
    ``crop_focal`` the model's ``config.focal`` in image pixels (5000 for the official model, 2500 for the
    reduced one; a scalar or one per row) and ``c_box`` the box centre ``(x + w/2, y + h/2)``. (A model run
    without ``bbox`` has focal 5000 in 256-crop pixels: pass ``crop_focal = 5000 * w / 256``.)
    The full-image camera is ``u = focal * X_xy / X_z + principal_point`` (stream.store.layout).

    The new translation keeps the person's image size and puts the translation origin (the SMPL
    ``transl`` origin, near the pelvis) on the same pixel::

        t_z' = t_z * focal / crop_focal
        t_xy' = (crop_focal * t_xy / t_z + c_box - principal_point) * t_z' / focal

    The origin then projects exactly as before and every point's image offset from it agrees to first
    order in (body depth extent / t_z'); what changes is only perspective within the body, which the
    full-image camera now models with the true focal length.

    The global orientation is kept as the network gives it (training targets are in the full image's camera
    frame, as in the official recipe). Rotating it towards the box's viewing ray, as one would for a model
    that predicts in a crop-centred camera, was measured on the demo clip (people up to 29 degrees off the
    optical axis, mean 15): pelvis-centred MPJPE 92.5 mm as given, 92.8 mm rotated, so it is not done.
    """
    t = np.asarray(cam_trans_crop, dtype=np.float64).reshape(-1, 3)
    box = np.asarray(bbox, dtype=np.float64).reshape(-1, 4)
    if len(t) != len(box):
        raise ValueError(f"cam_trans_crop has {len(t)} rows but bbox has {len(box)}; expected one box per person")
    crop_focal = np.broadcast_to(np.asarray(crop_focal, dtype=np.float64).reshape(-1, 1), (len(t), 1))
    if not (np.isfinite(focal) and focal > 0 and np.all(np.isfinite(crop_focal)) and np.all(crop_focal > 0)):
        raise ValueError(f"focal = {focal!r}, crop_focal = {crop_focal.ravel().tolist()}: expected pixels > 0")
    if np.any(t[:, 2] <= 0):
        raise ValueError(f"cam_trans_crop z = {t[t[:, 2] <= 0, 2].tolist()}: expected depths > 0 (in front "
                         "of the camera)")
    centre = box[:, :2] + box[:, 2:] / 2
    pp = np.asarray(principal_point, dtype=np.float64).reshape(2)
    z = t[:, 2:] * (focal / crop_focal)
    xy = (crop_focal * t[:, :2] / t[:, 2:] + centre - pp) * z / focal
    return np.concatenate((xy, z), axis=1)


class PoseStage:
    """2D poses of a batch of frames through any ``stream.pose2d.base`` backend; the joint set is checked."""

    def __init__(self, backend, joint_set: str | None = None):
        self.backend = backend
        self.joint_set = joint_set or getattr(backend, "joint_set", None) or "coco17"

    def __call__(self, frames: Sequence[np.ndarray], frame_ids: Sequence[int | str]) -> list[FramePoses]:
        poses = self.backend(list(frames), list(frame_ids))
        for frame_id, p in zip(frame_ids, poses):
            if p.joint_set != self.joint_set:
                raise ValueError(f"frame {frame_id}: the pose backend gave joint set {p.joint_set!r}, expected "
                                 f"{self.joint_set!r} for the whole input")
        return poses


class TrackStage:
    """``trackers.PoseTracker`` fed frame by frame, in order; also reports tracks that ended."""

    def __init__(self, config, joint_set: str):
        from trackers import PoseTracker
        self.tracker = PoseTracker(config, joint_set=joint_set)

    def __call__(self, frame_index: int, poses: FramePoses) -> tuple[list, list[int]]:
        """-> (confirmed people of the frame, IDs of tracks that ended since the previous call)."""
        people = self.tracker.update(poses.keypoints, poses.boxes, poses.scores, frame_index)
        return people, [c.track_id for c in self.tracker.pop_closed()]


class MeshStage:
    """Person crops and batched 3DCrowdNet: ``jobs`` per frame, ``__call__`` on any number of them at once.

    ``model`` is a ``nets.CrowdNet`` (give ``model.for_inference()`` for speed); ``max_batch`` bounds the
    crops per forward pass. ``crop_device`` "cpu" warps crops with OpenCV (numpy ``img``); "gpu" uploads
    each frame once to ``device`` and warps all its crops there (``warp_crops``; ``img`` is then a tensor on
    ``device``, within 5 grey levels of OpenCV's pixels, 0.1-0.2 on average; on a CPU device the same code runs
    on CPU tensors).
    ``precision`` ("fp32" | "bf16" | "fp16") is set on ``model`` (its network's autocast, ``nets.devices``);
    ``compile`` runs it through ``torch.compile``, or eagerly with a logged warning if that fails
    (``compiled_or_eager``).
    """

    def __init__(self, model, joint_set: str, max_batch: int = 32, device: str | torch.device = "cpu",
                 crop_device: str = "cpu", precision: str = "fp32", compile: bool = False):
        self.device = torch.device(device)
        self.model = model.to(self.device).eval()
        self.model.precision = resolve_precision(precision, self.device)
        self.joint_set, self.max_batch = joint_set, max_batch
        cfg = model.config
        self.crop_config = CropConfig(cfg.input_size, cfg.heatmap_size)
        if crop_device not in ("cpu", "gpu"):
            raise ValueError(f"crop_device = {crop_device!r}: expected 'cpu' or 'gpu' (resolve 'auto' first)")
        self.crop_device = crop_device
        self.forward = compiled_or_eager(self.model, self._example()) if compile else self.model

    def _example(self) -> tuple[torch.Tensor, ...]:
        """Two blank crops on ``device``: the model inputs of a warm-up call."""
        size = self.crop_config.input_size
        bbox = torch.tensor([[0.0, 0.0, size, size]] * 2, device=self.device)
        return (torch.zeros(2, 3, size, size, device=self.device), torch.zeros(2, 30, 3, device=self.device),
                torch.ones(2, 30, 1, device=self.device), bbox)

    def jobs(self, frame_index: int, bgr: np.ndarray, people: Sequence) -> dict:
        warp = self.crop_device == "cpu"
        batch = person_jobs(frame_index, bgr, people, self.joint_set, self.crop_config, warp=warp)
        if not warp:   # the frame uploaded once, its BGR crops warped on the device, channels swapped there
            frame = self._to_device(bgr)
            batch["img"] = warp_crops(frame, batch["bb2img_trans"], self.crop_config.input_size).flip(1)
        return {k: batch[k] for k in JOB_KEYS}

    def _to_device(self, x) -> torch.Tensor:
        """A numpy array or tensor on ``device``. To CUDA, numpy goes through pinned memory and copies without
        waiting: torch's caching host allocator reuses the pinned buffers once their copies are done."""
        if isinstance(x, torch.Tensor):
            return x.to(self.device, non_blocking=True)
        t = torch.from_numpy(np.ascontiguousarray(x))
        return (t.pin_memory() if self.device.type == "cuda" else t).to(self.device, non_blocking=True)

    @torch.inference_mode()
    def __call__(self, jobs: dict) -> dict[str, np.ndarray]:
        """Crops (``JOB_KEYS``, N rows) -> SMPL per row: ``smpl_pose`` (N,72), ``smpl_betas`` (N,10),
        ``cam_trans`` (N,3) crop camera, ``joints`` (N,30,3) crop camera, ``crop_focal`` (N,) that camera's
        focal length in image pixels (the model's ``config.focal``); plus ``track_id``/``frame_index``/``bbox``.
        ``img`` may be numpy or a tensor (on ``device`` from ``jobs`` with ``crop_device="gpu"``)."""
        n = len(jobs["track_id"])
        inputs = {k: self._to_device(jobs[k]) for k in ("img", "joints", "joints_mask", "bbox")}
        parts = []
        for s in range(0, n, self.max_batch):
            t = {k: v[s:s + self.max_batch] for k, v in inputs.items()}
            out = self.forward(t["img"], t["joints"], t["joints_mask"], t["bbox"])
            parts.append({"smpl_pose": out.smpl_pose, "smpl_betas": out.smpl_shape, "cam_trans": out.cam_trans,
                          "joints": out.joint_cam + (out.mesh_cam_render - out.smpl_mesh_cam)[:, :1]})
        result = {k: (torch.cat([p[k] for p in parts]).float().cpu().numpy() if parts
                      else np.zeros((0, *shape), np.float32))
                  for k, shape in (("smpl_pose", (72,)), ("smpl_betas", (10,)), ("cam_trans", (3,)),
                                   ("joints", (30, 3)))}
        result.update(track_id=jobs["track_id"], frame_index=jobs["frame_index"], bbox=jobs["bbox"],
                      crop_focal=np.full(n, self.model.config.focal, np.float32))
        return result


def compiled_or_eager(model, example: tuple):
    """``torch.compile(model)`` once it has run ``example``; ``model`` itself, with a logged warning that gives
    the reason, when compiling or that first call fails."""
    try:
        fast = torch.compile(model)
        with torch.inference_mode():
            fast(*example)
        return fast
    except Exception as err:  # noqa: BLE001 - dynamo, inductor and the C++ compiler fail in many ways; all fall back
        log.warning("model.compile: torch.compile failed (%s: %s); running the model eagerly", type(err).__name__,
                    str(err).strip().splitlines()[0] if str(err).strip() else "no message")
        return model


def concat_jobs(parts: Sequence[dict]) -> dict:
    """Row-wise concatenation of job (or result) dicts with the same keys; values numpy or torch tensors."""
    return {k: torch.cat([p[k] for p in parts]) if isinstance(parts[0][k], torch.Tensor)
            else np.concatenate([p[k] for p in parts]) for k in parts[0]}


def split_rows(rows: dict[str, np.ndarray], frame_indices: Sequence[int]) -> list[dict[str, np.ndarray]]:
    """The rows of each of ``frame_indices`` (by ``rows["frame_index"]``), in that order."""
    return [{k: v[rows["frame_index"] == f] for k, v in rows.items()} for f in frame_indices]


def frame_rows(people: Sequence, out: dict[str, np.ndarray], focal: float, principal_point) -> dict[str, np.ndarray]:
    """One frame's people with a mesh -> the people dict of ``StoreWriter.add_frame``.

    ``people``: the frame's TrackedPerson list; ``out``: ``MeshStage`` rows of this frame (people the crop
    step dropped have none and are not stored). Translations and joints move to the full-image camera.
    """
    by_id = {p.track_id: p for p in people}
    rows = [by_id[int(t)] for t in out["track_id"]]
    trans = crop_camera_to_image(out["cam_trans"], out["bbox"], focal, principal_point,
                                 out["crop_focal"]).astype(np.float32)
    k = len(people[0].keypoints) if people else 0
    return {
        "track_id": out["track_id"].astype(np.int64),
        "smpl_pose": out["smpl_pose"].reshape(-1, 24, 3),
        "smpl_betas": out["smpl_betas"],
        "cam_trans": trans,
        "joints3d": out["joints"] - out["cam_trans"][:, None] + trans[:, None],
        "keypoints2d": np.array([p.keypoints for p in rows], np.float32).reshape(len(rows), k, 3),
        "bbox": np.array([p.box for p in rows], np.float32).reshape(len(rows), 4),
        "score": np.array([p.score for p in rows], np.float32),
    }
