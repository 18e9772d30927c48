"""The optional mmpose backend: any mmpose 1.x bottom-up model (RTMO, DEKR, associative embedding).

Needs mmpose 1.3.2 with mmcv 2.1.0, which ``scripts/install_mmpose.sh`` installs next to an existing torch::

    backend = MmposeBackend("rtmo-l_16xb16-600e_body7-640x640.py", "rtmo-l_body7.pth")   # or make_backend("mmpose", ...)
    [poses] = backend([frame_bgr], frame_ids=[0])        # FramePoses, joint_set "coco17"

``config`` is an mmpose config file, or a path under the installed package's ``.mim/configs``
(``body_2d_keypoint/rtmo/body7/rtmo-l_16xb16-600e_body7-640x640.py``); ``checkpoint`` is its weights.
``precision`` ("auto" | "fp32" | "bf16" | "fp16", ``nets.devices``) wraps mmpose's ``test_step`` in autocast,
as mmengine's test loop does for mixed precision (so mmpose's decoding runs under it too).
"""
from __future__ import annotations

import importlib.util
import logging
from pathlib import Path
from typing import Sequence

import numpy as np

from nets.devices import autocast, resolve_device, resolve_precision
from nets.joints import joint_names
from stream.pose2d.base import FramePoses, as_bgr8, keypoint_box

log = logging.getLogger(__name__)

# mmpose dataset_meta['dataset_name'] -> crowdmesh joint set (nets.joints)
JOINT_SETS = {"crowdpose": "crowdpose14", "coco": "coco17", "body7": "coco17"}
# Heads whose predict() decodes several images per forward; the others (DEKRHead asserts a batch of 1)
# get one image per forward.
BATCHED_HEADS = ("RTMOHead", "YOLOXPoseHead")


class MmposeMissingError(ImportError):
    """mmpose (or mmcv, mmengine, mmdet) cannot be imported."""


class UnsupportedModelError(ValueError):
    """The model's keypoints are in a dataset layout crowdmesh has no joint set for."""


def import_mmpose():
    """mmpose's ``init_model`` plus mmengine's ``Compose`` and ``pseudo_collate``, or MmposeMissingError."""
    try:
        _declare_torchvision_ops()
        from mmengine.dataset import Compose, pseudo_collate
        from mmpose.apis import init_model
    except ImportError as e:
        raise MmposeMissingError(
            f"the mmpose pose backend needs mmpose 1.3.2, mmcv 2.1.0, mmengine and mmdet, but importing them "
            f"failed ({type(e).__name__}: {e}). Install them into this Python with scripts/install_mmpose.sh "
            f"(builds mmcv once, ~17 min on 2 cores), or use the native 'rtmo' backend.") from e
    return init_model, Compose, pseudo_collate


def _declare_torchvision_ops() -> None:
    """Let ``import torchvision`` succeed when its C++ library cannot load (mmpose imports it, never calls its ops).

    PyPI's torchvision builds for recent torch are CUDA builds, whose ``_C`` library fails to load next to a
    CPU-only torch. torchvision then still registers fake kernels for ``torchvision::nms`` and ``::qnms``,
    which fails because those op schemas come from that library. Declaring the two schemas (no kernels, so
    calling them raises NotImplementedError) lets the Python part import. Does nothing when torchvision is
    absent, already imported, or its library loads.
    """
    import sys

    import torch

    spec = importlib.util.find_spec("torchvision") if "torchvision" not in sys.modules else None
    if spec is None or not spec.submodule_search_locations or hasattr(torch.ops.torchvision, "nms"):
        return
    for lib in Path(spec.submodule_search_locations[0]).glob("_C.*"):
        try:
            torch.ops.load_library(str(lib))
            return
        except (OSError, ImportError, RuntimeError) as e:
            log.info("torchvision's C++ ops cannot load (%s); declaring the nms/qnms schemas it needs", e)
    for op in ("nms", "qnms"):
        torch.library.define(f"torchvision::{op}", "(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")


def _numpy_safe_globals() -> list:
    """The numpy globals in mmpose-trained checkpoints' meta (arrays in dataset_meta): arrays and dtypes only.

    Allow-listed for ``torch.load(weights_only=True)`` rather than falling back to weights_only=False.
    Files pickled under numpy 1.x name the module ``numpy.core``, numpy 2 ``numpy._core``.
    """
    multiarray = (np._core if hasattr(np, "_core") else np.core).multiarray
    names = [(f, f"{mod}.multiarray.{f.__name__}") for f in (multiarray._reconstruct, multiarray.scalar)
             for mod in ("numpy.core", "numpy._core")]
    dtypes = {type(np.dtype(code)) for code in "?bBhHiIlLqQefdgFDGUS"}  # numbers, bools, strings; no objects
    return [np.ndarray, np.dtype, *sorted(dtypes, key=str), *names]


