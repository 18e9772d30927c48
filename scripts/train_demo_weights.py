"""Train the shipped demo weights: the reduced CrowdNet on synthetic crowds of the stand-in body.

    python scripts/train_demo_weights.py [--minutes 20] [--out assets/demo/crowdnet_synthetic.pt] [key=value ...]
    python scripts/train_demo_weights.py --eval-only assets/demo/crowdnet_synthetic.pt

These are SYNTHETIC-DOMAIN weights: trained and measured only on ``nets.synth`` crowds of the project's
stand-in body (not SMPL, not real people); they show the pipeline working, not real-video accuracy.

Training runs ``train.trainer.fit`` with ``configs/train/demo.yaml``. The inputs match what ``stream demo``
feeds the model: the trainer's dataset here is ``DetectionCrops``, a ``train.synthetic.SyntheticCrowdDataset``
whose crops come from ``nets.crops.crop_people`` applied to simulated COCO-17 detections
(``nets.synth.simulate_detections``, preset "moderate"), so the box is the one the demo derives from the
2D keypoints and the input pose has the detector's noise, dropped joints and 19 of 30 joints. The trainer
reads its dataset from ``train.trainer.make_dataset``; this script passes ``DetectionCrops`` through
``dataset_factory`` (see ``fit_with``).

Measured afterwards, for the trained, the untrained (same init) model and the mean pose of the training
split: MPJPE / PA-MPJPE (mm, 14 joints, root-relative) on (1) the trainer's held-out split (new seed,
ground-truth box and joints) and (2) ``pipeline_errors``: a rendered clip encoded to H.264 and decoded,
simulated "moderate" detections, ``crop_people`` on the full frames, as ``stream demo`` does it.
The numbers go into the checkpoint's ``meta``.
"""
from __future__ import annotations

import argparse
import dataclasses
import logging
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "configs/train/demo.yaml"
OUT = ROOT / "assets/demo/crowdnet_synthetic.pt"
# The clip ``pipeline_errors`` scores by default: the size, depths and people of ``stream demo``'s clip.
EVAL_CLIP = dict(people=8, frames=24, fps=3.0, width=640, height=360, seed=4242)

log = logging.getLogger("train_demo_weights")


def crop_joint_targets(uv: np.ndarray, joint_cam: np.ndarray, img2bb: np.ndarray, model_config):
    """A person's joint targets in one crop's heatmap space: (joint_img (J, 3), trunc (J, 1)).

    uv (J, 2): the joints in the frame, pixels; joint_cam (J, 3): root-relative, metres (no rotation
    augmentation here); img2bb (2, 3): the crop's affine transform, frame -> crop input pixels. Depth is
    mapped as ``train.synthetic`` maps it; trunc is 1 for joints inside the heatmap.
    """
    from train.synthetic import BBOX_3D_SIZE
    mc, M = model_config, img2bb.astype(np.float64)
    uv = (uv.astype(np.float64) @ M[:, :2].T + M[:, 2]) * (mc.heatmap_size / mc.input_size)
    z = (joint_cam.astype(np.float64)[:, 2] / (BBOX_3D_SIZE / 2) + 1) * mc.heatmap_size / 2
    joint_img = np.concatenate([uv, z[:, None]], 1)
    return joint_img, ((joint_img >= 0) & (joint_img < mc.heatmap_size)).all(1, keepdims=True)


