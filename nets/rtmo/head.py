"""RTMO's head: dense per-anchor outputs, decoding, NMS and the dynamic coordinate classifier (DCC).

Names follow mmpose's checkpoints (``head.head_module.*``, ``head.dcc.*``, ``head.loss_oks.sigmas``).
Everything works in network-input pixels; mapping back to the image is the caller's job.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from nets.rtmo.backbone import ConvBN

STRIDES = (16, 32)
DCC_DIM = 128


class RTMOHeadModule(nn.Module):
    """Per level: the first half of the channels -> class logit; the second half -> box, visibility, pose vector."""

    def __init__(self, cin: int, num_keypoints: int, pose_channels: int, pose_vec: int, groups: int = 8):
        super().__init__()
        half, levels = cin // 2, range(len(STRIDES))
        self.conv_cls = nn.ModuleList([nn.Sequential(ConvBN(half, half, 3), ConvBN(half, half, 3)) for _ in levels])
        self.out_cls = nn.ModuleList([nn.Conv2d(half, 1, 1) for _ in levels])
        self.conv_pose = nn.ModuleList([
            nn.Sequential(ConvBN(half, pose_channels, 3), *[ConvBN(pose_channels, pose_channels, 3, groups=groups)
                                                            for _ in range(3)])
            for _ in levels])
        self.out_bbox = nn.ModuleList([nn.Conv2d(pose_channels, 4, 1) for _ in levels])
        self.out_kpt_reg = nn.ModuleList([nn.Conv2d(pose_channels, 2 * num_keypoints, 1) for _ in levels])  # training only
        self.out_kpt_vis = nn.ModuleList([nn.Conv2d(pose_channels, num_keypoints, 1) for _ in levels])
        self.out_pose = nn.ModuleList([nn.Conv2d(pose_channels, pose_vec, 1) for _ in levels])

    def forward(self, feats: list[torch.Tensor]) -> dict[str, list[torch.Tensor]]:
        """Neck maps -> per level raw maps ``cls (B,1,H,W)``, ``bbox (B,4,H,W)``, ``vis (B,K,H,W)``, ``pose (B,C,H,W)``."""
        out = {"cls": [], "bbox": [], "vis": [], "pose": []}
        for i, x in enumerate(feats):
            cls_feat, pose_feat = x.chunk(2, dim=1)
            pose_feat = self.conv_pose[i](pose_feat)
            out["cls"].append(self.out_cls[i](self.conv_cls[i](cls_feat)))
            out["bbox"].append(self.out_bbox[i](pose_feat))
            out["vis"].append(self.out_kpt_vis[i](pose_feat))
            out["pose"].append(self.out_pose[i](pose_feat))
        return out


class _ScaleNorm(nn.Module):
    def __init__(self, dim: int):
        super().__init__()
        self.scale = dim ** -0.5
        self.g = nn.Parameter(torch.ones(1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x / (x.norm(dim=-1, keepdim=True) * self.scale).clamp(min=1e-5) * self.g


class _Scale(nn.Module):
    def __init__(self, shape=()):
        super().__init__()
        self.scale = nn.Parameter(torch.ones(shape))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.scale


class GAU(nn.Module):
    """Gated attention unit over the K keypoint tokens, with a learned per-keypoint position code."""

    def __init__(self, dim: int = DCC_DIM, expansion: int = 256):
        super().__init__()
        self.e = expansion
        self.ln = _ScaleNorm(dim)
        self.uv = nn.Linear(dim, 2 * expansion + dim, bias=False)
        self.gamma = nn.Parameter(torch.ones(2, dim))
        self.beta = nn.Parameter(torch.zeros(2, dim))
        self.o = nn.Linear(expansion, dim, bias=False)
        self.res_scale = _Scale(dim)

    def forward(self, x: torch.Tensor, pos: torch.Tensor) -> torch.Tensor:
        u, v, base = F.silu(self.uv(self.ln(x))).split([self.e, self.e, x.shape[-1]], dim=-1)
        q = base * self.gamma[0] + self.beta[0] + pos
        k = base * self.gamma[1] + self.beta[1] + pos
        attn = F.relu(q @ k.transpose(1, 2) / math.sqrt(x.shape[-1])).square()
        return self.res_scale(x) + self.o(u * (attn @ v))


class _Encoding(nn.Module):
    def __init__(self, n: int = DCC_DIM // 2, temperature: float = 300.0):
        super().__init__()
        self.register_buffer("dim_t", temperature ** (torch.arange(n, dtype=torch.float32) / n))

    def forward(self, b: torch.Tensor) -> torch.Tensor:
        """(N, bins) -> (N, bins, 2n) as ``[cos(b/t), sin(b/t)]``."""
        b = b[..., None] / self.dim_t
        return torch.cat([b.cos(), b.sin()], dim=-1)


class DCC(nn.Module):
    """Dynamic coordinate classifier: pose vector + box -> keypoints by soft-argmax over box-scaled bins."""

    def __init__(self, num_keypoints: int, pose_vec: int, x_bins: int = 192, y_bins: int = 256):
        super().__init__()
        k = num_keypoints
        self.pos_enc = nn.Parameter(torch.zeros(k, DCC_DIM))
        self.register_buffer("x_bins", torch.linspace(-0.5, 0.5, x_bins))
        self.register_buffer("y_bins", torch.linspace(-0.5, 0.5, y_bins))
        self.spe = _Encoding()
        self.gau = GAU()
        self.pose_to_kpts = nn.Sequential(nn.Linear(pose_vec, k * DCC_DIM), nn.BatchNorm1d(k * DCC_DIM))
        self.x_fc = nn.Linear(DCC_DIM, DCC_DIM)
        self.y_fc = nn.Linear(DCC_DIM, DCC_DIM)
        self.sigma_fc = nn.Sequential(nn.Linear(pose_vec, k), nn.Sigmoid(), _Scale())  # training loss only

    def forward(self, pose_vecs: torch.Tensor, bbox_cs: torch.Tensor, grids: torch.Tensor) -> dict[str, torch.Tensor]:
        """(N,C) pose vectors, (N,4) box centre + scale, (N,2) anchor points -> keypoints (N,K,2) and internals."""
        n = len(pose_vecs)
        pre = self.pose_to_kpts(pose_vecs).reshape(n, len(self.pos_enc), DCC_DIM)
        feats = self.gau(pre, self.pos_enc)
        out = {"kpt_feats_pre_gau": pre, "kpt_feats": feats}
        coords = []
        for axis, bins, fc in ((0, self.x_bins, self.x_fc), (1, self.y_bins, self.y_fc)):
            size, centre = bbox_cs[:, 2 + axis, None], bbox_cs[:, axis, None]
            enc = fc(self.spe(bins * size + (centre - grids[:, axis, None])))
            logits = feats @ enc.transpose(1, 2)
            z = logits.clamp(-5e4, 5e4)
            z = (z - z.amax(dim=-1, keepdim=True)).exp()
            hm = z / (z.sum(dim=-1, keepdim=True) + 1e-8)
            coords.append((hm * (bins * size + centre)[:, None, :]).sum(dim=-1))
            name = "xy"[axis]
            out.update({f"{name}_bins_enc": enc, f"{name}_logits": logits, f"{name}_hms": hm})
        out["keypoints"] = torch.stack(coords, dim=-1)
        return out


def priors(h: int, w: int, stride: int, device=None) -> torch.Tensor:
    """(H*W, 2) anchor points ``(col*s + (s-1)/2, row*s + (s-1)/2)``, row-major."""
    ys, xs = torch.meshgrid(torch.arange(h, device=device), torch.arange(w, device=device), indexing="ij")
    off = (stride - 1) / 2
    return torch.stack([xs.reshape(-1) * stride + off, ys.reshape(-1) * stride + off], dim=1).float()


def nms(boxes: np.ndarray, thr: float) -> np.ndarray:
    """Greedy NMS on (N,4) xyxy boxes already in descending score order; drops IoU > thr. -> kept indices."""
    x1, y1, x2, y2 = boxes.T
    area = (x2 - x1) * (y2 - y1)
    iw = (np.minimum(x2[:, None], x2[None]) - np.maximum(x1[:, None], x1[None])).clip(min=0)
    ih = (np.minimum(y2[:, None], y2[None]) - np.maximum(y1[:, None], y1[None])).clip(min=0)
    inter = iw * ih
    over = inter / np.maximum(area[:, None] + area[None] - inter, 1e-6) > thr
    suppressed = np.zeros(len(boxes), bool)
    keep = []
    for i in range(len(boxes)):
        if not suppressed[i]:
            keep.append(i)
            suppressed |= over[i]
    return np.asarray(keep, dtype=np.int64)


@dataclass
class Instances:
    """People found in one network input, in input pixels, by descending score."""
    keypoints: torch.Tensor        # (N, K, 2)
    keypoint_scores: torch.Tensor  # (N, K)
    bboxes: torch.Tensor           # (N, 4) xyxy, clamped to the input
    scores: torch.Tensor           # (N,)
    debug: dict                    # candidates, NMS and DCC internals (for parity checks)


class RTMOHead(nn.Module):
    def __init__(self, cin: int, num_keypoints: int, pose_channels: int, pose_vec: int):
        super().__init__()
        self.head_module = RTMOHeadModule(cin, num_keypoints, pose_channels, pose_vec)
        self.dcc = DCC(num_keypoints, pose_vec)
        self.loss_oks = nn.Module()  # holds the training loss' OKS sigmas, kept so checkpoints load strictly
        self.loss_oks.register_buffer("sigmas", torch.ones(num_keypoints))

    def decode(self, raw: dict[str, list[torch.Tensor]], input_hw: tuple[int, int], score_thr: float = 0.1,
               nms_thr: float = 0.65) -> list[Instances]:
        """Raw head maps of a batch -> one ``Instances`` per input."""
        grid = torch.cat([priors(*x.shape[2:], s, x.device) for x, s in zip(raw["cls"], STRIDES)])
        strides = torch.cat([torch.full((x.shape[2] * x.shape[3],), float(s), device=x.device)
                             for x, s in zip(raw["cls"], STRIDES)])

        def flat(name):
            return torch.cat([x.flatten(2) for x in raw[name]], dim=2).transpose(1, 2)  # (B, A, C)

        scores_all, bbox, vis, pose = flat("cls")[..., 0].sigmoid(), flat("bbox"), flat("vis"), flat("pose")
        centre = bbox[..., :2] * strides[:, None] + grid
        wh = bbox[..., 2:].exp() * strides[:, None]
        boxes_all = torch.cat([centre - wh / 2, centre + wh / 2], dim=-1)
        h, w = input_hw
        results = []
        for b in range(len(scores_all)):
            cand = torch.nonzero(scores_all[b] > score_thr)[:, 0]
            cand = cand[torch.sort(scores_all[b, cand], descending=True).indices]
            keep = torch.as_tensor(nms(boxes_all[b, cand].double().cpu().numpy(), nms_thr), device=cand.device)
            idx = cand[keep]
            box = boxes_all[b, idx]
            bbox_cs = torch.cat([(box[:, :2] + box[:, 2:]) / 2, (box[:, 2:] - box[:, :2]) * 1.25], dim=1)
            dcc = self.dcc(pose[b, idx], bbox_cs, grid[idx])
            clamped = torch.stack([box[:, 0].clamp(0, w), box[:, 1].clamp(0, h), box[:, 2].clamp(0, w),
                                   box[:, 3].clamp(0, h)], dim=1)
            debug = {"all_scores": scores_all[b], "cand_idx": cand, "cand_scores": scores_all[b, cand],
                     "cand_bboxes": boxes_all[b, cand], "nms_keep": keep, "final_anchor_idx": idx,
                     "dcc_pose_vecs": pose[b, idx], "dcc_bbox_cs": bbox_cs, "dcc_grids": grid[idx],
                     "dcc": dcc, "priors": grid, "strides": strides,
                     "raw": {name: [x[b] for x in maps] for name, maps in raw.items()}}
            results.append(Instances(dcc["keypoints"], vis[b, idx].sigmoid(), clamped, scores_all[b, idx], debug))
        return results
