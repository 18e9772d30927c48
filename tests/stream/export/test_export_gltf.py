"""GLB export: read back with pygltflib and compared with the store; checked by the Khronos glTF Validator.

Tolerances (the file is float32): rotation matrices 1e-5, positions and offsets 1e-5 m, times 1e-6 s,
skinned vertices 1e-4 m.
"""
from __future__ import annotations

import copy
import json
import shutil
import subprocess

import numpy as np
import pytest
import torch
from export_data import CAMERA_TO_YUP, rotation_matrices, smpl_joints

from nets.joints import SMPL30
from stream.export import export_store as run_export
from stream.export import glb_bytes, track_motion, video_camera

pygltflib = pytest.importorskip("pygltflib", reason="pygltflib (the `test` extra) reads the GLB back")

VALIDATOR_VERSION = "2.0.0-dev.3.10"
_DTYPES = {5121: np.uint8, 5123: np.uint16, 5125: np.uint32, 5126: np.float32}
_WIDTH = {"SCALAR": 1, "VEC3": 3, "VEC4": 4, "MAT4": 16}


def accessor(gltf, index: int) -> np.ndarray:
    """The accessor's elements, (count, width) (MAT4 as (count, 4, 4), column-major as stored)."""
    acc = gltf.accessors[index]
    view = gltf.bufferViews[acc.bufferView]
    width = _WIDTH[acc.type]
    dtype = np.dtype(_DTYPES[acc.componentType])
    start = (view.byteOffset or 0) + (acc.byteOffset or 0)
    data = np.frombuffer(gltf.binary_blob(), dtype, acc.count * width, start).reshape(acc.count, width)
    return data.reshape(acc.count, 4, 4).transpose(0, 2, 1) if acc.type == "MAT4" else data


def quaternion_matrices(q: np.ndarray) -> np.ndarray:
    x, y, z, w = (q.astype(np.float64) / np.linalg.norm(q, axis=-1, keepdims=True)).T
    return np.stack([1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w),
                     2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w),
                     2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)], -1).reshape(-1, 3, 3)


def track_animation(gltf, track_id: int) -> dict:
    """Joint node ids (in SMPL order), and per joint the keyed times, rotations and root translations."""
    track_node = next(i for i, n in enumerate(gltf.nodes) if n.name == f"track_{track_id}")
    skin = next(s for s in gltf.skins if s.name == f"track_{track_id}")
    joints = skin.joints
    anim = gltf.animations[0]
    out = {"track_node": track_node, "joints": joints, "skin": skin, "rotation": {}, "times": {}}
    for channel in anim.channels:
        if channel.target.node not in joints:
            continue
        j = joints.index(channel.target.node)
        sampler = anim.samplers[channel.sampler]
        out["times"][j] = accessor(gltf, sampler.input)[:, 0]
        if channel.target.path == "rotation":
            out["rotation"][j] = accessor(gltf, sampler.output)
        else:
            assert channel.target.path == "translation" and j == 0
            out["translation"] = accessor(gltf, sampler.output)
    return out


@pytest.fixture(scope="module")
def glb(export_store, export_body, tmp_path_factory):
    path = tmp_path_factory.mktemp("glb") / "crowd.glb"
    summary = run_export(export_store, export_body, "glb", path)
    assert summary.paths == [path] and summary.tracks == export_store.track_ids()
    return pygltflib.GLTF2().load(str(path)), path


def test_glb_round_trip_equals_the_store(glb, export_store, export_body):
    gltf, _ = glb
    t0 = export_store.frames()[0][0]
    parents = export_body.smpl.parents.numpy()
    assert gltf.animations[0].name == "crowd" and len(gltf.skins) == len(export_store.track_ids())
    for track_id in export_store.track_ids():
        track = export_store.track(track_id)
        anim = track_animation(gltf, track_id)
        joints = anim["joints"]
        assert gltf.nodes[anim["track_node"]].children == [joints[0]]
        assert gltf.nodes[anim["track_node"]].extras == {"track_id": track_id, "first_frame": track.first_frame,
                                                          "last_frame": track.last_frame}
        assert [gltf.nodes[j].name for j in joints] == list(SMPL30[:24])
        for j in range(1, 24):                                         # the kinematic tree
            assert joints[j] in gltf.nodes[joints[parents[j]]].children
        rest = smpl_joints(export_body, np.zeros((1, 24, 3)), track.smpl_betas[0], np.zeros((1, 3)))[0]
        offsets = np.array([gltf.nodes[joints[j]].translation for j in range(1, 24)])
        np.testing.assert_allclose(offsets, rest[1:] - rest[parents[1:]], atol=1e-5)
        # keys at the track's own frames, at the video's times
        for j in range(24):
            np.testing.assert_allclose(anim["times"][j], track.time - t0, atol=1e-6)
        rotations = np.stack([quaternion_matrices(anim["rotation"][j]) for j in range(24)], 1)
        expected = rotation_matrices(track.smpl_pose)
        expected[:, 0] = CAMERA_TO_YUP @ expected[:, 0]
        np.testing.assert_allclose(rotations, expected, atol=1e-5)
        pelvis = smpl_joints(export_body, track.smpl_pose, track.smpl_betas[0], track.cam_trans)[:, 0]
        np.testing.assert_allclose(anim["translation"], pelvis @ CAMERA_TO_YUP.T, atol=1e-5)
        # consecutive quaternions on one hemisphere: component-wise interpolation takes the short way
        q = np.stack([anim["rotation"][j] for j in range(24)], 1)
        assert ((q[1:] * q[:-1]).sum(-1) >= 0).all()


