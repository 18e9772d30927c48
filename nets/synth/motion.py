"""Walking people on a ground plane: paths (steering to waypoints, turning, pausing) and a gait.

World frame as in ``nets.synth.camera``: +y up, ground y = 0, positions are (x, z) on the ground and
a heading h walks along (sin h, cos h) in (x, z), so h = 0 faces +z, away from the camera.

``walk(...)`` simulates everyone together, one frame at a time: each person steers towards a
waypoint (turning at most ``turn_rate`` per second, slowing down in sharp turns, steering clear of
others and slowing down behind someone in the way), speeds up and slows down smoothly, and on
reaching the waypoint may pause before picking the next one. Waypoints are drawn across the whole
walking area, preferably on the other side of the view from the walker, so paths cross in front of
and behind each other.

``gait_pose(...)`` turns the gait phase and speed into SMPL body joint rotations (axis-angle, in
SMPL's rest frame: +x the body's left, +y up, +z forward): hips and knees swing the legs, arms hang
and swing against the legs with bent elbows, the spine counter-rotates and the torso leans a little
into the walk. Its amplitude scales with speed, so a person who stops stands still.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from nets.geometry import matrix_to_axis_angle
from nets.rotations import axis_rotation

_ACCELERATION = 1.0   # m/s^2
_BRAKING = 2.5        # m/s^2
_PERSONAL_SPACE = 1.0  # metres: closer people push each other's steering apart
_NOMINAL_SPEED = 1.3  # m/s at which gait amplitudes are the style's values


@dataclass(frozen=True)
class Paths:
    """Everyone's motion on the ground, first axes (T, N)."""
    xz: np.ndarray       # (T, N, 2) ground position of the pelvis, metres
    heading: np.ndarray  # (T, N) radians, 0 = facing +z
    speed: np.ndarray    # (T, N) m/s
    phase: np.ndarray    # (T, N) gait phase, radians (the left leg is forward at sin(phase) = 1)


@dataclass(frozen=True)
class Area:
    """The walking area: depth z in [near, far]; at depth z, |x| <= half_width_at_1m * z + margin."""
    near: float
    far: float
    half_width_at_1m: float
    margin: float

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        z = rng.uniform(self.near, self.far, n)
        half = self.half_width_at_1m * z + self.margin
        return np.stack([rng.uniform(-half, half), z], -1)


def walk(area: Area, people: int, frames: int, fps: float, speed_range: tuple[float, float],
         turn_rate: float, stop_probability: float, stop_seconds: tuple[float, float],
         rng: np.random.Generator) -> Paths:
    """Simulate ``people`` walkers for ``frames`` frames (see the module docstring)."""
    dt = 1.0 / fps
    pos = np.zeros((people, 2))
    for i in range(people):  # start apart from each other
        for _ in range(50):
            pos[i] = area.sample(rng, 1)[0]
            if i == 0 or np.linalg.norm(pos[:i] - pos[i], axis=1).min() > 1.0:
                break
    goal = area.sample(rng, people)
    cruise = rng.uniform(*speed_range, people)
    stride = rng.uniform(0.9, 1.1, people)
    heading = np.arctan2(goal[:, 0] - pos[:, 0], goal[:, 1] - pos[:, 1])
    speed = cruise.copy()
    phase = rng.uniform(0, 2 * np.pi, people)
    pause = np.zeros(people)
    out = {k: np.zeros((frames, people)) for k in ("x", "z", "heading", "speed", "phase")}
    for t in range(frames):
        out["x"][t], out["z"][t] = pos[:, 0], pos[:, 1]
        out["heading"][t], out["speed"][t], out["phase"][t] = heading, speed, phase
        to_goal = goal - pos
        distance = np.linalg.norm(to_goal, axis=1)
        arrived = (distance < 0.5) & (pause <= 0)
        stops = arrived & (rng.random(people) < stop_probability)
        pause[stops] = rng.uniform(*stop_seconds, int(stops.sum()))
        candidates = area.sample(rng, 8 * people).reshape(8, people, 2)
        # the first candidate 2.5 m away, on the other side of the view when there is one: paths cross
        far = np.linalg.norm(candidates - pos, axis=-1) > 2.5
        across = far & (candidates[..., 0] * pos[:, 0] < 0)
        pick = np.where(across.any(axis=0), np.argmax(across, axis=0), np.argmax(far, axis=0))
        goal = np.where(arrived[:, None], candidates[pick, np.arange(people)], goal)
        to_goal = goal - pos
        desired = to_goal / np.maximum(np.linalg.norm(to_goal, axis=1, keepdims=True), 1e-9)
        away = pos[:, None] - pos[None]                                   # (N, N): me - other
        gap = np.linalg.norm(away, axis=-1) + np.eye(people) * 1e9
        push = (away / gap[..., None] ** 2 * (gap < _PERSONAL_SPACE)[..., None]).sum(axis=1)
        desired = desired + push
        target = np.arctan2(desired[:, 0], desired[:, 1])
        error = np.angle(np.exp(1j * (target - heading)))
        heading = heading + np.clip(error, -turn_rate * dt, turn_rate * dt)
        # slow down behind someone in the way (never to a standstill, so nobody waits forever)
        forward = np.stack([np.sin(heading), np.cos(heading)], -1)
        along = -(away * forward[:, None]).sum(-1)
        in_way = (along > 0) & (np.sqrt(np.maximum(gap ** 2 - along ** 2, 0)) < 0.6)
        room = np.where(in_way, np.clip((gap - 0.45) / 0.75, 0.15, 1.0), 1.0).min(axis=1)
        want = np.where(pause > 0, 0.0, cruise * np.clip(np.cos(error), 0.3, 1.0) * room)
        speed = speed + np.clip(want - speed, -_BRAKING * dt, _ACCELERATION * dt)
        pause = pause - dt
        step = speed * dt
        pos = pos + step[:, None] * np.stack([np.sin(heading), np.cos(heading)], -1)
        phase = phase + 2 * np.pi * step / (stride * (0.7 + 0.55 * speed))
    return Paths(xz=np.stack([out["x"], out["z"]], -1), heading=out["heading"], speed=out["speed"],
                 phase=out["phase"])


