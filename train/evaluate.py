"""Evaluation on the synthetic held-out crowds: MPJPE / PA-MPJPE (mm) overall and per CrowdIndex bin.

    metrics = evaluate(model, test_set)           # {'mpjpe', 'pa_mpjpe', 'count', 'bins': {...}}
    print(format_table({"crowdmesh (synthetic)": metrics}))

Joints: the 14 graph joints without the pelvis (``EVAL_JOINTS``), root-relative, in millimetres,
from the model's SMPL-30 ``joint_cam`` against the generator's ground truth.
"""
from __future__ import annotations

import numpy as np
import torch
from torch.utils.data import DataLoader

from nets.joints import GRAPH15, SMPL30
from train.metrics import mpjpe, pa_mpjpe

EVAL_JOINTS = tuple(SMPL30.index(n) for n in GRAPH15 if n != "Pelvis")
CROWD_BINS = ((0.0, 0.3), (0.3, 0.6), (0.6, float("inf")))


def _summary(pred: np.ndarray, gt: np.ndarray, crowd: np.ndarray) -> dict:
    e, pa = mpjpe(pred, gt), pa_mpjpe(pred, gt)
    bins = {}
    for lo, hi in CROWD_BINS:
        sel = (crowd >= lo) & (crowd < hi)
        if sel.any():
            bins[f"{lo:.1f}-{hi:.1f}"] = {"mpjpe": float(e[sel].mean()), "pa_mpjpe": float(pa[sel].mean()),
                                          "count": int(sel.sum())}
    return {"mpjpe": float(e.mean()), "pa_mpjpe": float(pa.mean()), "count": len(e), "bins": bins}


@torch.no_grad()
def predict(model, dataset, batch_size: int = 32, device: str | torch.device = "cpu") -> tuple[np.ndarray, ...]:
    """-> predicted and ground-truth root-relative eval joints (N,14,3) mm, CrowdIndex (N,)."""
    model.eval().to(device)
    preds, gts, crowd = [], [], []
    for batch in DataLoader(dataset, batch_size=batch_size, shuffle=False):
        out = model(batch["img"].to(device), batch["joints"].to(device), batch["joints_mask"].to(device))
        preds.append(out.joint_cam[:, EVAL_JOINTS].float().cpu().numpy() * 1000)
        gts.append(batch["orig_joint_cam"][:, EVAL_JOINTS].numpy() * 1000)
        crowd.append(batch["crowd_index"].numpy())
    return np.concatenate(preds), np.concatenate(gts), np.concatenate(crowd)


def evaluate(model, dataset, batch_size: int = 32, device="cpu") -> dict:
    pred, gt, crowd = predict(model, dataset, batch_size, device)
    return _summary(pred, gt, crowd)


def mean_pose_baseline(train_set, test_set) -> dict:
    """Predict the training split's mean root-relative joints for every test person."""
    train_gt = np.stack([train_set[i]["orig_joint_cam"][list(EVAL_JOINTS)].numpy() for i in range(len(train_set))])
    test_gt = np.stack([test_set[i]["orig_joint_cam"][list(EVAL_JOINTS)].numpy() for i in range(len(test_set))])
    mean = train_gt.mean(0, keepdims=True) * 1000
    return _summary(np.repeat(mean, len(test_gt), 0), test_gt * 1000, test_set.crowd_index)


def _bin_cell(b: dict) -> str:
    return f"{b['mpjpe']:>11.1f} /{b['pa_mpjpe']:>6.1f} (n={b['count']:>3})"


def format_table(rows: dict[str, dict]) -> str:
    """The paper's layout: one row per method, MPJPE and PA-MPJPE (mm), then the CrowdIndex bins."""
    bins = [f"{lo:.1f}-{hi:.1f}" for lo, hi in CROWD_BINS]
    head = f"{'method':<28}{'MPJPE':>8}{'PA-MPJPE':>10}" + "".join(f"{'CI ' + b + ' MPJPE/PA':>24}" for b in bins)
    lines = [head, "-" * len(head)]
    for name, m in rows.items():
        cells = "".join(_bin_cell(m["bins"][b]) if b in m["bins"] else f"{'-':>24}" for b in bins)
        lines.append(f"{name:<28}{m['mpjpe']:>8.1f}{m['pa_mpjpe']:>10.1f}{cells}")
    return "\n".join(lines)
