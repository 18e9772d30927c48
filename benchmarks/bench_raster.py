"""Frames/s of the numpy z-buffer rasteriser (nets.synth.raster) on synthetic crowds, CPU.

    python benchmarks/bench_raster.py [--people 8 20] [--size 640x360] [--frames 20] [--repeats 3]
                                      [--sequence 300]

For each crowd size, the meshes of ``--frames`` frames of a generated crowd (stand-in body) are
rasterised with ``render``'s settings (per-face colours, floor background, Lambert shading, back faces
culled), and to id and depth buffers only (``draw=False``, what the ground truth uses); the body-model
forward is not timed.
With ``--sequence T`` it also times generating a T-frame crowd (``make_crowd``: motion, body model,
z-buffer visibility) and rendering all of its frames, and prints the sequence's occlusion.
"""
import argparse
import time

import numpy as np
import torch

from nets.body import BodyModel
from nets.standin import make_standin_body
from nets.synth import CrowdConfig, make_crowd, occlusion_summary, rasterize, render
from timing import median_seconds


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--people", type=int, nargs="+", default=[8, 20])
    ap.add_argument("--size", default="640x360")
    ap.add_argument("--frames", type=int, default=20, help="frames rasterised per timing round")
    ap.add_argument("--repeats", type=int, default=3, help="rounds; the median is reported")
    ap.add_argument("--sequence", type=int, default=0, help="also time generating and rendering this many frames")
    args = ap.parse_args()
    width, height = (int(v) for v in args.size.split("x"))
    body = BodyModel(*make_standin_body())
    print(f"numpy {np.__version__}, torch threads {torch.get_num_threads()}, {width}x{height}, stand-in body "
          f"({len(body.faces)} faces per person), median of {args.repeats} rounds of {args.frames} frames")
    summary = []
    for people in args.people:
        crowd = make_crowd(body, CrowdConfig(people=people, frames=args.frames, width=width, height=height))
        meshes = [crowd.vertices(t) for t in range(args.frames)]
        colors = crowd.colors[:, crowd.face_group].astype(np.float64)
        cam, cull = crowd.camera, crowd.cull_backfaces  # the stand-in is closed: back faces are culled

        def shaded():
            for verts in meshes:
                rasterize(verts, crowd.faces, cam.K, cam.size, colors, crowd.background, cull_backfaces=cull)

        def ids_only():
            for verts in meshes:
                rasterize(verts, crowd.faces, cam.K, cam.size, draw=False, cull_backfaces=cull)

        seconds = median_seconds({"shaded": shaded, "ids": ids_only}, args.repeats)
        print(f"{people:3d} people: rasterise {args.frames / seconds['shaded']:6.1f} frames/s shaded, "
              f"{args.frames / seconds['ids']:6.1f} frames/s id+depth only")
        summary.append(f"{people} people {args.frames / seconds['shaded']:.1f}")
        if args.sequence:
            start = time.perf_counter()
            sequence = make_crowd(body, CrowdConfig(people=people, frames=args.sequence, width=width, height=height))
            generated = time.perf_counter() - start
            for t in range(sequence.frames):
                render(sequence, t)
            rendered = time.perf_counter() - start - generated
            occ = occlusion_summary(sequence)
            print(f"{people:3d} people: {args.sequence} frames generated in {generated:.1f} s (with ground truth), "
                  f"rendered in {rendered:.1f} s; occlusion: {occ['keypoints_occluded']:.1%} of in-image keypoints "
                  f"hidden, {occ['by_others']:.1%} behind others, {occ['heavily_occluded']:.1%} of person-frames "
                  f"at least half hidden, {occ['fully_hidden']:.1%} fully hidden")
    print(f"raster {width}x{height} shaded frames/s: " + ", ".join(summary))


if __name__ == "__main__":
    main()
