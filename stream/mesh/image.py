"""``stream image``: every person of one image through 3DCrowdNet in one batched forward.

Reads 2D poses in the official demo's JSON format ``{image_name: [[[x, y, score] x K], ...]}``,
crops each kept person as the official demo does, runs the model once for all of them (the official
demo runs one person per forward), and writes ``people.npz`` plus one ``.obj`` mesh per person.
"""
import logging
from pathlib import Path

import cv2
import numpy as np
import torch

from nets.crops import CropConfig, crop_people
from stream.pose2d.precomputed import DEMO_FORMAT, PosesFileError, demo_people, load_json
from stream.mesh.render import draw_meshes, person_colors

log = logging.getLogger(__name__)

RENDER_FOCAL = 5000.0  # the official render camera (ModelConfig.focal): this focal length, principal point at the box centre
# people.npz: model outputs, first axis = kept people in input order
OUTPUT_KEYS = ("smpl_pose", "smpl_shape", "cam_param", "cam_trans", "joint_img", "joint_score", "joint_proj",
               "smpl_mesh_cam", "mesh_cam_render")
# people.npz: preprocessing, same axis
CROP_KEYS = ("index", "joints", "joints_mask", "bbox", "bbox_tight", "img2bb_trans", "bb2img_trans",
             "joints_valid", "kpts", "kpts_valid")


class InputError(ValueError):
    """Bad user input; the message names the input, what was expected and how to fix it."""


def read_image(path) -> np.ndarray:
    """(H,W,3) uint8 RGB, or InputError naming the file."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"image {path} does not exist; pass the path of a JPEG/PNG image")
    bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if bgr is None or bgr.size == 0:
        raise InputError(f"image {path} could not be decoded; expected a readable image file (JPEG, PNG, ...)")
    return np.ascontiguousarray(bgr[:, :, ::-1])


def read_poses(path, image_name: str, joint_set: str = "coco17") -> list[np.ndarray]:
    """People of ``image_name`` from an official-demo poses JSON, each (K,3) float64 x, y, score in pixels.

    Reads and validates with ``stream.pose2d.precomputed`` (errors are ``PosesFileError``, a ValueError naming the
    file, the image and the person), so ``PrecomputedPoses`` gives exactly these arrays.
    """
    data = load_json(path)
    if not isinstance(data, dict):
        raise PosesFileError(f"poses file {path}: expected an object mapping image names to people "
                             f"{DEMO_FORMAT}, got {type(data).__name__}")
    if image_name not in data:
        raise PosesFileError(f"poses file {path} has no entry for image {image_name!r} (it has "
                             f"{sorted(data)[:5]}); pass the poses made for this image")
    return demo_people(path, image_name, data[image_name], joint_set)


@torch.no_grad()
def estimate(model, image_rgb: np.ndarray, poses: list[np.ndarray], joint_set: str = "coco17",
             batch_size: int = 64) -> dict[str, np.ndarray]:
    """Crop every kept person and regress SMPL in batches of ``batch_size``; arrays stacked per person."""
    crops = crop_people(image_rgb, poses, joint_set, CropConfig(model.config.input_size, model.config.heatmap_size))
    device = next(model.parameters()).device
    outputs = []
    for s in range(0, len(crops["index"]), batch_size):
        batch = {k: torch.from_numpy(crops[k][s:s + batch_size]).to(device)
                 for k in ("img", "joints", "joints_mask", "bbox")}
        out = model(batch["img"], batch["joints"], batch["joints_mask"], bbox=batch["bbox"]).numpy()
        outputs.append({k: out[k] for k in OUTPUT_KEYS})
    result = {k: crops[k] for k in CROP_KEYS}
    result["crop_rgb"] = np.round(crops["img"] * 255).astype(np.uint8).transpose(0, 2, 3, 1)
    n_vert = model.body.faces.max() + 1
    for k in OUTPUT_KEYS:
        result[k] = (np.concatenate([o[k] for o in outputs]) if outputs
                     else np.zeros((0,) + _EMPTY_SHAPES.get(k, (int(n_vert), 3)), np.float32))
    return result


_EMPTY_SHAPES = {"smpl_pose": (72,), "smpl_shape": (10,), "cam_param": (3,), "cam_trans": (3,),
                 "joint_img": (15, 3), "joint_score": (15, 1), "joint_proj": (30, 2)}


def write_obj(path, vertices: np.ndarray, faces: np.ndarray) -> None:
    """Wavefront OBJ: (V,3) vertices, (F,3) 0-based faces."""
    with open(path, "w") as f:
        np.savetxt(f, vertices, fmt="v %.6f %.6f %.6f")
        np.savetxt(f, np.asarray(faces, dtype=np.int64) + 1, fmt="f %d %d %d")


def draw_overlay(image_rgb: np.ndarray, result: dict[str, np.ndarray], faces: np.ndarray,
                 focal: float = RENDER_FOCAL) -> np.ndarray:
    """The meshes drawn over the image in one z-buffer, each person through its own render camera."""
    boxes = np.asarray(result["bbox"], dtype=np.float64).reshape(-1, 4)
    princpts = boxes[:, :2] + boxes[:, 2:] / 2
    return draw_meshes(image_rgb, list(result["mesh_cam_render"]), faces, focal, princpts,
                       person_colors(len(result["index"])), alpha=0.8)


def write_results(out_dir, result: dict[str, np.ndarray], faces: np.ndarray, image_rgb: np.ndarray,
                  focal: float = RENDER_FOCAL) -> Path:
    """``people.npz``, ``person_<index>.obj`` (mesh in the render camera) and ``overlay.png``."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    np.savez(out_dir / "people.npz", **result)
    for index, verts in zip(result["index"], result["mesh_cam_render"]):
        write_obj(out_dir / f"person_{index}.obj", verts, faces)
    cv2.imwrite(str(out_dir / "overlay.png"), draw_overlay(image_rgb, result, faces, focal)[:, :, ::-1])
    return out_dir / "people.npz"