def test_glb_skinned_mesh_follows_the_body_model(glb, export_store, export_body):
    """Skinning the file's mesh with the file's data gives the body's mesh (pose blend shapes off), Y-up."""
    gltf, _ = glb
    track_id = 1
    track = export_store.track(track_id)
    anim = track_animation(gltf, track_id)
    mesh_node = next(n for n in gltf.nodes if n.name == f"track_{track_id}_mesh")
    primitive = gltf.meshes[mesh_node.mesh].primitives[0]
    positions = accessor(gltf, primitive.attributes.POSITION).astype(np.float64)
    joint_ids = accessor(gltf, primitive.attributes.JOINTS_0)
    weights = accessor(gltf, primitive.attributes.WEIGHTS_0).astype(np.float64)
    np.testing.assert_allclose(weights.sum(1), 1.0, atol=1e-6)
    ibm = accessor(gltf, anim["skin"].inverseBindMatrices).astype(np.float64)
    parents = export_body.smpl.parents.numpy()
    key = len(track.frame) // 2
    local = np.tile(np.eye(4), (24, 1, 1))
    for j in range(24):
        local[j, :3, :3] = quaternion_matrices(anim["rotation"][j][key:key + 1])[0]
        local[j, :3, 3] = anim["translation"][key] if j == 0 else gltf.nodes[anim["joints"][j]].translation
    world = local.copy()
    for j in range(1, 24):
        world[j] = world[parents[j]] @ local[j]
    skinning = world @ ibm                                                    # (24, 4, 4)
    homogeneous = np.c_[positions, np.ones(len(positions))]
    skinned = np.einsum("vk,vkab,vb->va", weights, skinning[joint_ids], homogeneous)[:, :3]
    no_blend = copy.deepcopy(export_body)
    no_blend.smpl.posedirs.zero_()
    with torch.no_grad():
        verts = no_blend(torch.from_numpy(track.smpl_pose[key:key + 1].reshape(1, 72)),
                         torch.from_numpy(track.smpl_betas[key:key + 1]),
                         torch.from_numpy(track.cam_trans[key:key + 1])).vertices[0].numpy()
    np.testing.assert_allclose(skinned, verts @ CAMERA_TO_YUP.T, atol=1e-4)


def test_glb_camera_has_the_video_field_of_view(glb, export_store):
    gltf, _ = glb
    camera = video_camera(export_store)
    node = next(n for n in gltf.nodes if n.name == "video_camera")
    perspective = gltf.cameras[node.camera].perspective
    assert perspective.yfov == pytest.approx(2 * np.arctan(camera.size[1] / 2 / camera.focal[1]))
    assert perspective.aspectRatio == pytest.approx(camera.size[0] / camera.size[1])


@pytest.fixture(scope="session")
def gltf_validator(tmp_path_factory):
    """``validate(path) -> report`` by the Khronos glTF Validator (npm ``gltf-validator``), run with node.

    Installed once into ``$CROWDMESH_HOME/npm`` with ``npm install --prefix``; skips when node or npm is
    missing or the install fails (offline).
    """
    from nets.assets import crowdmesh_home

    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        pytest.skip("node/npm not on PATH: the Khronos glTF Validator (npm gltf-validator) cannot run")
    prefix = crowdmesh_home() / "npm"
    package = prefix / "node_modules" / "gltf-validator"
    installed = (package / "package.json").is_file() and \
        json.loads((package / "package.json").read_text()).get("version") == VALIDATOR_VERSION
    if not installed:
        proc = subprocess.run([npm, "install", "--prefix", str(prefix), "--no-audit", "--no-fund",
                               f"gltf-validator@{VALIDATOR_VERSION}"], capture_output=True, text=True, timeout=600)
        if proc.returncode != 0:
            pytest.skip(f"npm could not install gltf-validator@{VALIDATOR_VERSION} (offline?): "
                        f"{proc.stderr.strip()[-400:]}")
    script = tmp_path_factory.mktemp("validator") / "validate.js"
    script.write_text(
        "const fs = require('fs');\n"
        "const validator = require(process.argv[2]);\n"
        "validator.validateBytes(new Uint8Array(fs.readFileSync(process.argv[3])), {maxIssues: 0})\n"
        "  .then((report) => console.log(JSON.stringify(report)), (err) => { console.error(String(err)); "
        "process.exit(3); });\n")

    def validate(path) -> dict:
        proc = subprocess.run([node, str(script), str(package), str(path)], capture_output=True, text=True,
                              timeout=300)
        assert proc.returncode == 0, proc.stderr
        return json.loads(proc.stdout)
    return validate


def test_glb_passes_the_khronos_gltf_validator(glb, gltf_validator):
    _, path = glb
    report = gltf_validator(path)
    issues = report["issues"]
    messages = [f"{m['code']} at {m.get('pointer')}: {m['message']}" for m in issues["messages"][:20]]
    assert issues["numErrors"] == 0, messages
    assert issues["numWarnings"] == 0, messages
    info = report["info"]
    assert info["animationCount"] == 1 and info["hasSkins"] and info["maxInfluences"] == 4
    assert info["drawCallCount"] == 4                       # one skinned body per track


def test_glb_of_arrays_with_a_gap_passes_the_validator(export_store, export_body, gltf_validator, tmp_path):
    """Tracks given as arrays (here one with missing frames) also make a valid file, without a camera."""
    path = tmp_path / "one.glb"
    path.write_bytes(glb_bytes([track_motion(export_store, 1, export_body)], export_body))
    assert gltf_validator(path)["issues"]["numErrors"] == 0
