"""The ablation's evaluation: one held-out synthetic set, binned by CrowdIndex and by occlusion of the target,
at several input 2D pose noise levels; the table of MPJPE, PA-MPJPE and MPVPE per variant, mean ± spread.

    sets = eval_sets(section, body, model.config)        # {"clean": Dataset, "moderate": ..., "heavy": ...}
    scores = score_model(model, sets)                     # {level: {bin: {"mpjpe", "pa_mpjpe", "mpvpe", "count"}}}
    print(format_ablation({"full": [scores_seed0, scores_seed1, ...], "gap": [...]}))

Bins: "all"; CrowdIndex ``CI lo-hi`` (``train.evaluate.CROWD_BINS``; 3DPW-Crowd is the high end of this
index); the target's occluded joint fraction ``occ lo-hi`` (``EvalSetConfig.occlusion_bins`` edges). The
input pose levels: "clean" is the exact projection of the target's joints inside the image; the others
are ``nets.synth.NOISE_PRESETS`` detections of the target (jitter, guessed occluded joints, dropped
joints, left/right swaps; no misses or false positives: every target gets its pose). Errors in mm:
MPJPE and PA-MPJPE on the 14 evaluation joints (``train.evaluate.EVAL_JOINTS``), MPVPE on the root-centred
mesh against the generator's own SMPL parameters through the same body.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
from torch.utils.data import DataLoader

from nets.metrics import mpjpe, pa_mpjpe
from nets.synth import NOISE_PRESETS, NoiseConfig
from train.config import SyntheticConfig
from train.evaluate import CROWD_BINS, EVAL_JOINTS
from train.synthetic import SyntheticCrowdDataset

# the exact in-image joints: visible ones as they are, occluded ones "guessed" with zero jitter
EVAL_NOISE: dict[str, NoiseConfig] = {"clean": NoiseConfig(occluded="guess"), **NOISE_PRESETS}
METRICS = ("mpjpe", "pa_mpjpe", "mpvpe")


@dataclass(frozen=True)
class EvalSetConfig:
    """The held-out set every variant is scored on (new people and crowds: seeds the training never used)."""
    crowds: SyntheticConfig = field(default_factory=lambda: SyntheticConfig(
        test_sequences=12, people=10, frames=6, test_seed=5000))
    noise: tuple[str, ...] = ("clean", "moderate", "heavy")   # EVAL_NOISE names
    occlusion_bins: tuple[float, ...] = (0.1, 0.3)            # edges of the occluded-joint-fraction bins
    batch_size: int = 32

    def __post_init__(self):
        from nets.config import check
        check(self, "noise", bool(self.noise) and all(n in EVAL_NOISE for n in self.noise),
              f"a list of input noise levels from {sorted(EVAL_NOISE)}")
        check(self, "occlusion_bins", list(self.occlusion_bins) == sorted(self.occlusion_bins)
              and all(0 < e < 1 for e in self.occlusion_bins), "increasing fractions in (0, 1)")


def eval_sets(section: EvalSetConfig, body, model_config) -> dict[str, SyntheticCrowdDataset]:
    """One dataset per noise level: the same people and crops, different input poses."""
    return {level: SyntheticCrowdDataset(body, section.crowds, model_config, "test", input_noise=EVAL_NOISE[level])
            for level in section.noise}


def bin_masks(crowd: np.ndarray, occlusion: np.ndarray, occlusion_bins) -> dict[str, np.ndarray]:
    """Boolean masks over the samples: "all", the CrowdIndex bins, the occlusion bins."""
    masks = {"all": np.ones(len(crowd), bool)}
    for lo, hi in CROWD_BINS:
        masks[f"CI {lo:.1f}-{hi:.1f}"] = (crowd >= lo) & (crowd < hi)
    edges = (0.0, *occlusion_bins, float("inf"))
    for lo, hi in zip(edges[:-1], edges[1:]):
        masks[f"occ {lo:.1f}-{hi:.1f}"] = (occlusion >= lo) & (occlusion < hi)
    return masks


@torch.no_grad()
def sample_errors(model, dataset, batch_size: int = 32, device="cpu") -> dict[str, np.ndarray]:
    """Per-sample MPJPE, PA-MPJPE and MPVPE (N,) in mm of ``model`` (moved to ``device``) on ``dataset``."""
    model.eval().to(device)
    errors = {m: [] for m in METRICS}
    mm = lambda t: t.float().cpu().numpy() * 1000   # noqa: E731
    for batch in DataLoader(dataset, batch_size=batch_size, shuffle=False):
        batch = {k: v.to(device) for k, v in batch.items()}
        out = model(batch["img"], batch["joints"], batch["joints_mask"])
        pred, gt = mm(out.joint_cam[:, EVAL_JOINTS]), mm(batch["orig_joint_cam"][:, EVAL_JOINTS])
        truth = model.body(batch["pose_param"], batch["shape_param"])
        gt_mesh = mm(truth.vertices - truth.joints[:, :1])
        errors["mpjpe"].append(mpjpe(pred, gt))
        errors["pa_mpjpe"].append(pa_mpjpe(pred, gt))
        errors["mpvpe"].append(np.linalg.norm(mm(out.smpl_mesh_cam) - gt_mesh, axis=-1).mean(-1))
    return {m: np.concatenate(v) for m, v in errors.items()}


def score_model(model, sets: dict[str, SyntheticCrowdDataset], occlusion_bins=(0.1, 0.3),
                batch_size: int = 32, device="cpu") -> dict[str, dict[str, dict]]:
    """{noise level: {bin: {"mpjpe", "pa_mpjpe", "mpvpe" (means, mm), "count"}}}; empty bins left out."""
    scores = {}
    for level, dataset in sets.items():
        errors = sample_errors(model, dataset, batch_size, device)
        masks = bin_masks(dataset.crowd_index, dataset.occlusion, occlusion_bins)
        scores[level] = {name: {**{m: float(errors[m][sel].mean()) for m in METRICS}, "count": int(sel.sum())}
                         for name, sel in masks.items() if sel.any()}
    return scores


def _stats(runs: list[dict], level: str, bin_name: str, metric: str) -> tuple[float, float] | None:
    """Mean and sample standard deviation over seeds (0 with one seed); None where a bin is empty."""
    values = [r[level][bin_name][metric] for r in runs if bin_name in r.get(level, {})]
    if not values:
        return None
    return float(np.mean(values)), float(np.std(values, ddof=1)) if len(values) > 1 else 0.0


def _cell(stat: tuple[float, float] | None, seeds: int) -> str:
    if stat is None:
        return "-"
    return f"{stat[0]:.1f} ± {stat[1]:.1f}" if seeds > 1 else f"{stat[0]:.1f}"


def format_ablation(results: dict[str, list[dict]]) -> str:
    """Markdown tables, one per noise level: a row per variant (mean ± seed standard deviation, mm), columns
    MPJPE / PA-MPJPE / MPVPE on all samples, then MPJPE per CrowdIndex and occlusion bin (n = samples)."""
    first = next(iter(results.values()))[0]
    blocks = []
    for level, bins in first.items():
        names = [b for b in bins if b != "all"]
        head = ["variant", "seeds", "MPJPE", "PA-MPJPE", "MPVPE"] + [f"MPJPE {b} (n={bins[b]['count']})" for b in names]
        lines = [f"input 2D pose: {level}", "", "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        for variant, runs in results.items():
            cells = [_cell(_stats(runs, level, "all", m), len(runs)) for m in METRICS]
            cells += [_cell(_stats(runs, level, b, "mpjpe"), len(runs)) for b in names]
            lines.append("| " + " | ".join([variant, str(len(runs))] + cells) + " |")
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)


def format_differences(results: dict[str, list[dict]], reference: str = "full") -> str:
    """Each variant's MPJPE minus the reference's (mm) per noise level and bin, with the larger seed spread of
    the two beside it: a difference well beyond the spread is an effect, one within it is not."""
    if reference not in results:
        return ""
    ref = results[reference]
    lines = [f"MPJPE difference to {reference!r}, mm (seed spread: the larger standard deviation of the two)", ""]
    for level, bins in ref[0].items():
        for variant, runs in results.items():
            if variant == reference:
                continue
            cells = []
            for b in bins:
                a, r = _stats(runs, level, b, "mpjpe"), _stats(ref, level, b, "mpjpe")
                if a is not None and r is not None:
                    cells.append(f"{b} {a[0] - r[0]:+.1f} (±{max(a[1], r[1]):.1f})")
            lines.append(f"- {level}, {variant}: " + "; ".join(cells))
    return "\n".join(lines)
