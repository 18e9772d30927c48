"""Evaluation: synthetic held-out crowds, and the official test sets 3DPW, 3DPW-Crowd, MuPoTS.

    metrics = evaluate(model, test_set)           # synthetic: {'mpjpe', 'pa_mpjpe', 'count', 'bins': {...}}
    print(format_table({"crowdmesh (synthetic)": metrics}))
    scores = evaluate_recipe(model, cfg)          # {'PW3D-Crowd': {mpjpe, pa_mpjpe, mpvpe}, 'MuPoTS': {pck_all, ...}}
    print(format_official_table({"crowdmesh": scores}))

Synthetic: the 14 graph joints without the pelvis (``EVAL_JOINTS``), root-relative, in millimetres,
from the model's SMPL-30 ``joint_cam`` against the generator's ground truth.

Official (TRAINING.md §5): 3DPW / 3DPW-Crowd compare the predicted (neutral) mesh with the GT mesh of
the gendered SMPL (``data.smpl_male/smpl_female``; the neutral body when unset) through
``J_regressor_h36m_correct`` (14 joints, pelvis-centred; MPJPE, PA-MPJPE) and per vertex (MPVPE).
MuPoTS: MI-17 joints of the predicted mesh plus the GT root, 3DPCK@150 mm in the Python port
``nets.metrics.mupots_3dpck``. Regressor files are read from their official places under
``data.root`` (``Human36M/J_regressor_h36m_correct.npy``, ``MPI_INF_3DHP/J_regressor_mi_smpl.npy``);
without them the body's SMPL-30 joints of the same names stand in (MuPoTS Thorax = Neck).
"""
from __future__ import annotations

import copy
import logging
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader

from nets.body import BodyModel
from nets.joints import GRAPH15, H36M17, MUPOTS17, SMPL30
from nets.metrics import mpjpe, mpvpe, mupots_3dpck, pa_mpjpe
from train.pipeline import H36M_REGRESSOR

log = logging.getLogger(__name__)

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


# ---------------------------------------------------------------- official test sets (TRAINING.md §5)

PW3D_EVAL_JOINTS = (1, 2, 3, 4, 5, 6, 8, 10, 11, 12, 13, 14, 15, 16)   # H36M-17 without Pelvis, Torso, Nose
MI_REGRESSOR = Path("MPI_INF_3DHP") / "J_regressor_mi_smpl.npy"       # official place, under data.root
MUPOTS_ROOT = MUPOTS17.index("Pelvis")
_BY_NAME_FALLBACK = {"Thorax": "Neck"}   # MuPoTS-17 joints SMPL-30 lacks, when no MI regressor is present


def regressed_joints(mesh: np.ndarray, body, names: tuple[str, ...], regressor: np.ndarray | None) -> np.ndarray:
    """(N,V,3) meshes -> (N,K,3): ``regressor`` (K,V) rows times the mesh, or, without one, the body's
    SMPL-30 joints picked by the names (a documented approximation of the official regressors)."""
    if regressor is not None:
        return np.einsum("kv,nvc->nkc", regressor[:len(names)], mesh)
    reg30 = body.joint_regressor.detach().cpu().double().numpy()
    index = [SMPL30.index(_BY_NAME_FALLBACK.get(n, n)) for n in names]
    return np.einsum("kv,nvc->nkc", reg30[index], mesh)


def pw3d_scores(pred_mesh: np.ndarray, gt_mesh: np.ndarray, body, regressor: np.ndarray | None = None) -> dict:
    """(N,V,3), (N,V,3) metres (any translation) -> MPJPE, PA-MPJPE (14 H36M joints, pelvis-centred)
    and MPVPE (each mesh centred on its SMPL joint 0), in mm, averaged over people."""
    pj, gj = (regressed_joints(m, body, H36M17, regressor) for m in (pred_mesh, gt_mesh))
    pj, gj = pj - pj[:, :1], gj - gj[:, :1]
    eval_j = list(PW3D_EVAL_JOINTS)
    root = body.joint_regressor[0].detach().cpu().double().numpy()
    roots = [np.einsum("v,nvc->nc", root, m) for m in (pred_mesh, gt_mesh)]
    return {"mpjpe": float(mpjpe(pj[:, eval_j], gj[:, eval_j]).mean() * 1000),
            "pa_mpjpe": float(pa_mpjpe(pj[:, eval_j], gj[:, eval_j]).mean() * 1000),
            "mpvpe": float(mpvpe(pred_mesh, gt_mesh, *roots).mean() * 1000), "count": len(pred_mesh)}


@torch.no_grad()
def gt_meshes(records, bodies: dict) -> np.ndarray:
    """(N,V,3) metres: each record's SMPL fit through ``bodies[gender]`` (``bodies['neutral']`` if absent)."""
    out = []
    for r in records:
        body = bodies.get(r.fit.gender, bodies["neutral"])
        t = lambda a: torch.as_tensor(np.asarray(a, np.float32)[None])  # noqa: E731
        out.append(body(t(r.fit.pose), t(r.fit.shape), t(r.fit.trans)).vertices[0].double().cpu().numpy())
    return np.stack(out) if out else np.zeros((0, 0, 3))


