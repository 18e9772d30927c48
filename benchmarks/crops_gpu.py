"""Person crops warped in torch (``nets.crops.warp_crops``) vs OpenCV: speed, pixels, demo accuracy.

    python benchmarks/crops_gpu.py [--device cpu|cuda] [--people 20] [--repeats 5] [--no-demo]

1. Crops/s on one 1280x720 frame of a synthetic crowd (``--people``, stand-in body): ``crop_people`` with
   one cv2.warpAffine per person vs ``crop_people(warp=False)`` + one ``warp_crops`` (frame upload
   included, on ``--device``); and the max/mean |difference| of the crops in grey levels of 255.
2. The ``stream demo`` clip (6 people, 48 frames, seed 0, the demo weights) through ``run_local`` with
   model.device=cpu and model.crop_device=cpu vs gpu (torch warp on CPU tensors), scored against the
   generator's ground truth: MPJPE and PA-MPJPE of both and their difference.
"""
import argparse
import tempfile
from pathlib import Path

import numpy as np
import torch

from nets.body import BodyModel
from nets.standin import make_standin_body
from nets.synth import CrowdConfig, make_crowd
from nets.crops import crop_people, warp_crops
from timing import median_seconds, sync


def crop_speed(people: int, device: torch.device, repeats: int) -> None:
    frames = []
    crowd = make_crowd(BodyModel(*make_standin_body()), CrowdConfig(people=people, frames=1, width=1280, height=720,
                                                                    seed=4),
                       on_frame=lambda t, bgr, mesh_id: frames.append(bgr))
    bgr, poses = frames[0], list(crowd.keypoints2d["coco17"][0])
    ref = crop_people(bgr, poses, "coco17")
    n = len(ref["index"])

    def torch_crops():
        boxes = crop_people(bgr, poses, "coco17", warp=False)
        crops = warp_crops(torch.from_numpy(bgr).to(device), boxes["bb2img_trans"], 256)
        sync()
        return crops

    diff = np.abs(torch_crops().cpu().numpy() - ref["img"]) * 255
    seconds = median_seconds({"cv2": lambda: crop_people(bgr, poses, "coco17"), "torch": torch_crops}, repeats)
    print(f"{n} crops of a 1280x720 frame ({people} people generated), torch on {device}, "
          f"{torch.get_num_threads()} threads")
    for name, s in seconds.items():
        print(f"  {name:6s} {s * 1000:8.2f} ms/frame  {n / s:8.0f} crops/s")
    print(f"  torch vs cv2 pixels: max {diff.max():.2f}, mean {diff.mean():.3f} grey levels of 255")


def demo_scores() -> None:
    from nets.assets import crowdmesh_home
    from nets.synth import CrowdConfig as Config
    from stream.config import load_pipeline_config
    from stream.demo.run import DEMO_SIZE, demo_weights, score_store, standin_assets
    from stream.pipeline.local import run_local
    from stream.demo.synth import write_synthetic_clip

    assets = standin_assets(crowdmesh_home() / "standin")
    checkpoint, trained = demo_weights(assets)
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        clip = write_synthetic_clip(out / "clip", Config(people=6, frames=48, width=DEMO_SIZE[0], height=DEMO_SIZE[1],
                                                         seed=0), noise="moderate", joint_sets=("coco17",))
        focal = float(np.load(clip.truth)["K"][0, 0])
        scores = {}
        for crops in ("cpu", "gpu"):
            cfg = load_pipeline_config(None, [
                f"input={clip.video}", f"output={out / crops}.zarr", "pose2d.backend=precomputed",
                f"pose2d.poses={clip.detections['coco17']}", f"model.checkpoint={checkpoint}",
                f"body.smpl={assets['smpl']}", f"body.joint_regressor_extra={assets['joint_regressor_extra']}",
                f"camera.focal={focal}", "model.device=cpu", f"model.crop_device={crops}"])
            scores[crops] = score_store(run_local(cfg).store, clip.truth)
    print(f"stream demo clip ({'self-trained synthetic-domain' if trained else 'UNTRAINED stand-in'} weights, "
          f"{scores['cpu']['person_frames']} person-frames), model on cpu:")
    for crops, s in scores.items():
        print(f"  crop_device={crops}: MPJPE {s['mpjpe_mm']:.3f} mm, PA-MPJPE {s['pa_mpjpe_mm']:.3f} mm")
    print(f"  gpu - cpu: MPJPE {scores['gpu']['mpjpe_mm'] - scores['cpu']['mpjpe_mm']:+.3f} mm, "
          f"PA-MPJPE {scores['gpu']['pa_mpjpe_mm'] - scores['cpu']['pa_mpjpe_mm']:+.3f} mm")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--people", type=int, default=20, help="people generated in the timed frame")
    ap.add_argument("--repeats", type=int, default=5, help="rounds; each setting's median is reported")
    ap.add_argument("--no-demo", dest="demo", action="store_false", help="skip the demo-clip accuracy run")
    args = ap.parse_args()
    with torch.inference_mode():
        crop_speed(args.people, torch.device(args.device), args.repeats)
    if args.demo:
        demo_scores()


if __name__ == "__main__":
    main()
