"""RTMO (Lu et al., CVPR 2024): one-stage bottom-up multi-person pose, loading mmpose's checkpoints.

No mmpose/mmcv import: the network is rebuilt here with mmpose's parameter names, and its shape is
read from the checkpoint, so the s/m/l sizes and the CrowdPose-14 / COCO-17 variants all load::

    model = RTMO.from_checkpoint("rtmo-l_16xb16-600e_body7-640x640.pth")   # eval mode
    people = model.predict(x)      # x: (B, 3, 640, 640) float BGR 0..255, letterboxed
    people[0].keypoints            # (N, K, 2) network-input pixels, by descending score

Letterboxing and mapping back to the image live in ``stream.pose2d.rtmo``.
"""
from __future__ import annotations

import logging
import pickle
import re
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from torch import nn

from nets.checkpoint import CheckpointError, load_strict
from nets.rtmo.backbone import ConvBN, CSPDarknet
from nets.rtmo.head import Instances, RTMOHead
from nets.rtmo.neck import HybridEncoder, RepVGGBlock

log = logging.getLogger(__name__)

JOINT_SETS = {14: "crowdpose14", 17: "coco17"}  # RTMO's keypoint count -> our joint set


@dataclass(frozen=True)
class RTMOConfig:
    num_keypoints: int = 17
    widths: tuple[int, ...] = (64, 128, 256, 512, 1024)  # backbone stem + stages 1-4
    depths: tuple[int, ...] = (3, 9, 9, 3)               # bottlenecks per backbone stage
    hidden: int = 256                                    # neck width
    neck_blocks: int = 3                                 # RepVGG blocks per CSPRep layer
    neck_mid: int = 256                                  # CSPRep hidden width
    out_channels: int = 512                              # neck output = head input
    pose_channels: int = 288                             # head pose branch width
    pose_vec: int = 512                                  # pose vector fed to the DCC
    input_size: int = 640

    @property
    def joint_set(self) -> str:
        return JOINT_SETS.get(self.num_keypoints, f"k{self.num_keypoints}")


# Sizes as published (RTMO-s/m/l); a checkpoint's own shapes always win (see ``config_from_state``).
SIZES = {
    "s": RTMOConfig(widths=(32, 64, 128, 256, 512), depths=(1, 3, 3, 1), neck_blocks=1, neck_mid=128,
                    out_channels=256, pose_channels=144, pose_vec=256),
    "m": RTMOConfig(widths=(48, 96, 192, 384, 768), depths=(2, 6, 6, 2), neck_blocks=2, neck_mid=256,
                    out_channels=384, pose_channels=216, pose_vec=384),
    "l": RTMOConfig(),
}


class RTMO(nn.Module):
    def __init__(self, config: RTMOConfig = RTMOConfig()):
        super().__init__()
        c = config
        self.config = c
        self.backbone = CSPDarknet(c.widths, c.depths)
        self.neck = HybridEncoder(c.widths[2:], c.hidden, c.out_channels, c.neck_blocks, c.neck_mid)
        self.head = RTMOHead(c.out_channels, c.num_keypoints, c.pose_channels, c.pose_vec)

    def forward(self, x: torch.Tensor) -> dict[str, list[torch.Tensor]]:
        """(B,3,H,W) BGR 0..255 -> raw head maps per level (strides 16, 32): cls, bbox, vis, pose."""
        return self.head.head_module(self.neck(self.backbone(x)))

    @torch.no_grad()
    def predict(self, x: torch.Tensor, score_thr: float = 0.1, nms_thr: float = 0.65) -> list[Instances]:
        """(B,3,H,W) -> one ``Instances`` per input, in input pixels (mmpose's test-time decoding)."""
        return self.head.decode(self(x), x.shape[2:], score_thr, nms_thr)

    def fuse(self) -> "RTMO":
        """Fold BatchNorms into convs and merge RepVGG branches, in place (eval use only; same outputs
        up to float rounding)."""
        for m in list(self.modules()):
            if isinstance(m, RepVGGBlock):
                m.fuse()
        for m in list(self.modules()):
            if isinstance(m, ConvBN):
                m.fuse()
        return self.eval()

    @classmethod
    def from_checkpoint(cls, path, map_location="cpu") -> "RTMO":
        """Rebuild from an mmpose RTMO checkpoint (``{'state_dict': ..., 'meta': ...}``), strictly, in eval mode."""
        state, meta = read_mmpose_checkpoint(path, map_location)
        config = config_from_state(state, path)
        model = cls(config)
        load_strict(model, state, path, f"RTMO model (shapes read from the file: {asdict(config)})")
        names = (meta.get("dataset_meta") or {}).get("keypoint_id2name")
        log.info("loaded RTMO %s: %d keypoints (%s), %s", path, config.num_keypoints, config.joint_set,
                 list(names.values()) if isinstance(names, dict) else "no keypoint names in meta")
        return model.eval()


