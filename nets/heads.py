"""The 3DCrowdNet heads: Pose2Feat, PositionNet, the joint-based RotationNet and the GAP regressor (ablation).

Letters: B batch, J joints, H/W feature map. Coordinates are (x, y[, z]) in feature-map cells.
"""
import math

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_eval, fuse_linear_bn_eval

from nets.joints import GRAPH15, graph_adjacency


def gaussian_heatmaps(joints: torch.Tensor, mask: torch.Tensor, size: int = 64, sigma: float = 2.5) -> torch.Tensor:
    """(B,J,2) pixel coords + (B,J,1) mask -> (B,J,size,size) Gaussians at integer pixel centres."""
    grid = torch.arange(size, dtype=joints.dtype, device=joints.device)
    dx = (grid[None, None, None, :] - joints[..., 0, None, None]) / sigma
    dy = (grid[None, None, :, None] - joints[..., 1, None, None]) / sigma
    return torch.exp(-dx ** 2 / 2 - dy ** 2 / 2) * mask[..., None]


def sample_at(volume: torch.Tensor, coords: torch.Tensor) -> torch.Tensor:
    """Interpolate ``volume`` at cell coordinates (align-corners convention).

    2D: (B,C,H,W), (B,J,2) -> (B,J,C) bilinear. 3D: (B,C,D,H,W), (B,J,3) -> (B,J,C) trilinear.
    """
    sizes = torch.tensor(volume.shape[:1:-1], dtype=coords.dtype, device=coords.device)  # (W,H[,D])
    grid = coords / (sizes - 1) * 2 - 1
    grid = grid.reshape(grid.shape[0], *([1] * (volume.dim() - 3)), grid.shape[1], grid.shape[2])
    out = F.grid_sample(volume, grid, align_corners=True)  # (B,C,1[,1],J)
    return out.reshape(out.shape[0], out.shape[1], -1).transpose(1, 2)


class Pose2Feat(nn.Module):
    """cat(early image feature, pose heatmaps) -> 3x3 conv + BN + ReLU back to 64 channels.

    ``num_joints=0`` (no pose guidance) is the same conv on the image feature alone: ``heatmaps`` is None.
    """

    def __init__(self, num_joints: int = 30, channels: int = 64):
        super().__init__()
        self.conv = nn.Sequential(nn.Conv2d(channels + num_joints, channels, 3, padding=1),
                                  nn.BatchNorm2d(channels), nn.ReLU(inplace=True))

    def forward(self, feat: torch.Tensor, heatmaps: torch.Tensor | None) -> torch.Tensor:
        return self.conv(feat if heatmaps is None else torch.cat((feat, heatmaps), dim=1))

    def fuse_bn(self) -> None:
        """Fold the eval-mode BatchNorm into the conv (inference only; in place)."""
        self.conv = nn.Sequential(fuse_conv_bn_eval(self.conv[0], self.conv[1]), self.conv[2])


