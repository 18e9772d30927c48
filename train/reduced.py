"""The reduced 3DCrowdNet for fast CPU runs: the small ResNet (BasicBlock [1,1,1,1]) at 128² input.

    net = ReducedCrowdNet(body)                    # = CrowdNet(body, REDUCED_CONFIG): widths 16-128, 32² heatmaps
    out = net(img (B,3,128,128), joints (B,30,2) in 32-px heatmap units, joints_mask (B,30,1))

The architecture lives in ``nets`` (``ModelConfig.backbone = "small"``, ``nets.resnet.SmallResNet``), so
``nets.checkpoint.save_checkpoint`` / ``load_model`` and ``CrowdNet.for_inference`` handle it like the
official one. This module keeps the trainer's names: ``REDUCED_CONFIG`` and ``ReducedCrowdNet``.
"""
from __future__ import annotations

from dataclasses import replace

from torch import nn

from nets.model import CrowdNet, ModelConfig
from nets.resnet import SMALL_WIDTHS, SmallResNet

__all__ = ["REDUCED_CONFIG", "ReducedCrowdNet", "SmallResNet", "reduced_config"]

# 128² crops, 32² pose heatmaps (sigma scaled with the map), 4 depth bins on a 4x4 feature map (grid 4³).
# focal 2500 at 128 px keeps the official field of view (5000 at 256 px): same camera depth constant k.
REDUCED_CONFIG = ModelConfig(input_size=128, heatmap_size=32, sigma=1.25, focal=2500.0, depth_bins=4,
                             backbone="small", widths=SMALL_WIDTHS)


def reduced_config(widths: tuple[int, ...] = SMALL_WIDTHS) -> ModelConfig:
    """``REDUCED_CONFIG`` with other stage widths."""
    return replace(REDUCED_CONFIG, widths=tuple(widths))


class ReducedCrowdNet(CrowdNet):
    """``CrowdNet(body, config)`` with the small backbone; ``widths`` (if given) replaces ``config.widths``.

    A plain ``CrowdNet`` in every respect (a subclass only so ``isinstance`` checks keep working);
    a checkpoint of it loads back through ``nets.checkpoint.load_model`` as a ``CrowdNet``.
    """

    def __init__(self, body: nn.Module, config: ModelConfig = REDUCED_CONFIG,
                 widths: tuple[int, ...] | None = None):
        if config.backbone != "small":
            raise ValueError(f"ReducedCrowdNet: config.backbone must be 'small', got {config.backbone!r}")
        if widths is not None:
            config = replace(config, widths=tuple(widths))
        super().__init__(body, config)