def resolve_config(config) -> Path:
    """An mmpose config path, or one relative to the installed mmpose's ``.mim/configs``; else FileNotFoundError."""
    if config is None:
        raise FileNotFoundError("the mmpose backend needs --config, an mmpose model config (.py); none was given")
    path = Path(config).expanduser()
    if path.is_file():
        return path
    spec = importlib.util.find_spec("mmpose")
    packaged = Path(spec.origin).parent / ".mim" / "configs" / str(config) if spec and spec.origin else None
    if packaged is not None and packaged.is_file():
        return packaged
    raise FileNotFoundError(f"--config {config}: no such mmpose config file (looked at {path.resolve()}"
                            + (f" and {packaged}" if packaged else "") + "); give the path of a model config .py, "
                            "e.g. body_2d_keypoint/rtmo/body7/rtmo-l_16xb16-600e_body7-640x640.py")


class MmposeBackend:
    """A PoseBackend running an mmpose bottom-up model: BGR frames in, one FramePoses per frame out."""

    def __init__(self, config, checkpoint, *, device: str = "auto", precision: str = "auto", batch_size: int = 8):
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        init_model, Compose, pseudo_collate = import_mmpose()
        config = resolve_config(config)
        if checkpoint is None:
            raise FileNotFoundError(f"the mmpose backend needs --checkpoint, the .pth weights that go with the "
                                    f"config {config.name}; none was given")
        if not Path(checkpoint).expanduser().is_file():
            raise FileNotFoundError(f"--checkpoint {checkpoint}: no such mmpose checkpoint file; give the .pth "
                                    f"weights that go with the config {config.name}")
        import torch

        self.device = resolve_device(device)
        self.precision = resolve_precision(precision, self.device)
        with torch.serialization.safe_globals(_numpy_safe_globals()):
            self.model = init_model(str(config), str(Path(checkpoint).expanduser()), device=str(self.device))
        meta = self.model.dataset_meta
        name = meta.get("dataset_name")
        if name not in JOINT_SETS or meta.get("num_keypoints") != len(joint_names(JOINT_SETS[name])):
            raise UnsupportedModelError(
                f"{config.name}: the model predicts {meta.get('num_keypoints')} keypoints of dataset {name!r}; "
                f"the mmpose backend supports models of {sorted(JOINT_SETS)}")
        self.joint_set = JOINT_SETS[name]
        self.pipeline = Compose(self.model.cfg.test_dataloader.dataset.pipeline)
        self.collate = pseudo_collate
        head = type(self.model.head).__name__
        self.batch_size = batch_size if head in BATCHED_HEADS else 1
        log.info("mmpose %s (%s head, %s) on %s, %d image(s) per forward", config.name, head, self.joint_set,
                 next(self.model.parameters()).device, self.batch_size)

    def __call__(self, frames: Sequence[np.ndarray], frame_ids: Sequence[int | str]) -> list[FramePoses]:
        if len(frames) != len(frame_ids):
            raise ValueError(f"got {len(frames)} frames but {len(frame_ids)} frame ids")
        import torch

        data = [self.pipeline(dict(img=as_bgr8(f, f"frame {i}"), **self.model.dataset_meta))
                for f, i in zip(frames, frame_ids)]
        out = []
        with torch.no_grad(), autocast(self.device, self.precision):
            for start in range(0, len(data), self.batch_size):
                samples = self.model.test_step(self.collate(data[start:start + self.batch_size]))
                out += [self._poses(s.pred_instances) for s in samples]
        return out

    def _poses(self, inst) -> FramePoses:
        """mmpose pred_instances -> FramePoses (boxes xyxy -> xywh; descending score)."""
        xy = _array(inst.keypoints)
        kpts = np.concatenate([xy, _array(inst.keypoint_scores)[..., None]], axis=-1)
        if len(kpts) == 0:
            return FramePoses.empty(self.joint_set)
        if "bboxes" in inst:
            xyxy = _array(inst.bboxes)
            boxes = np.concatenate([xyxy[:, :2], xyxy[:, 2:] - xyxy[:, :2]], axis=1)
        else:
            boxes = np.array([keypoint_box(p) for p in kpts], np.float32)
        scores = (_array(inst.bbox_scores).reshape(-1) if "bbox_scores" in inst
                  else kpts[:, :, 2].mean(axis=1))
        order = np.argsort(-scores, kind="stable")
        return FramePoses(kpts[order], boxes[order], scores[order], self.joint_set)


def _array(x) -> np.ndarray:
    """numpy array or torch tensor -> float32 numpy array."""
    return np.asarray(x.detach().cpu().numpy() if hasattr(x, "detach") else x, np.float32)