def read_mmpose_checkpoint(path, map_location="cpu") -> tuple[dict[str, torch.Tensor], dict]:
    """``(state_dict, meta)`` of an mmpose checkpoint, loaded without running pickled code.

    Files written by mmpose training keep numpy arrays in ``meta``; those numpy types (and only them)
    are allowed in addition to torch's weights-only set.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"RTMO checkpoint not found: {path}; pass --checkpoint PATH or a known name "
                                "(list them with `stream assets`, fetch with `stream assets get NAME`)")
    try:
        ckpt = torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError:
        with torch.serialization.safe_globals(_numpy_globals()):
            ckpt = torch.load(path, map_location=map_location, weights_only=True)
    state = ckpt.get("state_dict", ckpt) if isinstance(ckpt, dict) else None
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise CheckpointError(f"{path}: expected an mmpose checkpoint {{'state_dict': {{name: tensor}}, 'meta': ...}}")
    state = {k.removeprefix("module."): v for k, v in state.items()}
    return state, ckpt.get("meta") or {}


def _numpy_globals() -> list:
    import numpy as np

    found = [np.ndarray, np.dtype, np.core.multiarray._reconstruct, np.core.multiarray.scalar]
    found += [type(np.dtype(t)) for t in ("float32", "float64", "int64", "int32", "uint8", "bool")]
    return found


def config_from_state(state: dict[str, torch.Tensor], path="checkpoint") -> RTMOConfig:
    """Read the network's shape off an mmpose RTMO state dict."""
    def shape(key: str, dim: int = 0) -> int:
        if key not in state:
            raise CheckpointError(f"{path} is not an RTMO checkpoint: it has no {key!r} "
                                  f"(first keys: {sorted(state)[:5]})")
        return int(state[key].shape[dim])

    def count(pattern: str) -> int:
        return len({m.group(1) for k in state if (m := re.fullmatch(pattern, k))})

    widths = (shape("backbone.stem.conv.conv.weight"),) + tuple(
        shape(f"backbone.stage{i}.0.conv.weight") for i in range(1, 5))
    depths = tuple(count(rf"backbone\.stage{i}\.\d\.blocks\.(\d+)\.conv1\.conv\.weight") for i in range(1, 5))
    return RTMOConfig(
        num_keypoints=shape("head.dcc.pos_enc"), widths=widths, depths=depths,
        hidden=shape("neck.input_proj.0.conv.weight"),
        neck_blocks=count(r"neck\.fpn_blocks\.0\.bottlenecks\.(\d+)\.branch_3x3\.conv\.weight"),
        neck_mid=shape("neck.fpn_blocks.0.conv1.conv.weight"),
        out_channels=shape("neck.projector.convs.0.conv.weight"),
        pose_channels=shape("head.head_module.conv_pose.0.0.conv.weight"),
        pose_vec=shape("head.head_module.out_pose.0.weight"))
