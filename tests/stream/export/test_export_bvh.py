"""BVH export: written, parsed back by the small reader below, compared with the store.

Tolerances: rotation matrices 1e-5 (angles are written with 6 decimals of a degree, the store is float32),
offsets 2e-6 m (6 decimals), joint positions 1e-4 m.
"""
from __future__ import annotations

import numpy as np
import pytest
from export_data import CAMERA_TO_YUP, FPS, rotation_matrices, smpl_joints

from nets.joints import SMPL30
from stream.export import ExportError, TrackMotion, track_motion, write_bvh

_AXIS = {"X": 0, "Y": 1, "Z": 2}


def _axis_matrix(axis: str, degrees: np.ndarray) -> np.ndarray:
    a = np.radians(degrees)
    c, s = np.cos(a), np.sin(a)
    R = np.zeros(a.shape + (3, 3))
    i = _AXIS[axis]
    j, k = (i + 1) % 3, (i + 2) % 3
    R[..., i, i] = 1
    R[..., j, j], R[..., k, k], R[..., j, k], R[..., k, j] = c, c, -s, s
    return R


def read_bvh(path) -> dict:
    """A small BVH reader: joints (names, parents, offsets, channels), frame time and the motion table."""
    tokens = open(path).read().split()
    names, parents, offsets, channels, stack, ends = [], [], [], [], [], {}
    i = tokens.index("HIERARCHY") + 1
    while tokens[i] != "MOTION":
        tok = tokens[i]
        if tok in ("ROOT", "JOINT"):
            names.append(tokens[i + 1])
            parents.append(stack[-1] if stack else -1)
            i += 2
        elif tok == "End":                       # End Site { OFFSET x y z }
            assert tokens[i + 1:i + 4] == ["Site", "{", "OFFSET"] and tokens[i + 7] == "}"
            ends[len(names) - 1] = np.array(tokens[i + 4:i + 7], dtype=float)
            i += 8
        elif tok == "{":
            stack.append(len(names) - 1)
            i += 1
        elif tok == "}":
            stack.pop()
            i += 1
        elif tok == "OFFSET":
            offsets.append(np.array(tokens[i + 1:i + 4], dtype=float))
            i += 4
        elif tok == "CHANNELS":
            n = int(tokens[i + 1])
            channels.append(tokens[i + 2:i + 2 + n])
            i += 2 + n
        else:
            raise ValueError(f"unexpected token {tok!r}")
    assert tokens[i + 1] == "Frames:" and tokens[i + 3:i + 5] == ["Frame", "Time:"]
    frames, frame_time = int(tokens[i + 2]), float(tokens[i + 5])
    values = np.array(tokens[i + 6:], dtype=float)
    width = sum(len(c) for c in channels)
    assert values.size == frames * width
    return {"names": names, "parents": np.array(parents), "offsets": np.array(offsets), "channels": channels,
            "end_sites": ends, "frames": frames, "frame_time": frame_time, "motion": values.reshape(frames, width)}


def bvh_pose(bvh: dict) -> tuple[np.ndarray, np.ndarray]:
    """Local rotations (T, J, 3, 3) (product of the rotation channels in listed order) and root positions."""
    T, col = bvh["frames"], 0
    rotations, root = np.zeros((T, len(bvh["names"]), 3, 3)), None
    for j, chans in enumerate(bvh["channels"]):
        R = np.tile(np.eye(3), (T, 1, 1))
        position = np.zeros((T, 3))
        for name in chans:
            values = bvh["motion"][:, col]
            col += 1
            if name.endswith("rotation"):
                R = R @ _axis_matrix(name[0], values)
            else:
                position[:, _AXIS[name[0]]] = values
        rotations[:, j] = R
        if j == 0:
            root = position
    return rotations, root


def forward_kinematics(bvh: dict) -> np.ndarray:
    rotations, root = bvh_pose(bvh)
    world_R, pos = np.zeros_like(rotations), np.zeros(rotations.shape[:2] + (3,))
    for j, p in enumerate(bvh["parents"]):
        if p < 0:
            world_R[:, j], pos[:, j] = rotations[:, j], root + bvh["offsets"][j]
        else:
            world_R[:, j] = world_R[:, p] @ rotations[:, j]
            pos[:, j] = pos[:, p] + world_R[:, p] @ bvh["offsets"][j]
    return pos


