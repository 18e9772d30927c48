"""The reduced 3DCrowdNet for fast CPU runs: a small ResNet (BasicBlock [1,1,1,1]) at 128² input.

    net = ReducedCrowdNet(body)                    # widths 16-128, 32³ heatmaps, PositionNet grid 4³
    out = net(img (B,3,128,128), joints (B,30,2) in 32-px heatmap units, joints_mask (B,30,1))

The heads, VPoser and body model are ``nets``' own (Pose2Feat, PositionNet, RotationNet with smaller
input widths); only the backbone is new. ``CrowdNet.forward`` is reused unchanged: it reads the
geometry from ``config`` (``REDUCED_CONFIG``) and the feature size from the tensors.

nets/ change that would make this cleaner: let ``ModelConfig`` name the backbone (``backbone:
"resnet50" | "small"``, ``widths``) and have ``CrowdNet.__init__`` size Pose2Feat/PositionNet/
RotationNet from ``backbone.stem_channels``/``out_channels``; then ``load_model`` and the stream would
load reduced checkpoints through the one code path. Until then this subclass skips
``CrowdNet.__init__`` (which always builds ResNet-50) and sets the same attributes.
"""
from __future__ import annotations

import torch
from torch import nn

from nets.heads import Pose2Feat, PositionNet, RotationNet
from nets.joints import SMPL30
from nets.model import CrowdNet, ModelConfig
from nets.resnet import StemTrunk
from nets.vposer import VPoserDecoder

# 128² crops, 32² pose heatmaps (sigma scaled with the map), 4 depth bins on a 4x4 feature map (grid 4³).
# focal 2500 at 128 px keeps the official field of view (5000 at 256 px): same camera depth constant k.
REDUCED_CONFIG = ModelConfig(input_size=128, heatmap_size=32, sigma=1.25, focal=2500.0, depth_bins=4)


class BasicBlock(nn.Module):
    """3x3 -> 3x3 with a residual (1x1 projection when the shape changes)."""

    def __init__(self, in_ch: int, out_ch: int, stride: int = 1):
        super().__init__()
        self.conv1 = nn.Conv2d(in_ch, out_ch, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(out_ch)
        self.conv2 = nn.Conv2d(out_ch, out_ch, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_ch)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = None
        if stride != 1 or in_ch != out_ch:
            self.downsample = nn.Sequential(nn.Conv2d(in_ch, out_ch, 1, stride=stride, bias=False),
                                            nn.BatchNorm2d(out_ch))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + (x if self.downsample is None else self.downsample(x)))


class SmallResNet(StemTrunk):
    """ResNet-style backbone split like ``nets.resnet.ResNet50``: ``stem`` (/4) and ``trunk`` (/8 more).

    (B,3,128,128) -> stem (B,w0,32,32) -> trunk (B,w3,4,4) with widths (w0, w1, w2, w3).
    """

    def __init__(self, widths: tuple[int, ...] = (16, 32, 64, 128)):
        super().__init__()
        if len(widths) != 4 or any(w <= 0 for w in widths):
            raise ValueError(f"widths: expected 4 positive stage widths, got {widths}")
        self.stem_channels, self.out_channels = widths[0], widths[-1]
        self.conv1 = nn.Conv2d(3, widths[0], 7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(widths[0])
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, stride=2, padding=1)
        in_ch = widths[0]
        for i, (width, stride) in enumerate(zip(widths, (1, 2, 2, 2))):
            setattr(self, f"layer{i + 1}", nn.Sequential(BasicBlock(in_ch, width, stride)))
            in_ch = width


class ReducedCrowdNet(CrowdNet):
    """``CrowdNet`` with ``SmallResNet``; same forward, same output type, same checkpoint key layout."""

    def __init__(self, body: nn.Module, config: ModelConfig = REDUCED_CONFIG,
                 widths: tuple[int, ...] = (16, 32, 64, 128)):
        nn.Module.__init__(self)  # not CrowdNet.__init__: it always builds ResNet-50 (see module docstring)
        self.config = config
        self.widths = tuple(widths)
        self.backbone = SmallResNet(self.widths)
        self.pose2feat = Pose2Feat(num_joints=len(SMPL30), channels=self.backbone.stem_channels)
        self.position_net = PositionNet(depth=config.depth_bins, in_ch=self.backbone.out_channels)
        self.rotation_net = RotationNet(in_ch=self.backbone.out_channels, latent_dim=config.latent_dim,
                                        num_betas=config.num_betas)
        self.vposer = VPoserDecoder(latent_dim=config.latent_dim)
        self.body = body
        self.channels_last = False

    def for_inference(self):
        raise NotImplementedError("ReducedCrowdNet has no fused-BatchNorm inference copy; use it as it is")
