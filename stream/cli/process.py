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
    _report(summary)


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


def _report(summary) -> None:
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


def batch(
    items: Annotated[list[str], typer.Argument(help="Inputs (videos, image folders, stream URLs) and config overrides "
                                                    "key=value. pose2d.poses may contain {stem}: each input's own "
                                                    "poses file.")],
    out_dir: Annotated[Path, typer.Option(help="Folder for the stores: <input stem>.zarr each.")] = Path("out/batch"),
    config: Annotated[Optional[Path], typer.Option(help="Pipeline YAML (default: the built-in defaults).")] = None,
    resume: Annotated[bool, typer.Option(help="Continue interrupted stores; complete ones are skipped.")] = False,
    force: Annotated[bool, typer.Option(help="With --resume: continue even if the config or files differ.")] = False,
    overwrite: Annotated[bool, typer.Option(help="Replace existing stores.")] = False,
    address: Annotated[Optional[str], typer.Option(help="Join this Ray cluster (e.g. auto or host:6379).")] = None,
    progress: Annotated[bool, typer.Option(help="Show a progress bar on stderr.")] = True,
) -> None:
    """Process many videos at once on one Ray cluster: shared pose and mesh workers, mesh batches mixing videos."""
    from stream.config import load_pipeline_config
    from stream.progress import process_progress
    from stream.pipeline.ray_driver import run_many

    overrides = [item for item in items if OVERRIDE.match(item)]
    inputs = [item for item in items if not OVERRIDE.match(item)]
    try:
        if not inputs:
            raise ValueError("no inputs: pass one or more videos, image folders or stream URLs")
        base = load_pipeline_config(config, overrides)
        stems = [Path(i.split("://")[-1].rstrip("/")).stem or f"input{n}" for n, i in enumerate(inputs)]
        if len(set(stems)) < len(stems):
            raise ValueError(f"inputs {inputs} share file names; their stores in {out_dir} would collide")
        poses = base.pose2d.poses       # may hold {stem}; None when not given
        cfgs = [replace(base, input=i, output=str(out_dir / f"{stem}.zarr"),
                        pose2d=replace(base.pose2d, poses=poses and poses.replace("{stem}", stem)),
                        ray=replace(base.ray, address=address) if address else base.ray)
                for i, stem in zip(inputs, stems)]
        with process_progress(frame_total(inputs), progress, label="batch") as advance:
            results = run_many(cfgs, resume=resume, force=force, overwrite=overwrite, progress=advance)
    except PROCESS_ERRORS as err:
        fail(err)
    failed = 0
    for path, result in zip(inputs, results):
        if isinstance(result, BaseException):
            failed += 1
            typer.secho(f"{path}: error: {result}", fg=typer.colors.RED, err=True)
        else:
            typer.echo(f"{path}: ", nl=False)
            _report(result)
    if failed:
        raise typer.Exit(code=2)


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
    _report(result.summary)
    typer.echo(result.score_text)
    store = result.summary.store
    typer.echo(f"next: stream info {store}   |   stream export {store} --format glb --out "
               f"{store.parent / 'crowd.glb'}   (or --format bvh / npz / video)")