def detection_crops_class():
    """``DetectionCrops`` (built lazily so that importing this file stays cheap)."""
    from nets.synth import simulate_detections, truth_detections
    from nets.synth.noise import noise_config
    from nets.crops import CropConfig, crop_people
    from train.synthetic import SyntheticCrowdDataset

    class DetectionCrops(SyntheticCrowdDataset):
        """``SyntheticCrowdDataset`` samples with the demo's inputs: ``crop_people`` on a detection.

        Per crowd, ``draws`` independent "moderate" detection simulations; epoch e uses draw e % draws (the
        test split always draw 0). A person the draw missed falls back to the next draw, then to the
        noise-free visible joints, then to all joints.
        """

        def __init__(self, body, config, model_config, split="train", noise="moderate", draws=4):
            if config.rotate_deg > 0:
                raise ValueError(f"data.synthetic.rotate_deg = {config.rotate_deg}: DetectionCrops has no rotation "
                                 "augmentation (its crops are crop_people's); set it to 0")
            super().__init__(body, config, model_config, split)
            seed0 = config.seed if split == "train" else config.test_seed
            base = noise_config(noise)
            self.draws = draws if split == "train" else 1
            self.detections = [[simulate_detections(c, dataclasses.replace(base, seed=(seed0 + s) * 97 + d), "coco17")
                                for d in range(self.draws)] for s, c in enumerate(self.crowds)]
            self.truth = [truth_detections(c, "coco17") for c in self.crowds]
            self.crop_config = CropConfig(model_config.input_size, model_config.heatmap_size)

        def _poses(self, s: int, t: int, n: int):
            for k in range(self.draws):
                dets = self.detections[s][(self.epoch + k) % self.draws][t]
                hit = np.flatnonzero(dets.truth == n)
                if len(hit):
                    yield dets.keypoints[hit[0]]
            hit = np.flatnonzero(self.truth[s][t].truth == n)
            if len(hit):
                yield self.truth[s][t].keypoints[hit[0]]
            everything = self.crowds[s].keypoints2d["coco17"][t, n].copy()
            everything[:, 2] = 1.0
            yield everything

        def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
            sample = super().__getitem__(i)   # the targets that do not depend on the crop; rebuilt below
            s, t, n = (int(v) for v in self.index[i])
            rgb = np.ascontiguousarray(self.frames[s][t][..., ::-1])
            for pose in self._poses(s, t, n):
                crops = crop_people(rgb, [pose], "coco17", self.crop_config)
                if len(crops["index"]):
                    break
            joint_img, trunc = crop_joint_targets(self.crowds[s].keypoints2d["smpl30"][t, n, :, :2],
                                                  sample["orig_joint_cam"].numpy(), crops["img2bb_trans"][0],
                                                  self.model_config)
            f32 = lambda a: torch.as_tensor(np.asarray(a, np.float32))  # noqa: E731
            sample.update(img=torch.from_numpy(crops["img"][0]), joints=f32(crops["joints"][0, :, :2]),
                          joints_mask=f32(crops["joints_mask"][0]), orig_joint_img=f32(joint_img),
                          orig_joint_trunc=f32(trunc), fit_joint_img=f32(joint_img), fit_joint_trunc=f32(trunc))
            return sample

    return DetectionCrops


def fit_with(cfg, dataset_cls):
    """``train.trainer.fit(cfg)`` with ``dataset_cls`` as the synthetic dataset of both splits.

    The trainer has no dataset argument yet; ``make_dataset`` is swapped for the duration of the call
    and put back afterwards.
    """
    from train import trainer
    original = trainer.make_dataset

    def make_dataset(cfg_, body, model_config, split):
        return dataset_cls(body, cfg_.data.synthetic, model_config, split=split)
    trainer.make_dataset = make_dataset
    try:
        return trainer.fit(cfg)
    finally:
        trainer.make_dataset = original


