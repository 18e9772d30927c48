"""CrowdNet: the 3DCrowdNet network (2D-pose-guided ResNet-50 + joint-based regressor) with SMPL.

Shapes: B people (crops), V mesh vertices. Inputs are per-person crops, see ``CrowdNet.forward``.

    CrowdNet(body)                       # the official architecture: ResNet-50, 256² crops, 64² heatmaps
    CrowdNet(body, ModelConfig(backbone="small", input_size=128, heatmap_size=32, sigma=1.25,
                               focal=2500.0, depth_bins=4))   # the reduced CPU model (train.reduced)

    CrowdNet(body, ModelConfig(regressor="gap", pose_guidance=False))  # ablations (see ModelConfig)

    model.for_inference(precision="bf16")  # BN folded; the network under bf16 autocast, SMPL in fp32

Crops for any config come from ``nets.crops.crop_people(..., CropConfig(cfg.input_size, cfg.heatmap_size))``.
"""
import copy
import math
from dataclasses import asdict, dataclass
from typing import Literal

import torch
from torch import nn

from nets.config import check
from nets.devices import DTYPES, autocast
from nets.geometry import rot6d_to_axis_angle
from nets.heads import GapRegressor, Pose2Feat, PositionNet, RotationNet, gap_hidden_width, gaussian_heatmaps
from nets.joints import SMPL30
from nets.resnet import BACKBONES, build_backbone
from nets.vposer import VPoserDecoder


REGRESSORS = ("joint", "gap")


def make_regressor(name: str, in_ch: int, latent_dim: int, num_betas: int) -> nn.Module:
    """The regressor ``name`` ("joint": ``RotationNet``; "gap": ``GapRegressor`` as wide as makes its parameter
    count closest to that RotationNet's). Both map (feature, joints, scores) to root 6D, z, betas, camera."""
    if name not in REGRESSORS:
        raise ValueError(f"regressor: unknown name {name!r}; valid: {list(REGRESSORS)}")
    if name == "joint":
        return RotationNet(in_ch=in_ch, latent_dim=latent_dim, num_betas=num_betas)
    with torch.device("meta"):   # counted, never allocated
        target = sum(p.numel() for p in RotationNet(in_ch, latent_dim=latent_dim, num_betas=num_betas).parameters())
    hidden = gap_hidden_width(in_ch, target, 6 + latent_dim + num_betas + 3)
    return GapRegressor(in_ch, hidden, latent_dim=latent_dim, num_betas=num_betas)


@dataclass(frozen=True)
class ModelConfig:
    """The backbone, the geometry of the crops and the virtual camera (defaults: the official 3DPW test setting).

    ``backbone`` is a key of ``nets.resnet.BACKBONES``: "resnet50" (official) or "small" (``SmallResNet``,
    stage ``widths``, None for its default (16, 32, 64, 128)). The heads take their widths from the backbone.

    Ablations (the defaults are the official network): ``regressor="gap"`` replaces the joint-based
    RotationNet by global average pooling + an MLP to the same outputs, its width chosen so its parameter
    count matches RotationNet's (``make_regressor``); ``pose_guidance=False`` drops the 2D pose heatmaps
    from the early feature (Pose2Feat's conv then reads the image feature alone), so the input 2D pose is
    unused. The joint-based regressor samples at PositionNet's predicted joints in every variant.
    """

    input_size: int = 256        # crop side, pixels
    heatmap_size: int = 64       # 2D pose / output joint units: pixels of a 64x64 map of the crop
    sigma: float = 2.5           # Gaussian of the pose heatmaps, heatmap pixels
    focal: float = 5000.0        # virtual focal length, crop pixels
    camera_3d_size: float = 2.5  # metres spanned by the crop at the reference depth
    depth_bins: int = 8          # PositionNet depth resolution
    num_betas: int = 10
    latent_dim: int = 32         # VPoser
    backbone: Literal["resnet50", "small"] = "resnet50"
    widths: tuple[int, ...] | None = None  # stage widths of the "small" backbone; None for its default
    regressor: Literal["joint", "gap"] = "joint"  # "joint": RotationNet (official); "gap": GapRegressor (ablation)
    pose_guidance: bool = True   # False (ablation): no 2D pose heatmaps joined to the early image feature

    def __post_init__(self):
        check(self, "backbone", self.backbone in BACKBONES, f"one of {sorted(BACKBONES)}")
        check(self, "regressor", self.regressor in REGRESSORS, f"one of {list(REGRESSORS)}")
        check(self, "pose_guidance", isinstance(self.pose_guidance, bool), "true or false")
        if self.widths is not None:
            check(self, "widths", self.backbone != "resnet50", "None: backbone 'resnet50' has fixed widths")
            object.__setattr__(self, "widths", tuple(self.widths))  # a list from a checkpoint or YAML


