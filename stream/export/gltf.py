"""glTF 2.0 binary (GLB): every chosen track as a skinned, animated body in one file.

    data = glb_bytes(motions, body, camera=camera)   # bytes
    path = write_glb("crowd.glb", motions, body, camera=camera)

What the file holds (conventions of ``stream.export.motion``: +Y up, metres, export = (x, -y, -z) of the
camera frame):
- Per track ``<id>``: a node ``track_<id>`` (identity) whose child is the root joint ``Pelvis`` of 24 joint
  nodes in SMPL's kinematic tree (names ``nets.joints.SMPL30[:24]``); a scene-root node ``track_<id>_mesh``
  with the skinned mesh and skin ``track_<id>``. Node extras carry ``track_id``, ``first_frame`` and
  ``last_frame`` (video frames).
- The mesh is the track's shaped rest body (its betas, zero pose): POSITION, NORMAL (area-weighted vertex
  normals), triangles wound counter-clockwise seen from outside, JOINTS_0/WEIGHTS_0 the 4 largest SMPL
  skin weights (``lbs_weights``) of each vertex renormalised to sum 1, inverse bind matrices
  ``translate(-rest_joint)``; a material in the track's colour (the overlay video's). Linear blend
  skinning only: SMPL's pose blend shapes are not in the file.
- Static node transforms are the rest pose (identity rotations, bone offsets), the root placed at its
  first-frame position; one animation ``crowd`` holds every track: per joint a rotation channel
  (quaternions x, y, z, w, sign-continuous) and for the root a translation channel (the pelvis
  position), LINEAR, keyed at the track's own frames at their video times (seconds from the video start,
  so a track that starts later starts later; before its first key a glTF player holds the first pose).
  Gaps inside a track are interpolated by the player.
- With a ``camera``: a node ``video_camera`` at the origin, identity, a perspective camera with the
  video's vertical field of view ``2 atan(H / 2 / fy)`` and aspect ``W / H`` (the principal point offset
  is not representable): looking through it lines the bodies up with the video.
"""
from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from nets.rotations import continuous_quaternions, matrix_to_quaternion
from nets.synth.raster import orient_faces
from stream.export.glb import ARRAY_BUFFER, ELEMENT_ARRAY_BUFFER, GltfDocument
from stream.export.motion import (JOINT_NAMES, ExportError, TrackMotion, VideoCamera, pose_skeleton, shaped_rest,
                                  track_color)

log = logging.getLogger(__name__)

SKIN_INFLUENCES = 4


