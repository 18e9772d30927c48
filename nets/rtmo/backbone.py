"""CSPDarknet (YOLOX P5 layout), the backbone of RTMO, with mmpose's parameter names.

Every ``ConvBN`` is conv (no bias) + BatchNorm + SiLU; the backbone's BatchNorms use eps 1e-3.
Input: (B, 3, H, W) BGR pixels 0..255, H and W multiples of 32. Output: the stride 8, 16 and 32
feature maps of stages 2, 3 and 4.
"""
from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F


class ConvBN(nn.Module):
    """conv (no bias) -> BN -> SiLU (or no activation); names ``conv``, ``bn`` as mmcv's ConvModule."""

    def __init__(self, cin: int, cout: int, k: int = 1, stride: int = 1, groups: int = 1, eps: float = 1e-3,
                 act: bool = True):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, k, stride, k // 2, groups=groups, bias=False)
        self.bn = nn.BatchNorm2d(cout, eps=eps)
        self.act = nn.SiLU() if act else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.bn(self.conv(x)))

    @torch.no_grad()
    def fuse(self) -> "ConvBN":
        """Fold the (eval-mode) BatchNorm into the conv: one conv with bias, same outputs."""
        if isinstance(self.bn, nn.BatchNorm2d):
            k = self.bn.weight / (self.bn.running_var + self.bn.eps).sqrt()
            conv = self.conv
            fused = nn.Conv2d(conv.in_channels, conv.out_channels, conv.kernel_size, conv.stride, conv.padding,
                              groups=conv.groups, bias=True).to(conv.weight)
            fused.weight.copy_(conv.weight * k[:, None, None, None])
            fused.bias.copy_(self.bn.bias - self.bn.running_mean * k)
            self.conv, self.bn = fused, nn.Identity()
        return self


class Focus(nn.Module):
    """Space-to-depth in the order top-left, bottom-left, top-right, bottom-right, then a 3x3 ConvBN."""

    def __init__(self, cout: int):
        super().__init__()
        self.conv = ConvBN(12, cout, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(torch.cat([x[..., ::2, ::2], x[..., 1::2, ::2], x[..., ::2, 1::2], x[..., 1::2, 1::2]], 1))


class DarknetBottleneck(nn.Module):
    def __init__(self, c: int, shortcut: bool):
        super().__init__()
        self.conv1 = ConvBN(c, c, 1)
        self.conv2 = ConvBN(c, c, 3)
        self.shortcut = shortcut

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.conv2(self.conv1(x))
        return x + y if self.shortcut else y


class CSPLayer(nn.Module):
    """``final_conv(cat(blocks(main_conv(x)), short_conv(x)))``."""

    def __init__(self, cin: int, cout: int, num_blocks: int, shortcut: bool):
        super().__init__()
        mid = cout // 2
        self.main_conv = ConvBN(cin, mid, 1)
        self.short_conv = ConvBN(cin, mid, 1)
        self.final_conv = ConvBN(2 * mid, cout, 1)
        self.blocks = nn.Sequential(*[DarknetBottleneck(mid, shortcut) for _ in range(num_blocks)])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.final_conv(torch.cat([self.blocks(self.main_conv(x)), self.short_conv(x)], 1))


class SPP(nn.Module):
    """1x1 to half, concat with max-pools 5, 9, 13 (stride 1), 1x1."""

    def __init__(self, cin: int, cout: int):
        super().__init__()
        self.conv1 = ConvBN(cin, cin // 2, 1)
        self.conv2 = ConvBN(cin // 2 * 4, cout, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv1(x)
        return self.conv2(torch.cat([x] + [F.max_pool2d(x, k, 1, k // 2) for k in (5, 9, 13)], 1))


class CSPDarknet(nn.Module):
    """``widths`` = channels of stem and stages 1-4; ``depths`` = bottlenecks per stage."""

    def __init__(self, widths: tuple[int, ...], depths: tuple[int, ...]):
        super().__init__()
        self.stem = Focus(widths[0])
        for i in range(4):
            cin, cout = widths[i], widths[i + 1]
            layers = [ConvBN(cin, cout, 3, stride=2)]
            if i == 3:
                layers.append(SPP(cout, cout))
            layers.append(CSPLayer(cout, cout, depths[i], shortcut=i < 3))
            setattr(self, f"stage{i + 1}", nn.Sequential(*layers))

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        x = self.stage1(self.stem(x))
        c3 = self.stage2(x)
        c4 = self.stage3(c3)
        return [c3, c4, self.stage4(c4)]
