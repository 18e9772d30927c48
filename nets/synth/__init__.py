"""Synthetic crowds with ground truth, a numpy z-buffer rasteriser and a noisy detection simulator.

No Ray, no video files: ``stream.demo.synth`` writes clips (``stream synth``); trainers and benchmarks use
this package directly::

    from nets.body import BodyModel
    from nets.standin import make_standin_body
    from nets.synth import CrowdConfig, NOISE_PRESETS, make_crowd, render, simulate_detections

    body = BodyModel(*make_standin_body())                  # or BodyModel.from_files(SMPL pkl, extra)
    crowd = make_crowd(body, CrowdConfig(people=8, frames=300, fps=30, width=640, height=360, seed=0))
    detections = simulate_detections(crowd, NOISE_PRESETS["moderate"], "crowdpose14")
    for t, dets in enumerate(detections):
        bgr, mesh_id = render(crowd, t)                     # (H, W, 3) uint8 BGR, (H, W) person id or -1
        dets.keypoints, dets.boxes, dets.scores, dets.truth  # (M, K, 3), (M, 4) xywh, (M,), (M,) id or -1
        crowd.keypoints2d["crowdpose14"][t]                 # (N, 14, 3) x, y, visibility: the truth
        crowd.boxes[t], crowd.present[t], crowd.ids         # (N, 4) xywh, (N,) bool, (N,)

    faces, closed = orient_faces(rest_vertices, faces)      # any meshes sharing one face list
    out = rasterize(meshes, faces, K, (width, height), colors, cull_backfaces=closed)
    out.image, out.mesh_id, out.depth                       # (H, W, 3) uint8, (H, W) int32, (H, W) metres

Modules: ``crowd`` (CrowdConfig, Crowd, make_crowd, place_people, render), ``motion`` (walking paths
and gait), ``camera`` (pinhole camera), ``appearance`` (clothes colours, floor background), ``truth``
(z-buffer visibility, boxes), ``noise`` (NoiseConfig, presets, simulate_detections), ``raster``
(rasterize, orient_faces).
"""
from nets.synth.camera import Camera
from nets.synth.crowd import Crowd, CrowdConfig, make_crowd, occlusion_summary, place_people, render
from nets.synth.noise import NOISE_PRESETS, Detections, NoiseConfig, simulate_detections, truth_detections
from nets.synth.raster import Raster, orient_faces, rasterize

__all__ = ["Camera", "Crowd", "CrowdConfig", "Detections", "NOISE_PRESETS", "NoiseConfig", "Raster", "make_crowd",
           "occlusion_summary", "orient_faces", "place_people", "rasterize", "render", "simulate_detections",
           "truth_detections"]
