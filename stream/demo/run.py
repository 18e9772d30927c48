"""The built-in example: stand-in assets and a synthetic scene, so crowdmesh runs before any download.

Everything here is a STAND-IN: a synthetic SMPL-format body (not SMPL) and an untrained network
with seeded random weights. It exercises the same loading and inference code as the real assets;
its numbers mean nothing about people.
"""
import json
import logging
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch

from nets.body import BodyModel
from nets.checkpoint import save_checkpoint
from nets.joints import COCO17, SMPL30
from nets.model import CrowdNet
from nets.standin import standin_body_files
from stream.demo.score import filled_recall, score_store
from stream.mesh.render import draw_meshes

log = logging.getLogger(__name__)

STANDIN_NOTICE = ("STAND-IN ASSETS: synthetic body model (not SMPL) and UNTRAINED random network weights. "
                  "The outputs show the pipeline works; they are not estimates of real people.")
SYNTHETIC_NOTICE = ("SYNTHETIC-DOMAIN WEIGHTS: a reduced 3DCrowdNet trained by crowdmesh on its own synthetic crowds "
                    "with the stand-in body model (not SMPL). Its estimates are real for those crowds and mean "
                    "nothing for real people.")
EXAMPLE_SIZE = (640, 480)   # width, height
EXAMPLE_FOCAL = 900.0       # pixels
_COCO_IN_SMPL30 = [SMPL30.index(n) for n in COCO17]


def standin_assets(folder) -> dict[str, Path]:
    """Write (once) the stand-in body files and an untrained checkpoint; return their paths."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    smpl, extra = standin_body_files(folder)
    ckpt = folder / "standin_crowdnet_untrained.pt"
    if not ckpt.is_file():
        torch.manual_seed(0)
        model = CrowdNet(BodyModel.from_files(smpl, extra))
        save_checkpoint(model, ckpt, standin=True, note="untrained: seeded random initialisation")
    return {"smpl": smpl, "joint_regressor_extra": extra, "checkpoint": ckpt}


def example_scene(body: BodyModel, folder, seed: int = 0) -> tuple[Path, Path]:
    """Render three posed stand-in bodies into ``example.png``; write their COCO-17 poses JSON."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    n = 3
    pose = np.zeros((n, 72), dtype=np.float32)
    pose[:, 0] = np.pi  # root: SMPL's y-up body into the y-down camera, facing it
    pose[:, 3:66] = rng.normal(0.0, 0.15, (n, 63))
    pose[:, [16 * 3 + 2, 17 * 3 + 2]] = [[-1.1, 1.1]] * n  # shoulders (SMPL joints 16, 17): arms down
    transl = np.array([[-1.3, 0.1, 7.0], [0.2, 0.0, 6.0], [1.5, 0.2, 8.0]], dtype=np.float32)
    with torch.no_grad():
        out = body(torch.from_numpy(pose), torch.zeros(n, 10), torch.from_numpy(transl))
    w, h = EXAMPLE_SIZE
    princpt = (w / 2, h / 2)
    ys = np.linspace(0, 1, h)[:, None, None]
    background = (np.array([200, 215, 230]) * (1 - ys) + np.array([120, 120, 110]) * ys).astype(np.uint8)
    image = draw_meshes(np.broadcast_to(background, (h, w, 3)).copy(), list(out.vertices.numpy()),
                        body.faces, EXAMPLE_FOCAL, princpt)
    joints = out.joints.numpy()[:, _COCO_IN_SMPL30]
    uv = joints[..., :2] / joints[..., 2:] * EXAMPLE_FOCAL + np.asarray(princpt)
    people = [np.concatenate((p, np.full((len(COCO17), 1), 0.9)), axis=1).round(2).tolist() for p in uv]
    image_path, poses_path = folder / "example.png", folder / "example_poses.json"
    cv2.imwrite(str(image_path), image[:, :, ::-1])
    poses_path.write_text(json.dumps({image_path.name: people}))
    return image_path, poses_path


# -- stream demo -----------------------------------------------------------------------------------
DEMO_SIZE = (320, 240)   # width, height of the synthetic clip


@dataclass(frozen=True)
class DemoResult:
    summary: object        # stream.pipeline.setup.RunSummary
    scores: dict
    score_text: str
    trained: bool          # self-trained synthetic-domain weights (True) or the untrained stand-in


def demo_weights(standin: dict[str, Path]) -> tuple[Path, bool]:
    """The shipped self-trained checkpoint when this checkout has it, else the untrained stand-in."""
    try:
        from nets.demo_weights import demo_checkpoint
        return demo_checkpoint(), True
    except (ImportError, FileNotFoundError):
        return standin["checkpoint"], False


def run_demo(out, *, people: int = 6, frames: int = 48, seed: int = 0, ray: bool = True, progress: bool = True,
             echo=log.warning) -> DemoResult:
    """A synthetic crowd clip with simulated COCO-17 detections through ``stream process``, scored against
    the generator's ground truth (``stream.demo.score.score_store``: recall, MPJPE, acceleration error, ...)."""
    from nets.assets import crowdmesh_home
    from nets.synth import CrowdConfig
    from stream.cli.process import run_pipeline
    from stream.config import load_pipeline_config
    from stream.demo.synth import write_synthetic_clip

    out = Path(out)
    assets = standin_assets(crowdmesh_home() / "standin")
    checkpoint, trained = demo_weights(assets)
    echo(SYNTHETIC_NOTICE if trained else STANDIN_NOTICE)
    width, height = DEMO_SIZE
    clip = write_synthetic_clip(out / "clip", CrowdConfig(people=people, frames=frames, width=width, height=height,
                                                          seed=seed), noise="moderate", joint_sets=("coco17",))
    focal = float(np.load(clip.truth)["K"][0, 0])
    cfg = load_pipeline_config(None, [
        f"input={clip.video}", f"output={out / 'clip.zarr'}", "pose2d.backend=precomputed",
        f"pose2d.poses={clip.detections['coco17']}", f"model.checkpoint={checkpoint}", f"body.smpl={assets['smpl']}",
        f"body.joint_regressor_extra={assets['joint_regressor_extra']}", f"camera.focal={focal}",
        "smoothing.offline=true"])
    summary = run_pipeline(cfg, ray=ray, progress=progress, overwrite=True)
    scores = score_store(summary.store, clip.truth)
    scores["filled_found"], _ = filled_recall(summary.store, clip.truth)
    kind = ("self-trained SYNTHETIC-DOMAIN weights (trained on the generator's crowds, not real people)" if trained
            else "UNTRAINED stand-in weights: these errors show the pipeline runs, nothing more")
    text = (f"vs the generator's ground truth: recall {100 * scores['recall']:.1f} % ({scores['found']} of "
            f"{scores['visible']} visible person-frames; {scores['filled_found']} with the gaps filled offline, "
            f"{100 * scores['filled_found'] / max(scores['visible'], 1):.1f} %); over {scores['person_frames']} matched rows MPJPE "
            f"{scores['mpjpe_mm']:.1f} mm, PA-MPJPE {scores['pa_mpjpe_mm']:.1f} mm, acceleration error "
            f"{scores['accel_error_mm']:.1f} mm/frame²; {scores['tracks']} tracks for {scores['people']} people, "
            f"{100 * scores['id_purity']:.1f} % of matched rows on their track's person ({kind})")
    return DemoResult(summary, scores, text, trained)
