"""Person crops and batched 3DCrowdNet: tracked people in, the store's per-person rows out.

    stage = MeshStage(model.for_inference(), "coco17", max_batch=32, device="cuda", crop_device="gpu")
    crops = stage.crops(frame_index, bgr, people, camera=(focal, (cx, cy)))   # one frame's tracked people
    rows = stage(concat_rows([crops, ...]))          # one forward for the crops of many frames (and videos)
    per_frame = split_rows(rows, [len(c["track_id"]) for c in ...])

Crops (``person_crops``) are made as ``stream image`` makes them (``nets.crops.crop_people``, the official
demo's preprocessing), except that ``MeshStage`` drops duplicate poses by keypoint similarity
(``CropConfig(duplicate="oks")``, which scales with the person) rather than by the official fixed 20 pixels,
which drop small people standing behind others in a crowd. Each crop carries what its row needs: the tracked
person (``track_id``, ``keypoints2d``, ``bbox``, ``score``) and its image's camera (``focal``,
``principal_point``). Rows are the store's person fields (``stream.store.layout.PERSON_FIELDS``), with
translations and joints in the full image's camera (``stream.mesh.camera``). ``MeshBatcher``
(``stream.mesh.batcher``) gathers crops into passes.
"""
from __future__ import annotations

import logging
from typing import Sequence

import numpy as np
import torch

from nets.crops import CropConfig, crop_people, warp_crops
from nets.devices import resolve_precision
from nets.joints import joint_names
from stream.mesh.camera import crop_camera_to_image

log = logging.getLogger(__name__)

__all__ = ["MODEL_INPUTS", "MeshStage", "compiled_or_eager", "concat_rows", "person_crops", "split_rows"]

MODEL_INPUTS = ("img", "joints", "joints_mask", "crop_bbox")   # the crops' keys the network reads


def person_crops(frame_index: int, bgr: np.ndarray, people: Sequence, joint_set: str, camera: tuple,
                 config: CropConfig = CropConfig(), warp: bool = True) -> dict[str, np.ndarray]:
    """The crops of one frame's tracked people: model inputs plus what each person's row needs.

    bgr (H,W,3) uint8 as decoded; people: ``trackers.TrackedPerson``-like objects (``track_id``,
    ``keypoints`` (K,3) image pixels + score in ``joint_set``, ``box`` xywh, ``score``); camera:
    ``(focal, (cx, cy))`` of the full image. For the N people kept (weak poses, e.g. predicted-only people
    with zero scores, and duplicates by ``config.duplicate`` are dropped), returns
    ``img`` (N,3,S,S) RGB in [0, 1], ``joints`` (N,30,3), ``joints_mask`` (N,30,1), ``crop_bbox`` (N,4) (the
    ``crop_people`` box), ``track_id`` (N,) int64, ``keypoints2d`` (N,K,3), ``bbox`` (N,4), ``score`` (N,)
    float32, ``focal`` (N,) and ``principal_point`` (N,2). With ``warp=False``, ``bb2img_trans`` (N,2,3)
    replaces ``img`` (``MeshStage`` then warps on its device with ``warp_crops``).
    """
    bgr = np.asarray(bgr)
    if bgr.ndim != 3 or bgr.shape[2] != 3 or bgr.dtype != np.uint8:
        raise ValueError(f"frame {frame_index}: expected an (H, W, 3) uint8 BGR image, got shape {bgr.shape} "
                         f"dtype {bgr.dtype}")
    # crop the BGR frame and swap the channels of the small crops: the same pixels as cropping an RGB copy
    # (warping is per channel), without copying the whole frame
    batch = crop_people(bgr, [np.asarray(p.keypoints) for p in people], joint_set, config, warp)
    kept, n = batch["index"], len(batch["index"])
    k = len(joint_names(joint_set))
    focal, principal_point = camera
    crops = {"joints": batch["joints"], "joints_mask": batch["joints_mask"], "crop_bbox": batch["bbox"],
             "track_id": np.array([p.track_id for p in people], np.int64).reshape(-1)[kept],
             "keypoints2d": np.array([p.keypoints for p in people], np.float32).reshape(-1, k, 3)[kept],
             "bbox": np.array([p.box for p in people], np.float32).reshape(-1, 4)[kept],
             "score": np.array([p.score for p in people], np.float32).reshape(-1)[kept],
             "focal": np.full(n, focal, np.float64),
             "principal_point": np.tile(np.asarray(principal_point, np.float64).reshape(1, 2), (n, 1))}
    if warp:
        crops["img"] = np.ascontiguousarray(batch["img"][:, ::-1])
    else:
        crops["bb2img_trans"] = batch["bb2img_trans"]
    return crops


