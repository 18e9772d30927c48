"""The built-in example: stand-in assets and a synthetic scene, so crowdmesh runs before any download.

Everything here is a STAND-IN: a synthetic SMPL-format body (not SMPL) and an untrained network
with seeded random weights. It exercises the same loading and inference code as the real assets;
its numbers mean nothing about people.
"""
import json
import logging
from pathlib import Path

import cv2
import numpy as np
import torch

from nets.body import BodyModel
from nets.checkpoint import save_checkpoint
from nets.joints import COCO17, SMPL30
from nets.model import CrowdNet
from nets.standin import write_standin_body
from stream.render import draw_meshes

log = logging.getLogger(__name__)

STANDIN_NOTICE = ("STAND-IN ASSETS: synthetic body model (not SMPL) and UNTRAINED random network weights. "
                  "The outputs show the pipeline works; they are not estimates of real people.")
EXAMPLE_SIZE = (640, 480)   # width, height
EXAMPLE_FOCAL = 900.0       # pixels
_COCO_IN_SMPL30 = [SMPL30.index(n) for n in COCO17]


def standin_assets(folder) -> dict[str, Path]:
    """Write (once) the stand-in body files and an untrained checkpoint; return their paths."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    smpl, extra = folder / "standin_smpl_neutral.pkl", folder / "standin_J_regressor_extra.npy"
    if not (smpl.is_file() and extra.is_file()):
        smpl, extra = write_standin_body(folder)
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
