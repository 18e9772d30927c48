"""MPJPE and PA-MPJPE of the ``stream demo`` clip with the mesh network in fp32 and in bf16 (local runner, no Ray).

    python benchmarks/precision.py [--people 6] [--frames 48] [--seed 0] [--device cpu]

The clip, weights and scoring are the demo's (``stream.demo.run``: a synthetic crowd with simulated COCO-17
detections, the shipped self-trained weights when present, else the untrained stand-in; ``score_store``
against the generator's ground truth). Each precision runs ``stream.pipeline.local.run_local`` with
``model.precision`` set; the 2D poses are precomputed, so only the mesh network's precision differs.
Prints the scores of each run, their difference and the run time.
"""
import argparse
import tempfile
from pathlib import Path

import numpy as np

from nets.assets import crowdmesh_home
from nets.synth import CrowdConfig
from stream.config import load_pipeline_config
from stream.demo.run import DEMO_SIZE, demo_weights, score_store, standin_assets
from stream.pipeline.local import run_local
from stream.demo.synth import write_synthetic_clip

PRECISIONS = ("fp32", "bf16")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--people", type=int, default=6)
    ap.add_argument("--frames", type=int, default=48)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--device", default="cpu", help="model.device (bf16 autocast runs on CPU and CUDA)")
    args = ap.parse_args()
    assets = standin_assets(crowdmesh_home() / "standin")
    checkpoint, trained = demo_weights(assets)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        width, height = DEMO_SIZE
        clip = write_synthetic_clip(tmp / "clip", CrowdConfig(people=args.people, frames=args.frames, width=width,
                                                              height=height, seed=args.seed),
                                    noise="moderate", joint_sets=("coco17",))
        focal = float(np.load(clip.truth)["K"][0, 0])
        print(f"demo clip: {args.people} people, {args.frames} frames, {width}x{height}, seed {args.seed}; "
              f"{'self-trained synthetic-domain' if trained else 'UNTRAINED stand-in'} weights {checkpoint.name}; "
              f"device {args.device}")
        scores = {}
        for precision in PRECISIONS:
            cfg = load_pipeline_config(None, [
                f"input={clip.video}", f"output={tmp / f'{precision}.zarr'}", "pose2d.backend=precomputed",
                f"pose2d.poses={clip.detections['coco17']}", f"model.checkpoint={checkpoint}",
                f"body.smpl={assets['smpl']}", f"body.joint_regressor_extra={assets['joint_regressor_extra']}",
                f"camera.focal={focal}", f"model.precision={precision}", f"model.device={args.device}"])
            summary = run_local(cfg, overwrite=True)
            scores[precision] = s = score_store(summary.store, clip.truth)
            print(f"  {precision}: MPJPE {s['mpjpe_mm']:.2f} mm, PA-MPJPE {s['pa_mpjpe_mm']:.2f} mm over "
                  f"{s['person_frames']} person-frames, {s['tracks']} tracks ({summary.seconds:.1f} s)")
        a, b = scores["fp32"], scores["bf16"]
        print(f"  bf16 - fp32: MPJPE {b['mpjpe_mm'] - a['mpjpe_mm']:+.2f} mm, "
              f"PA-MPJPE {b['pa_mpjpe_mm'] - a['pa_mpjpe_mm']:+.2f} mm")


if __name__ == "__main__":
    main()