class PositionNet(nn.Module):
    """(B,2048,8,8) -> 3D soft-argmax joints (B,J,3) in cells and their confidence (B,J,1)."""

    def __init__(self, num_joints: int = len(GRAPH15), depth: int = 8, in_ch: int = 2048):
        super().__init__()
        self.num_joints, self.depth = num_joints, depth
        self.conv = nn.Sequential(nn.Conv2d(in_ch, num_joints * depth, 1))

    def forward(self, feat: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        B, _, H, W = feat.shape
        logits = self.conv(feat).reshape(B, self.num_joints, -1)  # channel j*D+z -> (z, y, x) volume
        prob = F.softmax(logits, dim=2).reshape(B, self.num_joints, self.depth, H, W)
        axes = [torch.arange(n, dtype=feat.dtype, device=feat.device) for n in (W, H, self.depth)]
        coords = torch.stack((
            (prob.sum(dim=(2, 3)) * axes[0]).sum(-1),
            (prob.sum(dim=(2, 4)) * axes[1]).sum(-1),
            (prob.sum(dim=(3, 4)) * axes[2]).sum(-1),
        ), dim=-1)
        # each joint's score: its own volume sampled at its own position
        per_joint = prob.reshape(B * self.num_joints, 1, self.depth, H, W)
        score = sample_at(per_joint, coords.reshape(B * self.num_joints, 1, 3))
        return coords, score.reshape(B, self.num_joints, 1)


class GraphConvBlock(nn.Module):
    """A separate Linear + BN1d for each graph node, then ``adj @ feat``, then ReLU."""

    def __init__(self, adj: torch.Tensor, dim_in: int, dim_out: int):
        super().__init__()
        self.register_buffer("adj", adj, persistent=False)
        self.fcbn_list = nn.ModuleList(
            nn.Sequential(nn.Linear(dim_in, dim_out), nn.BatchNorm1d(dim_out)) for _ in range(adj.shape[0]))

    def forward(self, feat: torch.Tensor) -> torch.Tensor:
        """(B,J,dim_in) -> (B,J,dim_out)."""
        if hasattr(self, "fused_weight"):
            feat = torch.einsum("bji,joi->bjo", feat, self.fused_weight) + self.fused_bias
        else:
            feat = torch.stack([fcbn(feat[:, j]) for j, fcbn in enumerate(self.fcbn_list)], dim=1)
        return F.relu(self.adj @ feat)

    @torch.no_grad()
    def fuse_bn(self) -> None:
        """Inference only: fold each node's BN (running statistics) into its Linear and stack the J nodes into
        one (J, dim_out, dim_in) weight, so a block is one batched matmul instead of J Linear + BN calls.
        The stacked tensors are non-persistent buffers: state_dict (and checkpoints) are unchanged."""
        weights, biases = [], []
        for linear, bn in self.fcbn_list:
            scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
            weights.append(linear.weight * scale[:, None])
            biases.append((linear.bias - bn.running_mean) * scale + bn.bias)
        self.register_buffer("fused_weight", torch.stack(weights), persistent=False)
        self.register_buffer("fused_bias", torch.stack(biases), persistent=False)


class GraphResBlock(nn.Module):
    def __init__(self, adj: torch.Tensor, dim: int):
        super().__init__()
        self.graph_block1 = GraphConvBlock(adj, dim, dim)
        self.graph_block2 = GraphConvBlock(adj, dim, dim)

    def forward(self, feat: torch.Tensor) -> torch.Tensor:
        return feat + self.graph_block2(self.graph_block1(feat))


class RotationNet(nn.Module):
    """Joint-based regressor: features sampled at each joint -> GCN -> root 6D, VPoser z, betas, camera."""

    def __init__(self, in_ch: int = 2048, hidden: int = 128, num_res_blocks: int = 4,
                 latent_dim: int = 32, num_betas: int = 10):
        super().__init__()
        adj = torch.from_numpy(graph_adjacency())
        n = adj.shape[0]
        self.num_joints, self.hidden = n, hidden
        self.graph_block = nn.Sequential(GraphConvBlock(adj, in_ch + 4, hidden),
                                         *[GraphResBlock(adj, hidden) for _ in range(num_res_blocks)])
        self.root_pose_out = nn.Sequential(nn.Linear(n * hidden, 6))
        self.pose_out = nn.Sequential(nn.Linear(n * hidden, latent_dim))
        self.shape_out = nn.Sequential(nn.Linear(n * hidden, num_betas))
        self.cam_out = nn.Sequential(nn.Linear(n * hidden, 3))

    def fuse_bn(self) -> None:
        """Inference only: every graph block as one batched matmul (``GraphConvBlock.fuse_bn``)."""
        for block in self.modules():
            if isinstance(block, GraphConvBlock):
                block.fuse_bn()

    def forward(self, feat: torch.Tensor, joint_coords: torch.Tensor, joint_score: torch.Tensor):
        """(B,C,H,W), (B,J,3) cells, (B,J,1) -> root 6D (B,6), z (B,32), betas (B,10), camera (B,3)."""
        node = torch.cat((sample_at(feat, joint_coords[..., :2]), joint_coords, joint_score), dim=2)
        node = self.graph_block(node).reshape(feat.shape[0], self.num_joints * self.hidden)
        return self.root_pose_out(node), self.pose_out(node), self.shape_out(node), self.cam_out(node)


def gap_hidden_width(in_ch: int, target_params: int, num_outputs: int) -> int:
    """The hidden width h of ``GapRegressor`` whose parameter count comes closest to ``target_params``.

    Count: Linear(in_ch, h) + BN + Linear(h, h) + BN + heads Linear(h, num_outputs)
    = h² + (in_ch + num_outputs + 6) h + num_outputs; solved for h and rounded.
    """
    b = in_ch + num_outputs + 6
    h = (-b + math.sqrt(b * b + 4 * max(target_params - num_outputs, 0))) / 2
    return max(1, round(h))


class GapRegressor(nn.Module):
    """Ablation of RotationNet: global average pooling of the feature -> 2-layer MLP -> the same four heads.

    No joint sampling and no graph: the joints passed to ``forward`` are ignored.
    """

    def __init__(self, in_ch: int = 2048, hidden: int = 1024, latent_dim: int = 32, num_betas: int = 10):
        super().__init__()
        self.mlp = nn.Sequential(nn.Linear(in_ch, hidden), nn.BatchNorm1d(hidden), nn.ReLU(inplace=True),
                                 nn.Linear(hidden, hidden), nn.BatchNorm1d(hidden), nn.ReLU(inplace=True))
        self.root_pose_out = nn.Sequential(nn.Linear(hidden, 6))
        self.pose_out = nn.Sequential(nn.Linear(hidden, latent_dim))
        self.shape_out = nn.Sequential(nn.Linear(hidden, num_betas))
        self.cam_out = nn.Sequential(nn.Linear(hidden, 3))

    @torch.no_grad()
    def fuse_bn(self) -> None:
        """Inference only: fold each eval-mode BatchNorm1d into the Linear before it (in place)."""
        lin1, bn1, relu1, lin2, bn2, relu2 = self.mlp
        self.mlp = nn.Sequential(fuse_linear_bn_eval(lin1, bn1), relu1, fuse_linear_bn_eval(lin2, bn2), relu2)

    def forward(self, feat: torch.Tensor, joint_coords: torch.Tensor | None = None,
                joint_score: torch.Tensor | None = None):
        """(B,C,H,W) -> root 6D (B,6), z (B,latent_dim), betas (B,num_betas), camera (B,3)."""
        node = self.mlp(feat.mean(dim=(2, 3)))
        return self.root_pose_out(node), self.pose_out(node), self.shape_out(node), self.cam_out(node)