def skin_weights(lbs_weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(V, J) skin weights -> JOINTS_0 (V, 4) and WEIGHTS_0 (V, 4) float32: the 4 largest, summing to 1.

    Slots of zero weight name joint 0 (as the glTF validator asks). The sum is exactly 1 in float32
    arithmetic (the largest weight, first, takes the rounding remainder).
    """
    w = np.asarray(lbs_weights, dtype=np.float64)
    joints = np.argsort(-w, axis=1, kind="stable")[:, :SKIN_INFLUENCES]
    top = np.take_along_axis(w, joints, axis=1)
    if (top.sum(1) <= 0).any():
        raise ExportError("the body model has vertices without skin weight; expected SMPL lbs_weights rows "
                          "summing to 1")
    weights = (top / top.sum(1, keepdims=True)).astype(np.float32)
    weights[:, 0] = np.float32(1.0) - weights[:, 1:].sum(1, dtype=np.float32)
    joints[weights == 0] = 0
    return joints.astype(np.uint8 if w.shape[1] < 256 else np.uint16), weights


def vertex_normals(vertices: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """(V, 3) vertices, (F, 3) counter-clockwise faces -> (V, 3) unit area-weighted normals."""
    tri = vertices[faces]
    n = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    out = np.zeros_like(vertices)
    for corner in range(3):
        np.add.at(out, faces[:, corner], n)
    length = np.linalg.norm(out, axis=1, keepdims=True)
    out = np.where(length > 1e-12, out / np.where(length > 1e-12, length, 1.0), [0.0, 1.0, 0.0])
    return out


def _linear(rgb) -> list[float]:
    """sRGB 0-255 -> linear 0-1 (glTF colour factors are linear)."""
    c = np.asarray(rgb, dtype=np.float64) / 255.0
    return [float(v) for v in np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)]


def glb_bytes(motions: list[TrackMotion], body, camera: VideoCamera | None = None,
              generator: str = "crowdmesh") -> bytes:
    """The GLB of ``motions`` (see the module docstring)."""
    if not motions:
        raise ExportError("no tracks to export; expected at least one TrackMotion")
    for motion in motions:
        if motion.time[0] < 0:
            raise ExportError(f"track {motion.track_id} starts at {motion.time[0]} s; glTF animation times must "
                              "be >= 0: give times in seconds from the video start")
    doc = GltfDocument(generator)
    layer = body.smpl
    template = layer.v_template.detach().cpu().numpy().astype(np.float64)
    faces, _ = orient_faces(template, body.faces)
    index_type = np.uint16 if len(template) < 65535 else np.uint32
    indices = doc.add_accessor(faces.reshape(-1).astype(index_type), "SCALAR", target=ELEMENT_ARRAY_BUFFER)
    joints0, weights0 = skin_weights(layer.lbs_weights.detach().cpu().numpy())
    joints_acc = doc.add_accessor(joints0, "VEC4", target=ARRAY_BUFFER)
    weights_acc = doc.add_accessor(weights0, "VEC4", target=ARRAY_BUFFER)
    scene = doc.json["scenes"][0]["nodes"]
    if camera is not None:
        (_, fy), (w, h) = camera.focal, camera.size
        doc.json["cameras"] = [{"type": "perspective", "name": "video_camera", "perspective": {
            "yfov": float(2 * np.arctan(0.5 * h / fy)), "aspectRatio": float(w / h), "znear": 0.05, "zfar": 1000.0}}]
        scene.append(doc.add_node({"name": "video_camera", "camera": 0}))
    channels, samplers = [], []
    for motion in motions:
        _add_track(doc, motion, body, faces, indices, joints_acc, weights_acc, channels, samplers)
    doc.json["animations"] = [{"name": "crowd", "channels": channels, "samplers": samplers}]
    return doc.to_glb()


def _add_track(doc: GltfDocument, motion: TrackMotion, body, faces, indices, joints_acc, weights_acc,
               channels: list, samplers: list) -> None:
    tid = int(motion.track_id)
    verts, _ = shaped_rest(body, motion.betas)
    skel = pose_skeleton(motion, body)
    offsets, parents = skel.offsets, skel.parents
    extras = {"track_id": tid, "first_frame": int(motion.frame[0]), "last_frame": int(motion.frame[-1])}
    material = len(doc.json["materials"])
    doc.json["materials"].append({"name": f"track_{tid}", "pbrMetallicRoughness": {
        "baseColorFactor": _linear(track_color(tid)) + [1.0], "metallicFactor": 0.0, "roughnessFactor": 0.8}})
    positions = doc.add_accessor(verts.astype(np.float32), "VEC3", target=ARRAY_BUFFER, bounds=True)
    normals = doc.add_accessor(vertex_normals(verts, faces).astype(np.float32), "VEC3", target=ARRAY_BUFFER)
    doc.json["meshes"].append({"name": f"track_{tid}", "primitives": [{
        "attributes": {"POSITION": positions, "NORMAL": normals, "JOINTS_0": joints_acc, "WEIGHTS_0": weights_acc},
        "indices": indices, "material": material, "mode": 4}]})
    # joint nodes: the track node, then the 24 joints in joint order
    track_node = doc.add_node({"name": f"track_{tid}", "extras": extras})
    first = len(doc.json["nodes"])
    for j, name in enumerate(JOINT_NAMES):
        node = {"name": name}
        translation = skel.root_position[0] if j == 0 else offsets[j]
        if np.any(translation != 0):
            node["translation"] = [float(v) for v in translation]
        kids = [first + c for c in range(len(parents)) if parents[c] == j]
        if kids:
            node["children"] = kids
        doc.add_node(node)
    doc.json["nodes"][track_node]["children"] = [first]
    bind = np.tile(np.eye(4), (len(parents), 1, 1))
    bind[:, :3, 3] = -skel.rest
    ibm = doc.add_accessor(np.ascontiguousarray(bind.transpose(0, 2, 1)).reshape(-1, 16).astype(np.float32), "MAT4")
    doc.json["skins"].append({"name": f"track_{tid}", "inverseBindMatrices": ibm, "skeleton": first,
                              "joints": list(range(first, first + len(parents)))})
    mesh_node = doc.add_node({"name": f"track_{tid}_mesh", "mesh": len(doc.json["meshes"]) - 1,
                              "skin": len(doc.json["skins"]) - 1, "extras": extras})
    doc.json["scenes"][0]["nodes"].extend([track_node, mesh_node])
    # animation: one shared time input, a rotation sampler per joint, a translation sampler for the root
    times = doc.add_accessor(np.asarray(motion.time, dtype=np.float32), "SCALAR", bounds=True)
    quats = continuous_quaternions(matrix_to_quaternion(skel.rotations)).astype(np.float32)   # (T, 24, 4)
    for j in range(len(parents)):
        out = doc.add_accessor(np.ascontiguousarray(quats[:, j]), "VEC4")
        samplers.append({"input": times, "output": out, "interpolation": "LINEAR"})
        channels.append({"sampler": len(samplers) - 1, "target": {"node": first + j, "path": "rotation"}})
    out = doc.add_accessor(skel.root_position.astype(np.float32), "VEC3")
    samplers.append({"input": times, "output": out, "interpolation": "LINEAR"})
    channels.append({"sampler": len(samplers) - 1, "target": {"node": first, "path": "translation"}})


def write_glb(path, motions: list[TrackMotion], body, camera: VideoCamera | None = None,
              generator: str = "crowdmesh") -> Path:
    """Write the GLB of ``motions``; returns the path."""
    path = Path(path)
    data = glb_bytes(motions, body, camera, generator)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    log.info("%s: %d tracks, %.1f MB", path, len(motions), len(data) / 1e6)
    return path