def gait_styles(rng: np.random.Generator, people: int) -> dict[str, np.ndarray]:
    """Per-person gait amplitudes (radians), drawn once per person."""
    return {
        "hip": rng.uniform(0.35, 0.5, people), "knee": rng.uniform(0.7, 1.0, people),
        "arm_down": rng.uniform(1.2, 1.38, people), "arm_swing": rng.uniform(0.2, 0.45, people),
        "elbow": rng.uniform(0.15, 0.45, people), "lean": rng.uniform(0.0, 0.08, people),
        "head_yaw": rng.uniform(-0.3, 0.3, people),
    }


def axis_angle(R: np.ndarray) -> np.ndarray:
    """(..., 3, 3) rotation matrices -> (..., 3) axis-angle, by the torch ``nets.geometry`` whose rounding the
    seeded crowds reproduce (``nets.rotations.matrix_to_axis_angle`` agrees to 1e-15, not bit for bit)."""
    flat = torch.from_numpy(np.ascontiguousarray(R, dtype=np.float64).reshape(-1, 3, 3))
    return matrix_to_axis_angle(flat).numpy().reshape(R.shape[:-2] + (3,))


def gait_pose(phase: np.ndarray, speed: np.ndarray, style: dict[str, np.ndarray]) -> np.ndarray:
    """(T, N) phase and speed, per-person style (N,) -> (T, N, 72) SMPL pose with a zero root."""
    g = np.clip(speed / _NOMINAL_SPEED, 0.0, 1.3)
    s = {k: v[None] for k, v in style.items()}
    sin = np.sin(phase)
    pose = np.zeros(phase.shape + (24, 3))

    def swing_knee(p):  # knee flexion peaks early in the leg's swing, a little bend in stance
        return s["knee"] * g * (0.1 + 0.9 * np.clip(np.cos(p + np.pi / 4), 0, 1) ** 2)

    pose[..., 1, 0] = -s["hip"] * g * sin              # left hip: negative x swings the leg forward
    pose[..., 2, 0] = s["hip"] * g * sin
    pose[..., 4, 0] = swing_knee(phase)                # knees: positive x bends the shank back
    pose[..., 5, 0] = swing_knee(phase + np.pi)
    pose[..., 7, 0] = 0.12 * g * sin                   # ankles
    pose[..., 8, 0] = -0.12 * g * sin
    pose[..., 3, 1] = 0.08 * g * sin                   # pelvis-spine twist and counter-twist
    pose[..., 9, 1] = -0.12 * g * sin
    pose[..., 3, 0] = s["lean"] * g                    # lean into the walk
    pose[..., 15, 1] = s["head_yaw"] * np.sin(0.3 * phase + 1.7 * s["head_yaw"])
    bend = s["elbow"] + 0.25 * g * np.clip(-sin, 0, None)
    pose[..., 18, 1] = -bend                           # elbows bend the forearms forward
    pose[..., 19, 1] = s["elbow"] + 0.25 * g * np.clip(sin, 0, None)
    # shoulders: lower the arms (about z), then swing them about the lateral axis against the legs
    down = np.broadcast_to(s["arm_down"], phase.shape)
    left = axis_rotation(0, s["arm_swing"] * g * sin) @ axis_rotation(2, -down)
    right = axis_rotation(0, -s["arm_swing"] * g * sin) @ axis_rotation(2, down)
    pose[..., 16, :] = axis_angle(left)
    pose[..., 17, :] = axis_angle(right)
    return pose.reshape(phase.shape + (72,))


def root_rotation(heading: np.ndarray) -> np.ndarray:
    """(...) heading -> (..., 3, 3) world rotation of the body (SMPL rest axes = world axes at heading 0)."""
    return axis_rotation(1, heading)
