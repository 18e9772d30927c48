"""One track's SMPL motion as plain arrays, and the conventions every exporter shares.

    motion = TrackMotion(track_id=3, frame=frame, time=time, poses=poses, trans=trans, betas=betas)
    skel = pose_skeleton(motion, body)        # the track as a skeleton in the export frame
    skel.offsets, skel.rotations, skel.root_position

Frames and units (all formats):
- The store is in the camera frame: x right, y down, z forward, metres.
- Files are in the EXPORT frame: right-handed, +Y up, metres, ``export = CAMERA_TO_EXPORT @ camera`` with
  ``CAMERA_TO_EXPORT = diag(1, -1, -1)`` (x, -y, -z): a half turn about x. The video camera then sits at
  the origin looking down -Z with +Y up (the glTF camera convention), and people stand upright.
- The skeleton's rest pose is SMPL's own: its joint frames are all aligned with the export axes
  (+Y up, +X the body's left, +Z its front), so a joint's local rotation is SMPL's axis-angle rotation
  unchanged; only the root rotation is turned into the export frame: ``CAMERA_TO_EXPORT @ R_root``.
- Times are seconds from the start of the video (frame 0 at time 0).

The body ``body(poses, betas, trans)`` (``nets.body.BodyModel``) gives the camera-frame mesh of a frame;
its root joint (pelvis) lies at ``J_0(betas) + trans``, where ``J`` are the rest joints of the shaped
body. A track has ONE skeleton, so per-frame betas are averaged (the store adapter does this), and the
pelvis keeps its observed place: ``root_position = CAMERA_TO_EXPORT @ (J_0(betas) + trans)``.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from nets.joints import SMPL30
from nets.rotations import axis_angle_to_matrix, matrix_to_axis_angle, matrix_to_quaternion, quaternion_to_matrix, slerp
from stream.mesh.render import person_colors
from stream.smooth.offline import interpolation

CAMERA_TO_EXPORT = np.diag([1.0, -1.0, -1.0])
JOINT_NAMES = SMPL30[:24]


def track_color(track_id: int) -> tuple[int, int, int]:
    """RGB 0-255 colour of a track: ``stream.mesh.render.person_colors`` indexed by the track id (GLB and video agree)."""
    return person_colors(int(track_id) + 1)[int(track_id)]


@dataclass(frozen=True)
class VideoCamera:
    """The store's full-image pinhole camera: focal (fx, fy) and principal point (cx, cy) in pixels, size (W, H)."""
    focal: tuple[float, float]
    principal_point: tuple[float, float]
    size: tuple[int, int]

    @property
    def K(self) -> np.ndarray:
        (fx, fy), (cx, cy) = self.focal, self.principal_point
        return np.array([[fx, 0.0, cx], [0.0, fy, cy], [0.0, 0.0, 1.0]])


class ExportError(ValueError):
    """Export input that cannot be written: the message names the value, what was expected and the fix."""


@dataclass(frozen=True, eq=False)
class TrackMotion:
    """SMPL motion of one track, camera frame (x right, y down, z forward), metres, seconds.

    frame (T,) int video frame indices, strictly increasing (gaps allowed); time (T,) seconds from the
    video start, strictly increasing; poses (T, 24, 3) axis-angle, root first; trans (T, 3) SMPL
    translation (``body(poses, betas, trans)`` is the camera-frame mesh); betas (10,); observed (T,) bool,
    False for a frame filled between sightings (offline smoothing; None: every frame was seen).
    """
    track_id: int
    frame: np.ndarray
    time: np.ndarray
    poses: np.ndarray
    trans: np.ndarray
    betas: np.ndarray
    observed: np.ndarray | None = None

    def __post_init__(self):
        frame = np.asarray(self.frame)
        T = len(frame)
        name = f"track {self.track_id}"
        if self.observed is not None and np.shape(self.observed) != (T,):
            raise ExportError(f"{name}: observed has shape {np.shape(self.observed)}, expected ({T},) (T = {T} frames)")
        shapes = {"frame": (T,), "time": (T,), "poses": (T, 24, 3), "trans": (T, 3), "betas": (10,)}
        for key, shape in shapes.items():
            value = np.asarray(getattr(self, key))
            if value.shape != shape:
                raise ExportError(f"{name}: {key} has shape {value.shape}, expected {shape} "
                                  f"(T = {T} frames, SMPL pose as 24 axis-angle rotations, 10 betas)")
            if key != "frame" and not np.isfinite(value).all():
                raise ExportError(f"{name}: {key} contains NaN or inf; drop those frames before exporting")
        if T == 0:
            raise ExportError(f"{name} has no frames; expected at least one")
        if frame.dtype.kind not in "iu" or (np.diff(frame) <= 0).any() or (np.diff(self.time) <= 0).any():
            raise ExportError(f"{name}: frame indices and times must be strictly increasing integers / seconds, "
                              f"got frames {frame[:6].tolist()}... times {np.asarray(self.time)[:6].tolist()}...")

    @property
    def length(self) -> int:
        return len(self.frame)

    @property
    def span(self) -> int:
        """Video frames from the first to the last frame of the track, gaps included."""
        return int(self.frame[-1] - self.frame[0] + 1)


