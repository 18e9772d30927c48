"""The seven 3DCrowdNet loss terms (TRAINING.md §4), as pure functions.

All terms are L1 and each is ``.mean()`` over every element of the masked error, so masked
entries still count in the denominator (as the official release does); the total is the plain
sum with weight 1.

Targets (a dict of tensors; B = batch):

================== ========== ==========================================================
key                shape      meaning
================== ========== ==========================================================
orig_joint_img     (B,30,3)   dataset GT joints, x/y in 64-px heatmap space, z in 64 bins
orig_joint_trunc   (B,30,1)   1 if valid and inside the 64³ volume (64² grid for 2D data)
orig_joint_valid   (B,30,1)   1 if the dataset annotates the joint
orig_joint_cam     (B,30,3)   GT root-relative camera joints, metres
fit_joint_img      (B,30,3)   pseudo-GT SMPL joints projected, same space as orig_joint_img
fit_joint_trunc    (B,30,1)   1 if the projected fit joint lies inside the volume
fit_joint_cam      (B,30,3)   pseudo-GT root-relative SMPL joints, metres
pose_param         (B,72)     pseudo-GT SMPL axis-angle pose, root first
shape_param        (B,10)     pseudo-GT betas
fit_param_valid    (B,72)     0 for ankles, toes, wrists, hands (``fit_param_valid_mask``)
is_valid_fit       (B,1)      1 if the sample has a usable SMPL fit
is_3D              (B,1)      1 for 3D datasets (depth of orig_joint_img is supervised)
================== ========== ==========================================================

PositionNet predicts the 15 graph joints (``nets.joints.GRAPH15``); the image-space targets are
the 30-joint arrays indexed with ``nets.joints.GRAPH15_IN_SMPL30``.
"""
from __future__ import annotations

import torch

from nets.joints import GRAPH15_IN_SMPL30, SMPL30

TARGET_KEYS = ("orig_joint_img", "orig_joint_trunc", "orig_joint_valid", "orig_joint_cam",
               "fit_joint_img", "fit_joint_trunc", "fit_joint_cam", "pose_param", "shape_param",
               "fit_param_valid", "is_valid_fit", "is_3D")

# SMPL joints whose fitted rotation is not supervised (official: ankles, toes, wrists, hands).
_UNSUPERVISED_POSE_JOINTS = ("L_Ankle", "R_Ankle", "L_Toe", "R_Toe", "L_Wrist", "R_Wrist", "L_Hand", "R_Hand")


def fit_param_valid_mask() -> torch.Tensor:
    """(72,) float: 1 for supervised axis-angle entries, 0 for ankles, toes, wrists and hands."""
    mask = torch.ones(24, 3)
    for name in _UNSUPERVISED_POSE_JOINTS:
        mask[SMPL30.index(name)] = 0.0
    return mask.reshape(72)


def coord_loss(pred: torch.Tensor, target: torch.Tensor, valid: torch.Tensor,
               is_3d: torch.Tensor | None = None) -> torch.Tensor:
    """Masked L1 on coordinates, mean over all elements.

    pred, target (B,J,C); valid broadcastable to (B,J,C), e.g. (B,J,1); is_3d (B,1) or None.
    With ``is_3d`` the third coordinate (depth) only counts for samples with is_3d = 1.
    Returns a scalar.
    """
    err = (pred - target).abs() * valid
    if is_3d is not None:
        err = torch.cat((err[..., :2], err[..., 2:] * is_3d.reshape(-1, 1, 1)), dim=-1)
    return err.mean()


def param_loss(pred: torch.Tensor, target: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    """Masked L1 on parameter vectors: (B,D), (B,D), valid broadcastable to (B,D) -> scalar."""
    return ((pred - target).abs() * valid).mean()


def _check_targets(targets: dict) -> None:
    missing = [k for k in TARGET_KEYS if k not in targets]
    if missing:
        raise KeyError(f"loss targets lack {missing}; expected keys {list(TARGET_KEYS)} "
                       f"(see train.losses docstring for shapes)")


def crowdnet_losses(output, targets: dict) -> dict[str, torch.Tensor]:
    """The seven official terms from a ``nets.model.CrowdNetOutput`` and the target dict above.

    Returns {name: scalar}; the training loss is ``sum(result.values())``. Spaces: image terms in
    64-px / 64-bin units (scaled by 1/8 as official), pose in radians, joints 3D in metres.
    """
    _check_targets(targets)
    t = targets
    graph = list(GRAPH15_IN_SMPL30)
    is_3d = t["is_3D"].reshape(-1, 1).to(output.joint_img.dtype)
    fit = t["is_valid_fit"].reshape(-1, 1).to(output.joint_img.dtype)
    return {
        "body_joint_img": coord_loss(output.joint_img, t["orig_joint_img"][:, graph],
                                     t["orig_joint_trunc"][:, graph], is_3d) / 8,
        "smpl_joint_img": coord_loss(output.joint_img, t["fit_joint_img"][:, graph],
                                     t["fit_joint_trunc"][:, graph] * fit[:, :, None]) / 8,
        "smpl_pose": param_loss(output.smpl_pose, t["pose_param"], t["fit_param_valid"] * fit),
        "smpl_shape": param_loss(output.smpl_shape, t["shape_param"], fit),
        "body_joint_proj": coord_loss(output.joint_proj, t["orig_joint_img"][..., :2],
                                      t["orig_joint_trunc"]) / 8,
        "body_joint_cam": coord_loss(output.joint_cam, t["orig_joint_cam"],
                                     t["orig_joint_valid"] * is_3d[:, :, None]),
        "smpl_joint_cam": coord_loss(output.joint_cam, t["fit_joint_cam"], fit[:, :, None]),
    }


def total_loss(losses: dict[str, torch.Tensor]) -> torch.Tensor:
    """Sum of the terms with weight 1 (official)."""
    return sum(losses.values())
