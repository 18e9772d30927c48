"""Synthetic crowds with ground truth: people built from a body model walk past a pinhole camera.

    crowd = make_crowd(body, CrowdConfig(people=8, frames=300, seed=0))
    bgr, mesh_id = render(crowd, t)           # frame t: (H, W, 3) uint8 BGR, (H, W) int32 person or -1
    crowd.keypoints2d["coco17"][t]            # (N, 17, 3) x, y, visibility

Conventions (see ``nets.synth.camera``): all per-person 3D ground truth is in the CAMERA frame,
x right, y down, z forward, metres, so ``body(smpl_pose[t], betas, trans[t])`` gives the camera-frame
mesh and joints directly; pixels ``(u, v, 1) ~ K @ X``, pixel centres at integer (column, row). The
camera's world pose (``camera.R``, ``camera.t``: ``X_cam = R X_world + t``; world +y up, ground y = 0) is
kept for reference, as are the walkers' world positions on the ground.

Ground truth, first axes (T frames, N people); person index n is identity ``ids[n]`` (= n) and is the
value of that person's pixels in the mesh-id buffer:
- ``smpl_pose`` (T, N, 72) axis-angle, root first (root = body orientation in the camera frame);
  ``betas`` (N, 10); ``trans`` (T, N, 3) SMPL translation, metres.
- ``joints3d`` (T, N, 30, 3): the 30 SMPL30 joints of ``BodyModel`` (``nets.joints.SMPL30``).
- ``keypoints2d[set]`` (T, N, K, 3) x, y, visibility for ``coco17``, ``crowdpose14`` and ``smpl30``:
  x, y the exact projection of ``joints3d`` (also when hidden); visibility 1 or 0 by the z-buffer rule
  of ``nets.synth.truth`` (0 when occluded by another person, self-occluded or outside the image).
- ``boxes`` (T, N, 4) xywh of the whole projected mesh (occluded parts included) clipped to the
  image; ``visible_boxes`` (T, N, 4) around the person's visible pixels; ``visible_pixels`` (T, N).
- ``present`` (T, N): the projected mesh overlaps the image (so a fully hidden person is present).
- ``occlusion`` (T, N): fraction of the person's in-image COCO-17/CrowdPose-14 joints (19) that are
  not visible; ``occluder`` (T, N, 30): the other person in front of each joint, or -1.
"""
from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass, field, fields

import numpy as np
import torch

from nets.config import check, is_int
from nets.synth.appearance import face_groups, floor_background, person_colors
from nets.synth.camera import Camera, look_down_camera
from nets.synth.motion import Area, axis_angle, gait_pose, gait_styles, root_rotation, walk
from nets.synth.raster import orient_faces, rasterize
from nets.synth.truth import ANNOTATED, KEYPOINT_SETS, annotate, in_image

log = logging.getLogger(__name__)

JOINT_SETS = KEYPOINT_SETS  # the joint sets of Crowd.keypoints2d
_CHUNK = 512  # bodies per forward when finding the ground contact
_BODIES_PER_FORWARD = 128  # when posing frames (small batches are slow on a busy CPU)


@dataclass(frozen=True)
class CrowdConfig:
    """A synthetic crowd sequence. Lengths in metres, angles in degrees, times in seconds."""
    people: int = 8
    frames: int = 300
    fps: float = 30.0
    width: int = 640
    height: int = 360
    seed: int = 0
    fov_deg: float = 60.0                 # horizontal field of view; focal = width / 2 / tan(fov / 2)
    camera_height: float = 1.8            # camera above the ground (about eye level: people hide others)
    camera_pitch_deg: float = 6.0         # looking down
    depth_range: tuple[float, float] = (4.5, 12.0)  # where people walk: distance along the ground
    side_margin: float = 1.0              # paths may leave the image sides by this much
    speed_range: tuple[float, float] = (0.8, 1.6)   # cruising speed per person, m/s
    turn_rate_deg: float = 120.0          # fastest turn, degrees per second
    stop_probability: float = 0.3         # chance to pause on reaching a waypoint
    stop_seconds: tuple[float, float] = (1.0, 3.0)
    shape_std: float = 1.0                # betas ~ N(0, shape_std), clipped at 2.5 std
    visibility_tolerance: float = 0.15    # see nets.synth.truth

    def __post_init__(self):
        """A field out of range raises ``nets.config.ConfigError`` naming it, the value and what is expected."""
        for name in ("people", "frames", "width", "height", "seed"):
            check(self, name, is_int(getattr(self, name)), "an integer")
        check(self, "people", self.people >= 1, "at least 1 person")
        check(self, "frames", self.frames >= 1, "at least 1 frame")
        check(self, "width" if self.width < 16 else "height", self.width >= 16 and self.height >= 16,
              "an image of at least 16x16 pixels")
        check(self, "seed", self.seed >= 0, "a non-negative integer")
        check(self, "fps", self.fps > 0, "frames per second > 0")
        check(self, "fov_deg", 0 < self.fov_deg < 170, "a horizontal field of view in (0, 170) degrees")
        check(self, "camera_height", self.camera_height > 0, "metres above the ground > 0")
        check(self, "camera_pitch_deg", -10 <= self.camera_pitch_deg < 80, "degrees down in [-10, 80)")
        for name in ("depth_range", "speed_range", "stop_seconds"):
            value = getattr(self, name)
            check(self, name, len(value) == 2 and 0 <= value[0] <= value[1],
                  "(low, high) with 0 <= low <= high")
        check(self, "depth_range", self.depth_range[0] > 0.5, "a nearest depth above 0.5 m")
        check(self, "speed_range", self.speed_range[1] > 0, "a top speed above 0 m/s")
        check(self, "side_margin", self.side_margin >= 0, "metres >= 0")
        check(self, "turn_rate_deg", self.turn_rate_deg > 0, "degrees per second > 0")
        check(self, "stop_probability", 0 <= self.stop_probability <= 1, "a probability in [0, 1]")
        check(self, "shape_std", self.shape_std >= 0, "a standard deviation >= 0")
        check(self, "visibility_tolerance", self.visibility_tolerance >= 0, "metres >= 0")


