"""``stream process`` and ``stream demo`` (registered on ``stream.cli.app``)."""
from __future__ import annotations

import pickle
import re
from dataclasses import replace
from pathlib import Path
from typing import Annotated, Optional

import typer

from stream.cli.errors import fail
from stream.pipeline.ray_setup import PlacementError

PROCESS_ERRORS = (OSError, ValueError, KeyError, ImportError, pickle.UnpicklingError, PlacementError)


def process(
    input: Annotated[str, typer.Argument(help="Video file, image folder, '-' (a video piped to stdin) or a stream "
                                              "URL (rtsp://, udp://, tcp://, http://).")],
    overrides: Annotated[Optional[list[str]], typer.Argument(
        help="Config overrides key=value, e.g. model.checkpoint=snapshot_6.pth.tar pose2d.backend=precomputed "
             "pose2d.poses=poses.json (keys: configs/pipeline.yaml).")] = None,
    out: Annotated[Optional[Path], typer.Option(help="Output store (default: <input stem>.zarr beside it).")] = None,
    config: Annotated[Optional[Path], typer.Option(help="Pipeline YAML (default: the built-in defaults, as in "
                                                        "configs/pipeline.yaml).")] = None,
    resume: Annotated[bool, typer.Option(help="Continue an interrupted store from its last durable frame.")] = False,
    force: Annotated[bool, typer.Option(help="With --resume: continue even if the config or files differ.")] = False,
    overwrite: Annotated[bool, typer.Option(help="Replace an existing store.")] = False,
    address: Annotated[Optional[str], typer.Option(help="Join this Ray cluster (e.g. auto or host:6379) instead "
                                                        "of starting an embedded one.")] = None,
    ray: Annotated[bool, typer.Option(help="Run on Ray actors (default); --no-ray runs every stage in this "
                                           "process.")] = True,
    progress: Annotated[bool, typer.Option(help="Show a progress bar on stderr.")] = True,
) -> None:
    """Turn a video into one SMPL sequence per tracked person, in a Zarr store (`stream info`, `stream export`)."""
    from nets.checkpoint import CheckpointError
    from stream.config import load_pipeline_config

    try:
        cfg = load_pipeline_config(config, overrides or [])
        cfg = replace(cfg, input=input, output=str(out) if out else cfg.output,
                      ray=replace(cfg.ray, address=address) if address else cfg.ray)   # as given, not YAML
        summary = run_pipeline(cfg, ray=ray, resume=resume, force=force, overwrite=overwrite, progress=progress)
    except (*PROCESS_ERRORS, CheckpointError) as err:
        fail(err)
    except KeyboardInterrupt:
        typer.secho("interrupted: the store ends at its last durable frame; continue it with --resume",
                    fg=typer.colors.YELLOW, err=True)
        raise typer.Exit(code=130) from None
    report(summary)


def run_pipeline(cfg, *, ray: bool = True, progress: bool = True, **kwargs):
    """The local or the Ray runner with a progress bar sized from the input's frame count."""
    from stream.pipeline.local import run_local
    from stream.progress import process_progress
    with process_progress(frame_total([cfg.input]), progress) as advance:
        if ray:
            from stream.pipeline.ray_driver import run_ray
            return run_ray(cfg, progress=advance, **kwargs)
        return run_local(cfg, progress=advance, **kwargs)


def frame_total(inputs: list[str]) -> int | None:
    """Frames of all inputs as their containers state them (None if unknown). A bad input fails here, before
    the progress bar appears (live inputs are not opened yet)."""
    from stream.source.frames import FrameSource
    return sum(len(FrameSource(i)) for i in inputs) or None


def report(summary) -> None:
    typer.echo(f"{summary.frames} frames ({summary.processed} processed now), {summary.person_crops} people "
               f"regressed, {summary.tracks} tracks in {summary.seconds:.1f} s -> {summary.store}")
    if summary.workers:
        typer.echo(f"workers: {describe_workers(summary.workers)}")
    for error in summary.errors:
        typer.secho(f"recorded error at frame {error['frame']}: {error['message']}", fg=typer.colors.YELLOW, err=True)


def describe_workers(workers) -> str:
    """'2 mesh (GPU 0, GPU 1; cuda), 1 pose (CPU) on 1 node': what ran where."""
    parts = []
    for kind in ("mesh", "pose"):
        mine = [w for w in workers if w["kind"] == kind]
        if mine:
            gpus = [f"GPU {','.join(w['gpu_ids'])}" for w in mine if w["gpu_ids"]]
            devices = sorted({w["device"] for w in mine if "device" in w})
            where = "; ".join([", ".join(gpus) or "CPU", *devices])
            parts.append(f"{len(mine)} {kind} ({where})")
    return f"{', '.join(parts)} on {len({w['node'] for w in workers})} node(s)"


OVERRIDE = re.compile(r"^[A-Za-z_][A-Za-z0-9_.]*=")   # key=value; a URL's "=" comes after "://"


def demo(
    out: Annotated[Path, typer.Option(help="Folder for the clip, its ground truth and the store.")] = Path("out/demo"),
    people: Annotated[int, typer.Option(min=1, help="People in the synthetic crowd.")] = 6,
    frames: Annotated[int, typer.Option(min=1, help="Frames of the clip.")] = 48,
    seed: Annotated[int, typer.Option(help="Seed of the crowd and the detection noise.")] = 0,
    ray: Annotated[bool, typer.Option(help="Run on Ray actors (default) or --no-ray in this process.")] = True,
    progress: Annotated[bool, typer.Option(help="Show a progress bar on stderr.")] = True,
) -> None:
    """Synthesise a crowd clip, process it with the stand-in assets and simulated 2D detections, and score it
    against the generator's ground truth."""
    from stream.demo.run import run_demo

    try:
        result = run_demo(out, people=people, frames=frames, seed=seed, ray=ray, progress=progress,
                          echo=lambda text: typer.secho(text, fg=typer.colors.YELLOW, err=True))
    except PROCESS_ERRORS as err:
        fail(err)
    report(result.summary)
    typer.echo(result.score_text)
    store = result.summary.store
    typer.echo(f"next: stream info {store}   |   stream export {store} --format glb --out "
               f"{store.parent / 'crowd.glb'}   (or --format bvh / npz / video)")
