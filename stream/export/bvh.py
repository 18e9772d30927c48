"""BVH: one file per track, the SMPL skeleton of the track's betas and its motion.

    path = write_bvh("track_0003.bvh", motion, body, fps=30.0)            # metres
    path = write_bvh("track_0003.bvh", motion, body, fps=30.0, scale=100)  # centimetres

Conventions (``stream.export.motion`` has the frames):
- Axes: the export frame, +Y up, right-handed, ``(x, -y, -z)`` of the camera frame. The rest pose is
  SMPL's zero pose (arms out, facing +Z), bone offsets are the rest joints of the track's betas
  (``J_regressor`` of the shaped body), and every joint frame is aligned with the file's axes.
- Units: metres by default (Blender's BVH importer at its default scale 1.0 gives the true size);
  ``scale=100`` writes centimetres. Angles in degrees.
- Channels: the root (``Pelvis``) has ``Xposition Yposition Zposition Zrotation Xrotation Yrotation``,
  every other joint ``Zrotation Xrotation Yrotation`` (order ``ZXY``): a joint's local rotation is
  ``Rz(z) @ Rx(x) @ Ry(y)`` on column vectors and its transform is ``parent @ T(OFFSET) @ R``; the root's
  OFFSET is zero and its position channels are the pelvis position.
- Frames: every video frame from the track's first to its last (``Frame Time`` = 1 / fps); frames the
  track missed inside that span are interpolated (``fill_gaps``). The file does not say where the track
  starts in the video: that is frame ``motion.frame[0]`` (the CLI names files ``track_<id>.bvh`` and
  logs the start frames).
- Leaf joints (feet, head, hands) end in an ``End Site`` half their bone's length further on.
"""
from __future__ import annotations

import io
import logging
from pathlib import Path

import numpy as np

from nets.rotations import matrix_to_euler
from stream.export.motion import JOINT_NAMES, ExportError, TrackMotion, fill_gaps, pose_skeleton

log = logging.getLogger(__name__)

EULER_ORDER = "ZXY"
_AXIS_NAMES = {"X": "Xrotation", "Y": "Yrotation", "Z": "Zrotation"}


def _children(parents: np.ndarray) -> dict[int, list[int]]:
    out: dict[int, list[int]] = {j: [] for j in range(len(parents))}
    for j, p in enumerate(parents):
        if p >= 0:
            out[int(p)].append(j)
    return out


def joint_order(parents: np.ndarray) -> list[int]:
    """Joints in the depth-first order of the BVH hierarchy (and of the motion channels)."""
    children, order, stack = _children(parents), [], [0]
    while stack:
        j = stack.pop()
        order.append(j)
        stack.extend(reversed(children[j]))
    return order


def bvh_text(motion: TrackMotion, body, fps: float, scale: float = 1.0, order: str = EULER_ORDER) -> str:
    """The BVH file of ``motion`` (see the module docstring) as text."""
    if not np.isfinite(fps) or fps <= 0:
        raise ExportError(f"fps = {fps!r}: expected the video's frames per second, > 0")
    if not np.isfinite(scale) or scale <= 0:
        raise ExportError(f"scale = {scale!r}: expected a positive factor from metres (1 = metres, 100 = cm)")
    filled, observed = fill_gaps(motion)
    if not observed.all():
        log.info("track %s: %d of %d frames missing inside the track, interpolated for BVH",
                 motion.track_id, int((~observed).sum()), len(observed))
    skel = pose_skeleton(filled, body)
    offsets, children = skel.offsets * scale, _children(skel.parents)
    rot_channels = " ".join(_AXIS_NAMES[a] for a in order.upper())
    lines = ["HIERARCHY"]

    def write_joint(j: int, depth: int) -> None:
        pad = "  " * depth
        if j == 0:
            lines.append(f"ROOT {JOINT_NAMES[0]}")
            lines.extend([f"{pad}{{", f"{pad}  OFFSET 0.000000 0.000000 0.000000",
                          f"{pad}  CHANNELS 6 Xposition Yposition Zposition {rot_channels}"])
        else:
            lines.append(f"{pad}JOINT {JOINT_NAMES[j]}")
            lines.extend([f"{pad}{{", f"{pad}  OFFSET " + " ".join(f"{v:.6f}" for v in offsets[j]),
                          f"{pad}  CHANNELS 3 {rot_channels}"])
        for child in children[j]:
            write_joint(child, depth + 1)
        if not children[j]:
            end = 0.5 * offsets[j]
            lines.extend([f"{pad}  End Site", f"{pad}  {{", f"{pad}    OFFSET " + " ".join(f"{v:.6f}" for v in end),
                          f"{pad}  }}"])
        lines.append(f"{pad}}}")

    write_joint(0, 0)
    joints = joint_order(skel.parents)
    angles = np.degrees(matrix_to_euler(skel.rotations[:, joints], order))       # (T, 24, 3)
    table = np.concatenate([skel.root_position * scale, angles.reshape(len(angles), -1)], axis=1)
    lines.extend(["MOTION", f"Frames: {len(table)}", f"Frame Time: {1.0 / fps:.8f}"])
    buffer = io.StringIO()
    np.savetxt(buffer, table, fmt="%.6f")
    return "\n".join(lines) + "\n" + buffer.getvalue()


def write_bvh(path, motion: TrackMotion, body, fps: float, scale: float = 1.0, order: str = EULER_ORDER) -> Path:
    """Write one track as a BVH file (see the module docstring); returns the path."""
    path = Path(path)
    text = bvh_text(motion, body, fps, scale, order)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path