@torch.no_grad()
def pipeline_samples(body, crop_config, clip: dict = EVAL_CLIP, noise: str = "moderate") -> dict[str, np.ndarray]:
    """The demo's model inputs on a rendered clip, with the truth behind each kept detection.

    Renders ``nets.synth.make_crowd(CrowdConfig(**clip))``, encodes it to H.264 and decodes it (as the demo
    reads its clip), simulates ``noise`` COCO-17 detections (seeded with the clip's seed, as
    ``stream.demo.synth.write_synthetic_clip`` does) and runs ``nets.crops.crop_people`` on every full frame.
    False positives are left out. Returns ``img``, ``joints``, ``joints_mask``, ``bbox`` (the model inputs)
    and ``joint_cam`` (N,30,3) the true root-relative joints in metres.
    """
    import av
    from nets.synth import CrowdConfig, make_crowd, simulate_detections
    from nets.synth.noise import noise_config
    from nets.crops import crop_people
    from stream.source.frames import VideoWriter

    config = CrowdConfig(**clip)
    with tempfile.TemporaryDirectory() as tmp:
        video = Path(tmp) / "clip.mp4"
        with VideoWriter(video, fps=config.fps) as writer:
            crowd = make_crowd(body, config, on_frame=lambda t, bgr, mesh_id: writer.write(bgr))
        with av.open(str(video)) as container:
            frames = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
    detections = simulate_detections(crowd, dataclasses.replace(noise_config(noise), seed=config.seed), "coco17")
    rows = {k: [] for k in ("img", "joints", "joints_mask", "bbox", "joint_cam")}
    for t, dets in enumerate(detections):
        crops = crop_people(frames[t], list(dets.keypoints), "coco17", crop_config)
        for row, i in enumerate(crops["index"]):
            n = int(dets.truth[i])
            if n < 0:
                continue
            for k in ("img", "joints", "joints_mask", "bbox"):
                rows[k].append(crops[k][row])
            j3d = crowd.joints3d[t, n].astype(np.float64)
            rows["joint_cam"].append(j3d - j3d[0])
    return {k: np.stack(v).astype(np.float32) for k, v in rows.items()}


@torch.no_grad()
def pipeline_errors(model, samples: dict[str, np.ndarray], batch_size: int = 32) -> dict:
    """MPJPE / PA-MPJPE (mm) of ``model`` on ``pipeline_samples`` output (the 14 eval joints)."""
    from train.evaluate import EVAL_JOINTS
    from nets.metrics import mpjpe, pa_mpjpe
    model.eval()
    preds = []
    for lo in range(0, len(samples["img"]), batch_size):
        part = {k: torch.from_numpy(v[lo:lo + batch_size]) for k, v in samples.items()}
        out = model(part["img"], part["joints"][..., :2], part["joints_mask"], part["bbox"])
        preds.append(out.joint_cam[:, EVAL_JOINTS].double().numpy() * 1000)
    pred, gt = np.concatenate(preds), samples["joint_cam"][:, EVAL_JOINTS].astype(np.float64) * 1000
    return {"mpjpe": float(mpjpe(pred, gt).mean()), "pa_mpjpe": float(pa_mpjpe(pred, gt).mean()), "count": len(gt)}


def mean_pose_errors(train_set, samples: dict[str, np.ndarray]) -> dict:
    """The training split's mean root-relative pose as the prediction for every pipeline sample."""
    from train.evaluate import EVAL_JOINTS
    from nets.metrics import mpjpe, pa_mpjpe
    mean = np.mean([train_set[i]["orig_joint_cam"][list(EVAL_JOINTS)].numpy() for i in range(len(train_set))], 0)
    gt = samples["joint_cam"][:, EVAL_JOINTS].astype(np.float64) * 1000
    pred = np.repeat(mean[None] * 1000, len(gt), 0)
    return {"mpjpe": float(mpjpe(pred, gt).mean()), "pa_mpjpe": float(pa_mpjpe(pred, gt).mean()), "count": len(gt)}


def _rounded(m: dict) -> dict:
    return {k: round(v, 1) if isinstance(v, float) else v for k, v in m.items() if k != "bins"}


def measure(cfg, model, untrained, body, dataset_cls) -> dict:
    """Every figure of the module docstring, as a nested dict of rounded numbers."""
    from nets.crops import CropConfig
    from train.evaluate import evaluate, mean_pose_baseline
    from train.synthetic import SyntheticCrowdDataset
    mc = model.config
    train_set = SyntheticCrowdDataset(body, cfg.data.synthetic, mc, "train")
    held_out = SyntheticCrowdDataset(body, cfg.data.synthetic, mc, "test")
    held_out_det = dataset_cls(body, cfg.data.synthetic, mc, "test")
    samples = pipeline_samples(body, CropConfig(mc.input_size, mc.heatmap_size))
    figures = {
        "held_out_truth_inputs": {"trained": evaluate(model, held_out), "untrained": evaluate(untrained, held_out),
                                  "mean_pose": mean_pose_baseline(train_set, held_out)},
        "held_out_detection_inputs": {"trained": evaluate(model, held_out_det),
                                      "untrained": evaluate(untrained, held_out_det),
                                      "mean_pose": mean_pose_baseline(train_set, held_out_det)},
        "pipeline_clip": {"trained": pipeline_errors(model, samples), "untrained": pipeline_errors(untrained, samples),
                          "mean_pose": mean_pose_errors(train_set, samples)},
    }
    return {name: {who: _rounded(m) for who, m in rows.items()} for name, rows in figures.items()}