def mupots_scores(pred_rel_mm: np.ndarray, records) -> dict:
    """(N,17,3) pelvis-relative MuPoTS-17 predictions (mm), one per record -> 3DPCK (%) "all" / "matched".

    As official: the prediction gets the GT root; its 2D pose (for the 40-px matching) is its
    projection with the GT intrinsics; people are grouped by image."""
    images: dict[int, dict] = {}
    for pred, r in zip(pred_rel_mm, records):
        gt = r.native_cam * 1000.0
        pred_3d = pred - pred[MUPOTS_ROOT] + gt[MUPOTS_ROOT]
        im = images.setdefault(r.image_id, {k: [] for k in ("gt_2d", "gt_3d", "pred_2d", "pred_3d", "gt_valid")})
        im["gt_2d"].append(r.camera.project(r.native_cam))
        im["gt_3d"].append(gt)
        im["pred_2d"].append(r.camera.project(pred_3d / 1000.0))
        im["pred_3d"].append(pred_3d)
        im["gt_valid"].append(bool(r.meta.get("is_valid", True)))
    scores = mupots_3dpck([{k: np.array(v) for k, v in im.items()} for im in images.values()])
    return {"pck_all": scores["all"], "pck_matched": scores["matched"], "count": len(records)}


@torch.no_grad()
def predict_meshes(model, crops, batch_size: int = 32, device="cpu") -> np.ndarray:
    """(N,V,3) root-relative predicted meshes (metres) for every crop of ``crops`` (train.pipeline.TestCrops)."""
    model.eval().to(device)
    out = []
    for batch in DataLoader(crops, batch_size=batch_size, shuffle=False):
        pred = model(batch["img"].to(device), batch["joints"].to(device), batch["joints_mask"].to(device))
        out.append(pred.smpl_mesh_cam.double().cpu().numpy())
    return np.concatenate(out) if out else np.zeros((0, 0, 3))


def _regressor(path: Path) -> np.ndarray | None:
    if path.is_file():
        return np.load(path).astype(np.float64)
    log.info("%s absent: evaluation joints are the body's SMPL-30 joints picked by name", path)
    return None


def evaluate_recipe(model, cfg, device="cpu", batch_size: int = 32) -> dict[str, dict]:
    """Every official test set of ``cfg.data.test`` (PW3D, PW3D-Crowd, MuPoTS) -> {name: scores}."""
    from train.pipeline import make_test_set
    from train.trainer import eval_set_names
    root = Path(cfg.data.root)
    body = copy.deepcopy(model.body).cpu()   # GT meshes and regressors on CPU; the model stays where it is
    results = {}
    for name in eval_set_names(cfg):
        crops = make_test_set(name, root, model.config)
        mesh = predict_meshes(model, crops, batch_size, device)
        if name == "MuPoTS":
            joints = regressed_joints(mesh, body, MUPOTS17, _regressor(root / MI_REGRESSOR)) * 1000.0
            results[name] = mupots_scores(joints, crops.records)
        else:
            bodies = {"neutral": body}
            for gender, path in (("male", cfg.data.smpl_male), ("female", cfg.data.smpl_female)):
                if path:
                    bodies[gender] = BodyModel.from_files(path, cfg.body.joint_regressor_extra)
            if len(bodies) == 1:
                log.warning("%s: data.smpl_male/smpl_female unset: the GT meshes use the model's neutral body", name)
            results[name] = pw3d_scores(mesh, gt_meshes(crops.records, bodies), body,
                                        _regressor(root / H36M_REGRESSOR))
    return results


TEST_LABELS = {"PW3D-Crowd": "3DPW-Crowd", "PW3D": "3DPW", "MuPoTS": "MuPoTS"}


def format_official_table(rows: dict[str, dict[str, dict]]) -> str:
    """The paper's layout: one row per method; 3DPW-Crowd and 3DPW MPJPE / PA-MPJPE / MPVPE (mm),
    MuPoTS 3DPCK all / matched (%); only the test sets present in the rows."""
    sets = [n for n in TEST_LABELS if any(n in r for r in rows.values())]
    cols = {n: (("3DPCK all", "pck_all"), ("matched", "pck_matched")) if n == "MuPoTS"
            else (("MPJPE", "mpjpe"), ("PA-MPJPE", "pa_mpjpe"), ("MPVPE", "mpvpe")) for n in sets}
    counts = {n: next(r[n]["count"] for r in rows.values() if n in r) for n in sets}
    titles = "".join(f"{f'{TEST_LABELS[n]} (n={counts[n]})':>{10 * len(cols[n])}}" for n in sets)
    head = f"{'method':<28}" + "".join(f"{c:>10}" for n in sets for c, _ in cols[n])
    lines = [f"{'':<28}{titles}", "-" * len(head), head]
    for method, scores in rows.items():
        cells = "".join(f"{scores[n][k]:>10.1f}" if n in scores else f"{'-':>10}" for n in sets for _, k in cols[n])
        lines.append(f"{method:<28}{cells}")
    return "\n".join(lines)
