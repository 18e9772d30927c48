"""Blender imports the exported BVH and GLB: one armature per track, the track's frame range, and every
joint where the store puts it at a chosen frame.

Runs Blender headless (``blender --background --python-expr``); marked ``blender`` and skipped when
``blender`` is not on PATH (Debian: ``apt-get install blender python3-numpy``). Tolerances: world
rotation matrices 1e-4, joint positions 1e-4 m (Blender keeps float32).

Blender frames: the glTF importer keys time ``t`` at frame ``t * fps`` (scene fps set to the video's), so
a track spans its own video frames; the BVH importer starts each file at frame 1 (``frame_start=1``).
Blender is Z-up: both importers map the files' +Y-up axes by ``(x, y, z) -> (x, -z, y)``.

Debian bookworm's Blender 3.4.1 needs two workarounds, both applied in the script: its BVH importer opens
files with mode ``'rU'``, which Python 3.11 removed (the module's ``open`` is wrapped to drop the
``U``), and its glTF importer's default shading path uses ``np.bool``, which numpy 1.24 removed
(``import_shading='SMOOTH'`` avoids it). It also takes its Python home from the first ``python3`` on
PATH, so Blender runs with the test interpreter's folder (a venv or pyenv) left off PATH.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from export_data import CAMERA_TO_YUP, FPS, rotation_matrices, smpl_joints

from nets.joints import SMPL30
from stream.export import export_store as run_export

pytestmark = pytest.mark.blender

YUP_TO_BLENDER = np.array([[1.0, 0, 0], [0, 0, -1], [0, 1, 0]])

PROBE = r'''
import builtins, json, sys
import bpy
args = json.loads(sys.argv[sys.argv.index("--") + 1])
bpy.ops.wm.read_factory_settings(use_empty=True)
try:
    import numpy
except ImportError:
    json.dump({"error": "Blender's Python has no numpy (the glTF importer needs it): apt-get install python3-numpy"},
              open(args["out"], "w"))
    raise SystemExit(0)
import io_anim_bvh.import_bvh as bvh_module
bvh_module.open = lambda file, mode="r", *a, **k: builtins.open(file, mode.replace("U", ""), *a, **k)
scene = bpy.context.scene
whole = int(-(-args["fps"] // 1))          # Blender's rate is fps / fps_base with an integer fps
scene.render.fps, scene.render.fps_base = whole, whole / args["fps"]
for path in args["files"]:
    if path.endswith(".bvh"):
        bpy.ops.import_anim.bvh(filepath=path, global_scale=1.0, frame_start=1, use_fps_scale=False,
                                update_scene_fps=False, update_scene_duration=False, rotate_mode="NATIVE",
                                axis_forward="-Z", axis_up="Y")
    else:
        bpy.ops.import_scene.gltf(filepath=path, import_shading="SMOOTH")
out = {"version": bpy.app.version_string, "armatures": {}}
for ob in bpy.data.objects:
    if ob.type != "ARMATURE":
        continue
    action = ob.animation_data.action if ob.animation_data else None
    entry = {"frame_range": list(action.frame_range) if action else None, "frames": {}}
    for frame in args["frames"].get(ob.name, []):
        scene.frame_set(frame)
        entry["frames"][str(frame)] = {
            pb.name: {"pose": [list(r) for r in ob.matrix_world @ pb.matrix],
                      "rest": [list(r) for r in ob.matrix_world @ pb.bone.matrix_local]} for pb in ob.pose.bones}
    out["armatures"][ob.name] = entry
json.dump(out, open(args["out"], "w"))
'''


def run_blender(tmp_path, files: list, frames: dict[str, list[int]]) -> dict:
    blender = shutil.which("blender")
    if blender is None:
        pytest.skip("blender is not on PATH (Debian: apt-get install blender python3-numpy)")
    out = tmp_path / "blender.json"
    ours = {Path(sys.executable).parent, Path(sys.executable).resolve().parent}
    path = [p for p in os.environ.get("PATH", "").split(os.pathsep) if p and Path(p) not in ours]
    env = {**os.environ, "PATH": os.pathsep.join(path)}
    args = json.dumps({"fps": FPS, "files": [str(f) for f in files], "frames": frames, "out": str(out)})
    proc = subprocess.run([blender, "--background", "--factory-startup", "--python-exit-code", "1",
                           "--python-expr", PROBE, "--", args], capture_output=True, text=True, timeout=600, env=env)
    assert proc.returncode == 0 and out.is_file(), proc.stdout[-3000:] + proc.stderr[-3000:]
    result = json.loads(out.read_text())
    if "error" in result:
        pytest.skip(result["error"])
    return result


def expected_world(track, body, row: int) -> tuple[np.ndarray, np.ndarray]:
    """World rotations (24, 3, 3) and positions (24, 3) of the track's joints at a row, in Blender's axes."""
    local = rotation_matrices(track.smpl_pose[row])
    local[0] = CAMERA_TO_YUP @ local[0]
    parents = body.smpl.parents.numpy()
    world = local.copy()
    for j in range(1, 24):
        world[j] = world[parents[j]] @ local[j]
    joints = smpl_joints(body, track.smpl_pose[row:row + 1], track.smpl_betas[row], track.cam_trans[row:row + 1])[0]
    M = YUP_TO_BLENDER
    return M @ world @ M.T, joints @ (M @ CAMERA_TO_YUP).T


def check_pose(bones: dict, track, body, row: int) -> float:
    rotations, positions = expected_world(track, body, row)
    worst = 0.0
    for j, name in enumerate(SMPL30[:24]):
        pose, rest = np.array(bones[name]["pose"]), np.array(bones[name]["rest"])
        # the bone's rest frame is arbitrary (importers orient bones along them): compare the change from rest
        got = pose[:3, :3] @ np.linalg.inv(rest[:3, :3])
        np.testing.assert_allclose(got, rotations[j], atol=1e-4, err_msg=f"{name} rotation")
        np.testing.assert_allclose(pose[:3, 3], positions[j], atol=1e-4, err_msg=f"{name} position")
        worst = max(worst, float(np.abs(got - rotations[j]).max()))
    return worst


def _chosen_rows(store) -> dict[int, int]:
    """Per track an observed row in the middle of the track."""
    return {i: len(store.track(i).frame) // 2 for i in store.track_ids()}


def test_blender_imports_the_glb(export_store, export_body, tmp_path):
    path = run_export(export_store, export_body, "glb", tmp_path / "crowd.glb").paths[0]
    rows = _chosen_rows(export_store)
    frames = {f"track_{i}": [int(export_store.track(i).frame[r])] for i, r in rows.items()}
    result = run_blender(tmp_path, [path], frames)
    armatures = result["armatures"]
    assert sorted(armatures) == sorted(f"track_{i}" for i in export_store.track_ids())
    for i, row in rows.items():
        track = export_store.track(i)
        entry = armatures[f"track_{i}"]
        assert entry["frame_range"] == [track.first_frame, track.last_frame]
        check_pose(entry["frames"][str(track.frame[row])], track, export_body, row)


def test_blender_imports_the_bvh_files(export_store, export_body, tmp_path):
    paths = run_export(export_store, export_body, "bvh", tmp_path / "bvh").paths
    rows = _chosen_rows(export_store)
    frames = {f"track_{i}": [1 + int(export_store.track(i).frame[r] - export_store.track(i).first_frame)]
              for i, r in rows.items()}
    result = run_blender(tmp_path, paths, frames)
    armatures = result["armatures"]
    assert sorted(armatures) == sorted(f"track_{i}" for i in export_store.track_ids())
    for i, row in rows.items():
        track = export_store.track(i)
        entry = armatures[f"track_{i}"]
        assert entry["frame_range"] == [1, track.last_frame - track.first_frame + 1]
        frame = frames[f"track_{i}"][0]
        check_pose(entry["frames"][str(frame)], track, export_body, row)