class Poser:
    """Frames of one sequence through the body model: ``poser(t)`` -> (vertices (N, V, 3), joints (N, 30, 3)).

    Frames are posed in fixed chunks of ``chunk_frames(N)`` (small batches are slow on a busy CPU, and
    results may differ in the last bit with the batch size, so the chunks never change); the last
    chunk is kept, so frames in order cost one forward per chunk.
    """

    def __init__(self, body, smpl_pose: np.ndarray, betas: np.ndarray, trans: np.ndarray):
        self.body, self.smpl_pose, self.betas, self.trans = body, smpl_pose, betas, trans
        self.frames, self.people = smpl_pose.shape[:2]
        self.chunk = chunk_frames(self.people)
        self._cached: tuple[int, tuple[np.ndarray, np.ndarray]] | None = None

    def __call__(self, t) -> tuple[np.ndarray, np.ndarray]:
        if not isinstance(t, (int, np.integer)) or not 0 <= t < self.frames:
            raise IndexError(f"frame {t!r} is outside this crowd's 0..{self.frames - 1}")
        index = int(t) // self.chunk
        if self._cached is None or self._cached[0] != index:
            span = slice(index * self.chunk, min((index + 1) * self.chunk, self.frames))
            self._cached = index, _pose(self.body, self.smpl_pose[span], self.betas, self.trans[span])
        verts, joints = self._cached[1]
        return verts[int(t) - index * self.chunk], joints[int(t) - index * self.chunk]


@dataclass(frozen=True, eq=False)
class Crowd:
    """A generated sequence and its ground truth (see the module docstring for every array)."""
    config: CrowdConfig
    camera: Camera
    ids: np.ndarray            # (N,) int64
    smpl_pose: np.ndarray      # (T, N, 72) float32
    betas: np.ndarray          # (N, 10) float32
    trans: np.ndarray          # (T, N, 3) float32
    joints3d: np.ndarray       # (T, N, 30, 3) float32
    keypoints2d: dict          # set -> (T, N, K, 3) float32
    boxes: np.ndarray          # (T, N, 4) float32
    visible_boxes: np.ndarray  # (T, N, 4) float32
    visible_pixels: np.ndarray  # (T, N) int32
    present: np.ndarray        # (T, N) bool
    occlusion: np.ndarray      # (T, N) float32
    occluder: np.ndarray       # (T, N, 30) int16
    world_xz: np.ndarray       # (T, N, 2) float32 pelvis on the ground, world frame
    heading: np.ndarray        # (T, N) float32 radians, 0 = facing world +z (away from the camera)
    speed: np.ndarray          # (T, N) float32 m/s
    colors: np.ndarray         # (N, 3, 3) uint8 BGR: shirt, trousers, skin
    background: np.ndarray     # (H, W, 3) uint8 BGR
    body: torch.nn.Module = field(repr=False)
    faces: np.ndarray = field(repr=False)      # (F, 3) int64, the body's faces wound outward
    cull_backfaces: bool = field(repr=False)   # the body mesh is closed: back faces may be culled
    face_group: np.ndarray = field(repr=False)  # (F,) int8: 0 shirt, 1 trousers, 2 skin
    poser: Poser = field(repr=False)

    @property
    def frames(self) -> int:
        return self.smpl_pose.shape[0]

    @property
    def people(self) -> int:
        return len(self.ids)

    @property
    def fps(self) -> float:
        return self.config.fps

    def vertices(self, t: int) -> np.ndarray:
        """(N, V, 3) float32 camera-frame meshes of frame ``t`` (bit-identical to what the truth used)."""
        return self.poser(t)[0]

    def arrays(self) -> dict[str, np.ndarray]:
        """The ground truth as plain arrays (keypoints as ``keypoints2d_<set>``), camera as K, R, t."""
        skip = {"config", "camera", "keypoints2d", "body", "faces", "cull_backfaces", "face_group", "background",
                "poser"}
        out = {f.name: getattr(self, f.name) for f in fields(self) if f.name not in skip}
        out.update({f"keypoints2d_{name}": kp for name, kp in self.keypoints2d.items()})
        out.update(K=self.camera.K, R=self.camera.R, t=self.camera.t)
        return out