@pytest.mark.parametrize("track_id", [0, 1])   # 0 starts late, 1 has frames missing inside it
def test_bvh_round_trip_matches_the_store(export_store, export_body, tmp_path, track_id):
    track = export_store.track(track_id)
    path = write_bvh(tmp_path / "t.bvh", track_motion(export_store, track_id, export_body), export_body, fps=FPS)
    bvh = read_bvh(path)
    order = [SMPL30.index(n) for n in bvh["names"]]               # file order -> SMPL joint ids
    assert sorted(order) == list(range(24))
    parents = export_body.smpl.parents.numpy()
    assert [order[p] if p >= 0 else -1 for p in bvh["parents"]] == [parents[j] if j else -1 for j in order]
    assert bvh["channels"][0] == ["Xposition", "Yposition", "Zposition", "Zrotation", "Xrotation", "Yrotation"]
    assert all(c == ["Zrotation", "Xrotation", "Yrotation"] for c in bvh["channels"][1:])
    assert sorted(order[j] for j in bvh["end_sites"]) == [10, 11, 15, 22, 23]      # toes, head, hands
    # every video frame from first to last, at the video's frame time
    assert bvh["frames"] == track.last_frame - track.first_frame + 1
    assert bvh["frame_time"] == pytest.approx(1 / FPS, abs=1e-8)
    # offsets: bones of the rest pose of the track's shape (the crowd's betas are constant per person)
    rest = smpl_joints(export_body, np.zeros((1, 24, 3)), track.smpl_betas[0], np.zeros((1, 3)))[0]
    expected_offsets = rest - rest[np.maximum(parents, 0)]
    expected_offsets[0] = 0                                                    # the root's position channels
    np.testing.assert_allclose(bvh["offsets"], expected_offsets[order], atol=2e-6)
    # rotations at the observed frames: the stored axis-angle, the root turned into the Y-up frame
    rows = track.frame - track.first_frame
    rotations, root = bvh_pose(bvh)
    expected = rotation_matrices(track.smpl_pose)[:, order]
    expected[:, 0] = CAMERA_TO_YUP @ expected[:, 0]
    np.testing.assert_allclose(rotations[rows], expected, atol=1e-5)
    # the root at the pelvis and all joints where SMPL's kinematics put them, in the Y-up frame
    joints = smpl_joints(export_body, track.smpl_pose, track.smpl_betas[0], track.cam_trans) @ CAMERA_TO_YUP.T
    np.testing.assert_allclose(root[rows], joints[:, 0], atol=1e-5)
    np.testing.assert_allclose(forward_kinematics(bvh)[rows], joints[:, order], atol=1e-4)


def _angle(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    cos = (np.trace(np.swapaxes(A, -1, -2) @ B, axis1=-2, axis2=-1) - 1) / 2
    return np.arccos(np.clip(cos, -1, 1))


def test_bvh_fills_missing_frames_on_the_rotation_between_their_neighbours(export_store, export_body, tmp_path):
    track = export_store.track(1)
    bvh = read_bvh(write_bvh(tmp_path / "t.bvh", track_motion(export_store, 1, export_body), export_body, fps=FPS))
    rotations, root = bvh_pose(bvh)
    rows = track.frame - track.first_frame
    missing = np.setdiff1d(np.arange(bvh["frames"]), rows)
    assert len(missing) > 0
    for m in missing:
        a, b = rows[rows < m].max(), rows[rows > m].min()
        # on the shortest arc between the neighbours: the two legs add up to the whole
        legs = _angle(rotations[a], rotations[m]) + _angle(rotations[m], rotations[b])
        np.testing.assert_allclose(legs, _angle(rotations[a], rotations[b]), atol=1e-4)
        w = (m - a) / (b - a)
        np.testing.assert_allclose(root[m], (1 - w) * root[a] + w * root[b], atol=1e-5)


def test_bvh_in_centimetres_scales_lengths_only(export_store, export_body, tmp_path):
    motion = track_motion(export_store, 2, export_body)
    metres = read_bvh(write_bvh(tmp_path / "m.bvh", motion, export_body, fps=FPS))
    cm = read_bvh(write_bvh(tmp_path / "cm.bvh", motion, export_body, fps=FPS, scale=100))
    np.testing.assert_allclose(cm["offsets"], 100 * metres["offsets"], atol=2e-4)
    np.testing.assert_allclose(bvh_pose(cm)[1], 100 * bvh_pose(metres)[1], atol=2e-4)
    np.testing.assert_allclose(bvh_pose(cm)[0], bvh_pose(metres)[0], atol=1e-9)


def test_bvh_rejects_a_zero_frame_rate(export_store, export_body, tmp_path):
    with pytest.raises(ExportError, match="fps"):
        write_bvh(tmp_path / "t.bvh", track_motion(export_store, 2, export_body), export_body, fps=0)


def test_track_motion_rejects_frames_out_of_order():
    with pytest.raises(ExportError, match="strictly increasing"):
        TrackMotion(track_id=1, frame=np.array([3, 2]), time=np.array([0.1, 0.2]), poses=np.zeros((2, 24, 3)),
                    trans=np.zeros((2, 3)), betas=np.zeros(10))


def test_track_motion_rejects_a_wrong_pose_shape():
    with pytest.raises(ExportError, match=r"poses has shape \(2, 72\)"):
        TrackMotion(track_id=1, frame=np.array([0, 1]), time=np.array([0.0, 0.1]), poses=np.zeros((2, 72)),
                    trans=np.zeros((2, 3)), betas=np.zeros(10))
