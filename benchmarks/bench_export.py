"""Seconds to export a store in each format (``stream export``'s code path), CPU.

    python benchmarks/bench_export.py [--people 10] [--frames 300] [--size 640x360] [--repeats 3]

A synthetic crowd (stand-in body) of ``--people`` walkers over ``--frames`` frames is written to a store
with ``stream.demo.synth.store_from_crowd`` (every present frame; not timed), then each format is exported
from the opened store: BVH (one file per track), GLB (all tracks), AMASS-style npz (per track and all),
and the overlay video (meshes of every track drawn on the stored-size plain background, H.264). The
median of ``--repeats`` rounds is printed per format, with the store's track count and person-frames.
"""
import argparse
import tempfile
import time
from pathlib import Path

import torch

from nets.body import BodyModel
from nets.standin import make_standin_body
from nets.synth import CrowdConfig, make_crowd
from stream.export import export_store
from stream.store import open_store
from stream.demo.synth import store_from_crowd
from timing import median_seconds

FORMATS = ("bvh", "glb", "npz", "video")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--people", type=int, default=10)
    ap.add_argument("--frames", type=int, default=300)
    ap.add_argument("--size", default="640x360")
    ap.add_argument("--repeats", type=int, default=3, help="rounds; the median is reported")
    ap.add_argument("--formats", nargs="+", default=list(FORMATS), choices=FORMATS)
    args = ap.parse_args()
    width, height = (int(v) for v in args.size.split("x"))
    body = BodyModel(*make_standin_body())
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        start = time.perf_counter()
        crowd = make_crowd(body, CrowdConfig(people=args.people, frames=args.frames, width=width, height=height))
        store = open_store(store_from_crowd(crowd, tmp / "crowd.zarr"))
        built = time.perf_counter() - start
        summaries = store.summaries()
        rows = sum(s.length for s in summaries)
        print(f"store: {len(summaries)} tracks, {len(store)} frames, {rows} person-frames, {width}x{height} "
              f"(built in {built:.1f} s, not timed); torch threads {torch.get_num_threads()}; "
              f"median of {args.repeats} rounds")
        outputs = {"bvh": tmp / "bvh", "glb": tmp / "crowd.glb", "npz": tmp / "npz", "video": tmp / "overlay.mp4"}
        runs = {fmt: (lambda fmt=fmt: export_store(store, body, fmt, outputs[fmt])) for fmt in args.formats}
        seconds = median_seconds(runs, args.repeats)
        for fmt in args.formats:
            size = sum(p.stat().st_size for p in (outputs[fmt].rglob("*") if outputs[fmt].is_dir()
                                                  else [outputs[fmt]]))
            extra = f", {len(store) / seconds[fmt]:.1f} frames/s" if fmt == "video" else ""
            print(f"  {fmt:5s} {seconds[fmt]:6.2f} s  ({size / 1e6:.1f} MB{extra})")


if __name__ == "__main__":
    main()