@dataclass
class CrowdNetOutput:
    joint_img: torch.Tensor        # (B,15,3) refined joints, heatmap pixels (x, y) and depth bin ×8
    joint_score: torch.Tensor      # (B,15,1)
    smpl_pose: torch.Tensor        # (B,72) axis-angle, root first, hands zero
    smpl_shape: torch.Tensor       # (B,10) betas
    cam_param: torch.Tensor        # (B,3) raw camera output
    cam_trans: torch.Tensor        # (B,3) metres, crop camera
    joint_proj: torch.Tensor       # (B,30,2) heatmap pixels
    joint_cam: torch.Tensor        # (B,30,3) metres, root-relative
    smpl_mesh_cam: torch.Tensor    # (B,V,3) metres, root-relative
    mesh_cam_render: torch.Tensor  # (B,V,3) metres, crop camera (cam_trans applied)
    root_pose_6d: torch.Tensor     # (B,6)
    vposer_z: torch.Tensor         # (B,32)

    def numpy(self) -> dict:
        return {k: v.detach().cpu().numpy() for k, v in asdict(self).items()}


class CrowdNet(nn.Module):
    """Build untrained with ``CrowdNet(body)``; load weights with ``nets.checkpoint.load_model``.

    ``body`` is a ``nets.body.BodyModel`` (SMPL + the 30-joint regressor). It is not part of the
    network's own weights: project checkpoints never contain the licensed body model.
    """

    def __init__(self, body: nn.Module, config: ModelConfig = ModelConfig()):
        super().__init__()
        self.config = config
        self.backbone = build_backbone(config.backbone, config.widths)
        stem, out = self.backbone.stem_channels, self.backbone.out_channels
        self.pose2feat = Pose2Feat(num_joints=len(SMPL30) if config.pose_guidance else 0, channels=stem)
        self.position_net = PositionNet(depth=config.depth_bins, in_ch=out)
        self.rotation_net = make_regressor(config.regressor, out, config.latent_dim, config.num_betas)
        self.vposer = VPoserDecoder(latent_dim=config.latent_dim)
        self.body = body
        self.channels_last = False
        self.precision = "fp32"   # "bf16" | "fp16": autocast of the network; geometry and SMPL stay fp32

    @classmethod
    def from_checkpoint(cls, path, body: nn.Module) -> "CrowdNet":
        """Rebuild from a project checkpoint (config inside) or the official release format."""
        from nets.checkpoint import load_model
        return load_model(path, body)

    def for_inference(self, precision: str = "fp32") -> "CrowdNet":
        """A copy for fast inference: BatchNorm folded into the convs, channels-last memory, the network
        under autocast to ``precision`` ("fp32", "bf16" or "fp16"; see ``nets.devices``).

        In fp32, same outputs up to float rounding (the parity tests hold); its weights no longer load or
        save as checkpoints, and it cannot train.
        """
        if precision not in ("fp32", *DTYPES):
            raise ValueError(f"precision {precision!r}: expected 'fp32' or one of {list(DTYPES)} "
                             "(resolve 'auto' with nets.devices.resolve_precision)")
        fast = copy.deepcopy(self).eval()
        fast.precision = precision
        fast.backbone.fuse_bn()
        fast.pose2feat.fuse_bn()
        fast.rotation_net.fuse_bn()
        fast.channels_last = True
        return fast.to(memory_format=torch.channels_last)

    def network_state_dict(self) -> dict[str, torch.Tensor]:
        """The learned weights, without the body model's buffers."""
        return {k: v for k, v in self.state_dict().items() if not k.startswith("body.")}

    def features(self, img: torch.Tensor, joints: torch.Tensor, joints_mask: torch.Tensor):
        """Pose-guided image features: (B,3,256,256), (B,30,2), (B,30,1) -> (B,2048,8,8) for ResNet-50
        ((B,3,128,128) -> (B,128,4,4) for the default small backbone)."""
        cfg = self.config
        if self.channels_last:
            img = img.contiguous(memory_format=torch.channels_last)
        heatmaps = None
        if cfg.pose_guidance:
            heatmaps = gaussian_heatmaps(joints[..., :2], joints_mask, cfg.heatmap_size, cfg.sigma)
        return self.backbone.trunk(self.pose2feat(self.backbone.stem(img), heatmaps))

    def camera_translation(self, cam_param: torch.Tensor, bbox: torch.Tensor | None) -> torch.Tensor:
        """(B,3) -> (B,3): t_xy raw, t_z = k·sigmoid(c). With ``bbox`` (B,4) xywh, k scales to the box."""
        cfg = self.config
        k = math.sqrt(cfg.focal * cfg.focal * cfg.camera_3d_size ** 2 / cfg.input_size ** 2)
        k = torch.full_like(cam_param[:, 2], k)
        if bbox is not None:
            k = k * cfg.input_size / (bbox[:, 2] * bbox[:, 3]).sqrt()
        return torch.cat((cam_param[:, :2], (k * torch.sigmoid(cam_param[:, 2]))[:, None]), dim=1)

    def project(self, points: torch.Tensor) -> torch.Tensor:
        """(B,N,3) crop-camera metres -> (B,N,2) heatmap pixels."""
        cfg = self.config
        uv = points[..., :2] / (points[..., 2:] + 1e-4) * cfg.focal + cfg.input_size / 2
        return uv * (cfg.heatmap_size / cfg.input_size)

    def forward(self, img: torch.Tensor, joints: torch.Tensor, joints_mask: torch.Tensor,
                bbox: torch.Tensor | None = None) -> CrowdNetOutput:
        """Regress SMPL for a batch of person crops.

        img (B,3,256,256) RGB in [0,1]; joints (B,30,2+) 2D pose in heatmap pixels (only x, y are
        read); joints_mask (B,30,1) 1 for valid joints; bbox (B,4) xywh of each crop in the original
        image, or None. With ``bbox`` the camera depth is scaled to the box (the official "render"
        camera, right for drawing on the image: focal ``config.focal`` image pixels, principal point at
        the box centre); without it every crop shares one reference depth.

        With ``precision`` "bf16"/"fp16" the network runs under autocast and its outputs return to float32
        before VPoser, the rotations, the camera and SMPL.
        """
        with autocast(img.device, self.precision):
            feat = self.features(img, joints, joints_mask)
            joint_coords, joint_score = self.position_net(feat)
            root_6d, z, betas, cam_param = self.rotation_net(feat, joint_coords.detach(), joint_score.detach())
        # float() returns the same tensor when it is float32 already: the fp32 path is unchanged
        joint_coords, joint_score, root_6d, z, betas, cam_param = (
            t.float() for t in (joint_coords, joint_score, root_6d, z, betas, cam_param))
        body_pose = self.vposer.decode_axis_angle(z).reshape(z.shape[0], -1)
        hands = body_pose.new_zeros(z.shape[0], 6)
        pose = torch.cat((rot6d_to_axis_angle(root_6d), body_pose, hands), dim=1)
        cam_trans = self.camera_translation(cam_param, bbox)
        mesh = self.body(pose, betas, cam_trans)
        root = mesh.joints[:, :1]
        return CrowdNetOutput(
            joint_img=joint_coords * (self.config.heatmap_size / feat.shape[-1]),
            joint_score=joint_score, smpl_pose=pose, smpl_shape=betas, cam_param=cam_param,
            cam_trans=cam_trans, joint_proj=self.project(mesh.joints), joint_cam=mesh.joints - root,
            smpl_mesh_cam=mesh.vertices - root, mesh_cam_render=mesh.vertices,
            root_pose_6d=root_6d, vposer_z=z)