class MeshStage:
    """Person crops and batched 3DCrowdNet: ``crops`` per frame, ``__call__`` on any number of them at once.

    ``model`` is a ``nets.CrowdNet`` (give ``model.for_inference()`` for speed); ``max_batch`` bounds the
    crops per forward pass. ``crop_device`` "cpu" warps crops with OpenCV (numpy ``img``); "gpu" uploads
    each frame once to ``device`` and warps all its crops there (``warp_crops``; ``img`` is then a tensor on
    ``device``, within 5 grey levels of OpenCV's pixels, 0.1-0.2 on average; on a CPU device the same code runs
    on CPU tensors).
    ``duplicate`` is the duplicate-pose test of the crops (``nets.crops.CropConfig.duplicate``: "oks", or
    "official" for the official demo's 20 pixels).
    ``precision`` ("fp32" | "bf16" | "fp16") is set on ``model`` (its network's autocast, ``nets.devices``);
    ``compile`` runs it through ``torch.compile``, or eagerly with a logged warning if that fails
    (``compiled_or_eager``).
    """

    def __init__(self, model, joint_set: str, max_batch: int = 32, device: str | torch.device = "cpu",
                 crop_device: str = "cpu", precision: str = "fp32", compile: bool = False, duplicate: str = "oks"):
        self.device = torch.device(device)
        self.model = model.to(self.device).eval()
        self.model.precision = resolve_precision(precision, self.device)
        self.joint_set, self.max_batch = joint_set, max_batch
        cfg = model.config
        self.crop_config = CropConfig(cfg.input_size, cfg.heatmap_size, duplicate=duplicate)
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

    def crops(self, frame_index: int, bgr: np.ndarray, people: Sequence, camera: tuple,
              joint_set: str | None = None) -> dict:
        """``person_crops`` of one frame (its keypoints in ``joint_set``, default the stage's), warped on
        ``crop_device``."""
        warp = self.crop_device == "cpu"
        crops = person_crops(frame_index, bgr, people, joint_set or self.joint_set, camera, self.crop_config,
                             warp=warp)
        if not warp:   # the frame uploaded once, its BGR crops warped on the device, channels swapped there
            frame = self._to_device(bgr)
            crops["img"] = warp_crops(frame, crops.pop("bb2img_trans"), self.crop_config.input_size).flip(1)
        return crops

    def _to_device(self, x) -> torch.Tensor:
        """A numpy array or tensor on ``device``. To CUDA, numpy goes through pinned memory and copies without
        waiting: torch's caching host allocator reuses the pinned buffers once their copies are done."""
        if isinstance(x, torch.Tensor):
            return x.to(self.device, non_blocking=True)
        t = torch.from_numpy(np.ascontiguousarray(x))
        return (t.pin_memory() if self.device.type == "cuda" else t).to(self.device, non_blocking=True)

    @torch.inference_mode()
    def __call__(self, crops: dict) -> dict[str, np.ndarray]:
        """Crops (N rows, any frames and videos) -> the store's rows of those N people: ``track_id``,
        ``smpl_pose`` (N,24,3), ``smpl_betas`` (N,10), ``cam_trans`` (N,3) and ``joints3d`` (N,30,3) in the
        full image's camera, ``keypoints2d``, ``bbox``, ``score``; forward passes of at most ``max_batch``.
        ``img`` may be numpy or a tensor (on ``device`` from ``crops`` with ``crop_device="gpu"``)."""
        inputs = [self._to_device(crops[k]) for k in MODEL_INPUTS]
        parts = []
        for s in range(0, len(crops["track_id"]), self.max_batch):
            out = self.forward(*(v[s:s + self.max_batch] for v in inputs))
            parts.append((out.smpl_pose, out.smpl_shape, out.cam_trans,
                          out.joint_cam + (out.mesh_cam_render - out.smpl_mesh_cam)[:, :1]))
        shapes = ((72,), (10,), (3,), (30, 3))
        pose, betas, trans_crop, joints_crop = (
            torch.cat([p[i] for p in parts]).float().cpu().numpy() if parts else np.zeros((0, *shape), np.float32)
            for i, shape in enumerate(shapes))
        trans = crop_camera_to_image(trans_crop, crops["crop_bbox"], crops["focal"], crops["principal_point"],
                                     np.float32(self.model.config.focal)).astype(np.float32)
        return {"track_id": crops["track_id"], "smpl_pose": pose.reshape(-1, 24, 3), "smpl_betas": betas,
                "cam_trans": trans, "joints3d": joints_crop - trans_crop[:, None] + trans[:, None],
                "keypoints2d": crops["keypoints2d"], "bbox": crops["bbox"], "score": crops["score"]}


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


def concat_rows(parts: Sequence[dict]) -> dict:
    """Row-wise concatenation of crop (or row) dicts with the same keys; values numpy or torch tensors."""
    return {k: torch.cat([p[k] for p in parts]) if isinstance(parts[0][k], torch.Tensor)
            else np.concatenate([p[k] for p in parts]) for k in parts[0]}


def split_rows(rows: dict, counts: Sequence[int]) -> list[dict]:
    """``concat_rows`` undone: consecutive parts of ``counts`` rows each, in order."""
    cuts = np.cumsum(counts)[:-1]
    parts = {k: np.split(v, cuts) for k, v in rows.items()}
    return [{k: v[i] for k, v in parts.items()} for i in range(len(counts))]