def chunk_frames(people: int) -> int:
    """Frames per body-model forward: about ``_BODIES_PER_FORWARD`` bodies."""
    return max(1, _BODIES_PER_FORWARD // people)


def _pose(body, pose: np.ndarray, betas: np.ndarray, trans: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(C, N, 72) poses, (N, 10) betas, (C, N, 3) translations -> vertices (C, N, V, 3), joints (C, N, 30, 3)."""
    c, n = pose.shape[:2]
    shapes = np.tile(betas, (c, 1))
    with torch.no_grad():
        out = body(torch.from_numpy(pose.reshape(c * n, -1)), torch.from_numpy(shapes),
                   torch.from_numpy(trans.reshape(c * n, 3)))
    return out.vertices.numpy().reshape(c, n, -1, 3), out.joints.numpy().reshape(c, n, -1, 3)


def _ground_offset(body, pose_world: np.ndarray, betas: np.ndarray) -> np.ndarray:
    """(T, N, 72) world-oriented poses -> (T, N) lowest vertex height with the root joint at its rest place."""
    t, n = pose_world.shape[:2]
    flat = torch.from_numpy(pose_world.reshape(-1, 72).astype(np.float32))
    shapes = torch.from_numpy(np.broadcast_to(betas, (t, n, 10)).reshape(-1, 10).copy())
    low = []
    with torch.no_grad():
        for s in range(0, len(flat), _CHUNK):
            low.append(body(flat[s:s + _CHUNK], shapes[s:s + _CHUNK]).vertices[..., 1].amin(dim=1).numpy())
    return np.concatenate(low).reshape(t, n)


def make_crowd(body, config: CrowdConfig = CrowdConfig(), on_frame=None) -> Crowd:
    """Generate a crowd with ``body`` (a ``nets.body.BodyModel``); the same config gives the same crowd.

    ``on_frame(t, bgr, mesh_id)``, when given, receives every frame exactly as ``render`` draws it, while
    the ground truth is made (a video writer then need not draw each frame a second time).
    """
    if not isinstance(config, CrowdConfig):
        raise TypeError(f"config: expected a CrowdConfig, got {type(config).__name__}")
    T, N = config.frames, config.people
    rng_shape, rng_style, rng_path, rng_color = (np.random.default_rng(s)
                                                 for s in np.random.SeedSequence(config.seed).spawn(4))
    std = config.shape_std
    betas = np.clip(rng_shape.normal(0.0, std, (N, 10)), -2.5 * std, 2.5 * std)
    area = Area(near=config.depth_range[0], far=config.depth_range[1],
                half_width_at_1m=np.tan(np.radians(config.fov_deg) / 2), margin=config.side_margin)
    paths = walk(area, N, T, config.fps, config.speed_range, np.radians(config.turn_rate_deg),
                 config.stop_probability, config.stop_seconds, rng_path)
    pose = gait_pose(paths.phase, paths.speed, gait_styles(rng_style, N))
    return place_people(body, config, paths.xz, paths.heading, pose, betas, speed=paths.speed,
                        colors=person_colors(N, rng_color), on_frame=on_frame)


def place_people(body, config: CrowdConfig, xz: np.ndarray, heading: np.ndarray, pose: np.ndarray,
                 betas: np.ndarray, speed: np.ndarray | None = None, colors: np.ndarray | None = None,
                 on_frame=None) -> Crowd:
    """People with given motion, standing on the ground of ``config``'s scene, with their ground truth.

    xz (T, N, 2) world ground position of each pelvis; heading (T, N) radians (0 faces world +z, away
    from the camera; pi faces the camera); pose (T, N, 72) SMPL body pose (the root, first 3, is
    replaced by the heading); betas (N, 10). Each frame the body is lifted so that its lowest vertex
    touches the ground. ``config.people``/``frames`` are taken from the arrays' shapes. ``colors``:
    (N, 3, 3) uint8 BGR shirt, trousers, skin (default: drawn from ``config.seed``); ``on_frame`` as in
    ``make_crowd``.
    """
    xz, heading = np.asarray(xz, np.float64), np.asarray(heading, np.float64)
    pose, betas = np.array(pose, np.float64), np.asarray(betas, np.float32)
    T, N = heading.shape
    if xz.shape != (T, N, 2) or pose.shape != (T, N, 72) or betas.shape != (N, 10):
        raise ValueError(f"place_people: expected xz (T, N, 2), heading (T, N), pose (T, N, 72), betas (N, 10) "
                         f"with one T and N; got {xz.shape}, {heading.shape}, {pose.shape}, {betas.shape}")
    config = dataclasses.replace(config, people=N, frames=T)
    camera = look_down_camera(config.width, config.height, config.fov_deg, config.camera_height,
                              config.camera_pitch_deg)
    root_world = root_rotation(heading)                                    # (T, N, 3, 3)
    pose[..., :3] = axis_angle(root_world)
    lowest = _ground_offset(body, pose, betas)
    with torch.no_grad():
        rest = body(torch.zeros(N, 72), torch.from_numpy(betas)).joints[:, 0].numpy().astype(np.float64)
    # world translation putting the pelvis over (x, z) and the lowest vertex on the ground
    trans_world = np.stack([xz[..., 0] - rest[:, 0], -lowest, xz[..., 1] - rest[:, 2]], -1)
    pose[..., :3] = axis_angle(camera.R @ root_world)                      # the same body, camera frame
    trans = (rest + trans_world) @ camera.R.T + camera.t - rest
    smpl_pose, trans = pose.astype(np.float32), trans.astype(np.float32)
    poser = Poser(body, smpl_pose, betas, trans)
    if colors is None:
        colors = person_colors(N, np.random.default_rng(config.seed))
    groups, background = face_groups(body), floor_background(camera)
    faces, cull = orient_faces(body.smpl.v_template.detach().cpu().numpy(), body.faces)
    truth = annotate(poser, camera, faces, cull, config.visibility_tolerance, on_frame, _face_colors(colors, groups),
                     background)
    crowd = Crowd(
        config=config, camera=camera, ids=np.arange(N, dtype=np.int64), smpl_pose=smpl_pose, betas=betas,
        trans=trans, **truth, world_xz=xz.astype(np.float32), heading=heading.astype(np.float32),
        speed=(np.zeros((T, N)) if speed is None else speed).astype(np.float32), colors=colors,
        background=background, body=body, faces=faces, cull_backfaces=cull, face_group=groups, poser=poser)
    log.debug("crowd: %d people, %d frames, occlusion %.3f", N, T, occlusion_summary(crowd)["keypoints_occluded"])
    return crowd


def render(crowd: Crowd, t: int, *, shading: str = "lambert") -> tuple[np.ndarray, np.ndarray]:
    """Frame ``t`` -> (BGR image (H, W, 3) uint8, mesh-id buffer (H, W) int32: person index or -1).

    The id buffer is the one the ground-truth visibility was computed from.
    """
    out = rasterize(crowd.vertices(t), crowd.faces, crowd.camera.K, crowd.camera.size,
                    _face_colors(crowd.colors, crowd.face_group), crowd.background, shading=shading,
                    cull_backfaces=crowd.cull_backfaces)
    return out.image, out.mesh_id


def _face_colors(colors: np.ndarray, groups: np.ndarray) -> np.ndarray:
    """(N, 3, 3) person colours, (F,) face groups -> (N, F, 3) float face colours."""
    return colors[:, groups].astype(np.float64)


def occlusion_summary(crowd: Crowd) -> dict[str, float]:
    """Occlusion of a whole sequence, over the person-frames where the person is present.

    ``keypoints_occluded``: mean ``occlusion`` (fraction of in-image annotated joints not visible, any
    cause); ``by_others``: fraction of in-image annotated joints hidden behind another person;
    ``heavily_occluded``: fraction of person-frames with ``occlusion >= 0.5``; ``fully_hidden``:
    fraction with no visible annotated joint.
    """
    present = crowd.present
    if not present.any():
        return {"keypoints_occluded": 0.0, "by_others": 0.0, "heavily_occluded": 0.0, "fully_hidden": 0.0}
    kp = crowd.keypoints2d["smpl30"]
    uv, vis = kp[..., :2], kp[..., 2] > 0
    inside = in_image(uv, crowd.joints3d[..., 2], crowd.camera.width, crowd.camera.height)[..., ANNOTATED]
    others = (crowd.occluder[..., ANNOTATED] >= 0) & ~vis[..., ANNOTATED] & inside
    return {
        "keypoints_occluded": float(crowd.occlusion[present].mean()),
        "by_others": float(others[present].sum() / max(inside[present].sum(), 1)),
        "heavily_occluded": float((crowd.occlusion[present] >= 0.5).mean()),
        "fully_hidden": float((~vis[..., ANNOTATED].any(-1))[present].mean()),
    }
