"""RTMO's neck: the RT-DETR-style hybrid encoder, with mmpose's parameter names.

Three backbone maps (strides 8, 16, 32) are projected to ``hidden`` channels; one post-norm
transformer layer runs on the stride-32 map only; a top-down FPN and a bottom-up PAN of CSPRep layers
fuse them; the stride-16 and stride-32 results are projected to ``out_channels``. BatchNorm eps here
is 1e-5.
"""
from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from nets.rtmo.backbone import ConvBN

EPS = 1e-5


class RepVGGBlock(nn.Module):
    """``SiLU(BN(conv3x3 x) + BN(conv1x1 x))`` (no identity branch)."""

    def __init__(self, c: int):
        super().__init__()
        self.branch_3x3 = ConvBN(c, c, 3, eps=EPS, act=False)
        self.branch_1x1 = ConvBN(c, c, 1, eps=EPS, act=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.branch_3x3(x)
        return F.silu(y if self.branch_1x1 is None else y + self.branch_1x1(x))

    @torch.no_grad()
    def fuse(self) -> "RepVGGBlock":
        """Merge both branches into one 3x3 conv with bias (structural re-parameterisation)."""
        if self.branch_1x1 is not None:
            three, one = self.branch_3x3.fuse().conv, self.branch_1x1.fuse().conv
            three.weight += F.pad(one.weight, [1, 1, 1, 1])
            three.bias += one.bias
            self.branch_1x1 = None
        return self


class CSPRepLayer(nn.Module):
    """``conv3(bottlenecks(conv1(x)) + conv2(x))``; conv3 is Identity when the hidden width equals the output."""

    def __init__(self, cin: int, cout: int, num_blocks: int, mid: int):
        super().__init__()
        self.conv1 = ConvBN(cin, mid, 1, eps=EPS)
        self.conv2 = ConvBN(cin, mid, 1, eps=EPS)
        self.bottlenecks = nn.Sequential(*[RepVGGBlock(mid) for _ in range(num_blocks)])
        self.conv3 = ConvBN(mid, cout, 1, eps=EPS) if mid != cout else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv3(self.bottlenecks(self.conv1(x)) + self.conv2(x))


class _FFN(nn.Module):
    def __init__(self, dim: int, hidden: int):
        super().__init__()
        self.layers = nn.Sequential(nn.Sequential(nn.Linear(dim, hidden), nn.GELU()), nn.Linear(hidden, dim))


class _SelfAttention(nn.Module):
    def __init__(self, dim: int, heads: int):
        super().__init__()
        self.attn = nn.MultiheadAttention(dim, heads, batch_first=True)


class EncoderLayer(nn.Module):
    """Post-norm: ``x = LN(x + MHA(x + pos, x + pos, x))``; ``x = LN(x + FFN(x))``."""

    def __init__(self, dim: int = 256, heads: int = 8, ffn: int = 1024):
        super().__init__()
        self.self_attn = _SelfAttention(dim, heads)
        self.ffn = _FFN(dim, ffn)
        self.norms = nn.ModuleList([nn.LayerNorm(dim), nn.LayerNorm(dim)])

    def forward(self, x: torch.Tensor, pos: torch.Tensor) -> torch.Tensor:
        q = x + pos
        x = self.norms[0](x + self.self_attn.attn(q, q, x, need_weights=False)[0])
        return self.norms[1](x + self.ffn.layers(x))


class _Encoder(nn.Module):
    def __init__(self, dim: int):
        super().__init__()
        self.layers = nn.ModuleList([EncoderLayer(dim)])


class SinePositionEncoding(nn.Module):
    """Per token of an (H, W) map: ``[cos(y/t), sin(y/t), cos(x/t), sin(x/t)]``, y = row, x = column."""

    def __init__(self, dim: int = 256, temperature: float = 10000.0):
        super().__init__()
        n = dim // 4
        self.register_buffer("dim_t", temperature ** (torch.arange(n, dtype=torch.float32) / n))

    def forward(self, h: int, w: int) -> torch.Tensor:
        """-> (H*W, dim), row-major."""
        ys, xs = torch.meshgrid(torch.arange(h, dtype=torch.float32, device=self.dim_t.device),
                                torch.arange(w, dtype=torch.float32, device=self.dim_t.device), indexing="ij")
        y = ys.reshape(-1, 1) / self.dim_t
        x = xs.reshape(-1, 1) / self.dim_t
        return torch.cat([y.cos(), y.sin(), x.cos(), x.sin()], dim=1)


class _Projector(nn.Module):
    def __init__(self, cin: int, cout: int):
        super().__init__()
        self.convs = nn.ModuleList([ConvBN(cin, cout, 1, eps=EPS, act=False) for _ in range(2)])


class HybridEncoder(nn.Module):
    def __init__(self, in_channels: tuple[int, int, int], hidden: int, out_channels: int, num_blocks: int,
                 mid: int):
        super().__init__()
        self.input_proj = nn.ModuleList([ConvBN(c, hidden, 1, eps=EPS, act=False) for c in in_channels])
        self.encoder = nn.ModuleList([_Encoder(hidden)])
        self.sincos_pos_enc = SinePositionEncoding(hidden)
        self.lateral_convs = nn.ModuleList([ConvBN(hidden, hidden, 1, eps=EPS) for _ in range(2)])
        self.fpn_blocks = nn.ModuleList([CSPRepLayer(2 * hidden, hidden, num_blocks, mid) for _ in range(2)])
        self.downsample_convs = nn.ModuleList([ConvBN(hidden, hidden, 3, stride=2, eps=EPS) for _ in range(2)])
        self.pan_blocks = nn.ModuleList([CSPRepLayer(2 * hidden, hidden, num_blocks, mid) for _ in range(2)])
        self.projector = _Projector(hidden, out_channels)

    def forward(self, feats: list[torch.Tensor]) -> list[torch.Tensor]:
        """Backbone maps (strides 8, 16, 32) -> neck maps (strides 16, 32)."""
        proj = [p(f) for p, f in zip(self.input_proj, feats)]
        b, c, h, w = proj[2].shape
        tokens = proj[2].flatten(2).transpose(1, 2)
        tokens = self.encoder[0].layers[0](tokens, self.sincos_pos_enc(h, w).to(tokens.dtype))
        top = tokens.transpose(1, 2).reshape(b, c, h, w)
        laterals = []
        for j, low in enumerate((proj[1], proj[0])):  # top-down
            top = self.lateral_convs[j](top)
            laterals.append(top)
            top = self.fpn_blocks[j](torch.cat([F.interpolate(top, scale_factor=2.0, mode="nearest"), low], 1))
        outs = []
        for j, high in enumerate((laterals[1], laterals[0])):  # bottom-up
            top = self.pan_blocks[j](torch.cat([self.downsample_convs[j](top), high], 1))
            outs.append(top)
        return [conv(x) for conv, x in zip(self.projector.convs, outs)]