def ship(model, body, cfg, untrained, dataset_cls, out, meta: dict) -> tuple[Path, dict]:
    """Store ``model`` in float16 at ``out``, load it back, measure that and store the figures in its meta."""
    from nets.checkpoint import load_model, save_checkpoint
    meta = {**meta, "stored_dtype": "float16"}
    path = save_checkpoint(model, out, dtype=torch.float16, **meta)
    shipped = load_model(path, body)                 # what users get: float16 weights back in float32
    figures = measure(cfg, shipped, untrained, body, dataset_cls)
    return save_checkpoint(shipped, out, dtype=torch.float16, **meta, metrics_mm=figures), figures


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", default=str(CONFIG))
    parser.add_argument("--out", default=str(OUT))
    parser.add_argument("--workdir", default="output/train/demo")
    parser.add_argument("--eval-only", default="", help="a nets.checkpoint file to measure instead of training")
    parser.add_argument("--reship", default="",
                        help="a nets.checkpoint file written by this script: store it again (float16) and re-measure")
    parser.add_argument("--prior-seconds", type=float, default=0.0,
                        help="wall seconds of earlier runs this one resumes (same --workdir), for the meta")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch CPU threads (1: on a shared 2-core machine two threads were ~20x slower)")
    parser.add_argument("overrides", nargs="*", help="dotted.key=value for the train config")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    torch.set_num_threads(args.threads)

    from nets.checkpoint import load_model, read_meta
    from train import trainer
    from train.config import load_config, to_dict
    cfg = load_config(args.config, [f"output_dir={args.workdir}", *args.overrides])
    dataset_cls = detection_crops_class()
    body = trainer.make_body(cfg.body)
    torch.manual_seed(cfg.seed)                              # the same init as trainer._train_loop
    untrained = trainer.build_model(cfg.model, body).eval()
    if args.eval_only:
        print(measure(cfg, load_model(args.eval_only, body), untrained, body, dataset_cls))
        return 0
    if args.reship:
        meta = {k: v for k, v in read_meta(args.reship).items() if k not in ("body", "metrics_mm")}
        path, figures = ship(load_model(args.reship, body), body, cfg, untrained, dataset_cls, args.out, meta)
    else:
        start = time.perf_counter()
        result = fit_with(cfg, dataset_cls)
        seconds = time.perf_counter() - start
        meta = {
            "note": "SYNTHETIC-DOMAIN weights: the reduced 3DCrowdNet trained on nets.synth crowds of the crowdmesh "
                    "stand-in body (not SMPL, not real people); for the built-in demo only",
            "trained_with": "python scripts/train_demo_weights.py " + " ".join(argv),
            "train_config": to_dict(cfg), "steps": result.step, "epochs": result.epoch,
            "train_seconds": round(seconds + args.prior_seconds, 1), "torch": str(torch.__version__),
            "data": "train.synthetic crowds (seeds data.synthetic.seed..+sequences), crops by "
                    "nets.crops.crop_people from nets.synth.simulate_detections 'moderate' COCO-17 detections "
                    "(4 draws)",
            "eval_clip": dict(EVAL_CLIP, noise="moderate", video="H.264 crf 20, decoded"),
        }
        path, figures = ship(trainer.load_trained(result.checkpoint, body), body, cfg, untrained, dataset_cls,
                             args.out, meta)
    print(f"{path} ({path.stat().st_size / 1e6:.2f} MB)")
    for name, rows in figures.items():
        print(name, rows)
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    sys.exit(main(sys.argv[1:]))