@dataclass(frozen=True, eq=False)
class Skeleton:
    """A track as a skeleton in the export frame (+Y up, metres), the form BVH and glTF want.

    parents (24,) parent joint or -1; rest (24, 3) rest-pose joint positions of the shaped body, SMPL
    body frame (= export axes); offsets (24, 3) ``rest[j] - rest[parent]`` (the root's: ``rest[0]``);
    rotations (T, 24, 3, 3) local joint rotations (the root's in the export frame); root_position (T, 3)
    the pelvis in the export frame. Joint j's world transform is the parent's times
    ``[rotations[j] | offsets[j]]``, the root's ``[rotations[0] | root_position]``.
    """
    parents: np.ndarray
    rest: np.ndarray
    rotations: np.ndarray
    root_position: np.ndarray

    @property
    def offsets(self) -> np.ndarray:
        out = self.rest.copy()
        out[1:] -= self.rest[self.parents[1:]]
        return out


def body_parents(body) -> np.ndarray:
    """(24,) int parent of each SMPL joint, -1 for the root, from the body model's kinematic tree."""
    parents = body.smpl.parents.detach().cpu().numpy().astype(np.int64)
    parents[0] = -1
    return parents


def _shape_buffers(body) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    layer = body.smpl
    template = layer.v_template.detach().cpu().numpy().astype(np.float64)
    dirs = layer.shapedirs.detach().cpu().numpy().astype(np.float64)[..., :10]
    regressor = layer.J_regressor.detach().cpu().numpy().astype(np.float64)
    return template, dirs, regressor


def shaped_rest(body, betas: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(10,) betas -> rest vertices (V, 3) and rest joints (24, 3) of the shaped body, metres.

    The zero-pose body of ``body``: template plus shape blend shapes, joints by SMPL's ``J_regressor``
    (the joints linear blend skinning turns about).
    """
    template, dirs, regressor = _shape_buffers(body)
    verts = template + (dirs.reshape(-1, 10) @ np.asarray(betas, dtype=np.float64)).reshape(-1, 3)
    return verts, regressor @ verts


def rest_joints(body, betas: np.ndarray) -> np.ndarray:
    """(..., 10) betas -> (..., 24, 3) rest joints of the shaped bodies (as ``shaped_rest``, without vertices)."""
    template, dirs, regressor = _shape_buffers(body)
    joint_dirs = (regressor @ dirs.reshape(len(template), 30)).reshape(-1, 3, 10)
    return regressor @ template + np.einsum("jck,...k->...jc", joint_dirs, np.asarray(betas, dtype=np.float64))


def pose_skeleton(motion: TrackMotion, body) -> Skeleton:
    """The track's skeleton in the export frame (see ``Skeleton``), built from ``body``'s rest joints."""
    rest = rest_joints(body, motion.betas)
    rotations = axis_angle_to_matrix(motion.poses)
    rotations[:, 0] = CAMERA_TO_EXPORT @ rotations[:, 0]
    root = (rest[0] + np.asarray(motion.trans, dtype=np.float64)) @ CAMERA_TO_EXPORT.T
    return Skeleton(parents=body_parents(body), rest=rest, rotations=rotations, root_position=root)


def fill_gaps(motion: TrackMotion) -> tuple[TrackMotion, np.ndarray]:
    """The track on every video frame from its first to its last -> (motion, observed (T',) bool).

    Frames missing inside the track are filled by interpolation between the neighbouring rows: rotations by
    slerp, translation and time linearly; ``observed`` is False there and where ``motion.observed`` is.
    Formats with a fixed frame rate (BVH, AMASS) need this; glTF keeps only the track's own keys.
    """
    frames = np.arange(motion.frame[0], motion.frame[-1] + 1)
    has_row = np.isin(frames, motion.frame)
    observed = has_row.copy()
    if motion.observed is not None:
        observed[has_row] = np.asarray(motion.observed, dtype=bool)
    if has_row.all():
        return motion, observed
    lo, hi, w = interpolation(motion.frame, frames)
    q = matrix_to_quaternion(axis_angle_to_matrix(motion.poses))
    q = slerp(q[lo], q[hi], np.broadcast_to(w[:, None], q[lo].shape[:-1]))
    poses = matrix_to_axis_angle(quaternion_to_matrix(q))
    poses[has_row] = motion.poses                         # the track's rows exactly as given
    trans = motion.trans[lo] * (1 - w[:, None]) + motion.trans[hi] * w[:, None]
    trans[has_row] = motion.trans
    time = motion.time[lo] * (1 - w) + motion.time[hi] * w
    time[has_row] = motion.time
    return TrackMotion(track_id=motion.track_id, frame=frames, time=time, poses=poses, trans=trans,
                       betas=motion.betas, observed=observed), observed
