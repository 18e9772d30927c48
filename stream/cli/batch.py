"""``stream batch``: many videos on a Ray cluster, one store each, and a summary file beside them."""
from __future__ import annotations

import json
import time
from dataclasses import replace
from pathlib import Path
from typing import Annotated, Optional

import typer

from stream.cli.errors import fail
from stream.cli.process import OVERRIDE, PROCESS_ERRORS, report
from stream.store.location import as_location, is_url

SUMMARY = "summary.json"


def batch(
    items: Annotated[list[str], typer.Argument(help="Inputs and config overrides key=value. An input is a video, an "
                                                    "image folder, a URL (s3://bucket/clip.mp4), a glob "
                                                    "('videos/*.mp4', 's3://bucket/v/*.mp4'), a URL prefix ending in "
                                                    "/ (its videos) or @list.txt (one input per line). "
                                                    "pose2d.poses may contain {stem}: each input's own poses file.")],
    out_dir: Annotated[str, typer.Option(help="Folder or URL (s3://bucket/runs) for the stores, <input stem>.zarr "
                                              "each, and summary.json.")] = "out/batch",
    config: Annotated[Optional[Path], typer.Option(help="Pipeline YAML (default: the built-in defaults).")] = None,
    force: Annotated[bool, typer.Option(help="Continue stores written with another config or files.")] = False,
    overwrite: Annotated[bool, typer.Option(help="Replace existing stores instead of continuing them.")] = False,
    address: Annotated[Optional[str], typer.Option(help="Join this Ray cluster (e.g. auto or host:6379).")] = None,
    progress: Annotated[bool, typer.Option(help="Show a progress bar on stderr.")] = True,
) -> None:
    """Process many videos on one Ray cluster: each video's pipeline on one node, complete stores skipped,
    interrupted ones continued, a failed video never stopping the others; exit status 0 only if all succeed."""
    from stream.config import load_pipeline_config
    from stream.pipeline.ray_driver import RunInterrupted, run_many
    from stream.progress import batch_progress
    from stream.source.inputs import expand_inputs

    started = time.time()
    try:
        base = load_pipeline_config(config, [item for item in items if OVERRIDE.match(item)])
        inputs = expand_inputs([item for item in items if not OVERRIDE.match(item)])
        if not inputs:
            raise ValueError("no inputs: pass videos, image folders, URLs, globs or @list.txt")
        cfgs = job_configs(base, inputs, out_dir, address)
        interrupted = False
        with batch_progress(len(inputs), progress) as (advance, status):
            try:
                results = run_many(cfgs, resume=not overwrite, force=force, overwrite=overwrite, progress=advance,
                                   status=status)
            except RunInterrupted as stop:
                results, interrupted = stop.results, True
    except PROCESS_ERRORS as err:
        fail(err)
    rows = [summary_row(cfg, result) for cfg, result in zip(cfgs, results)]
    where = write_summary(out_dir, rows, started)
    for row, result in zip(rows, results):
        if row["status"] in ("done", "skipped"):
            typer.echo(f"{row['input']}: {'already complete, ' if row['status'] == 'skipped' else ''}", nl=False)
            report(result)
    failed = [row for row in rows if row["status"] != "done" and row["status"] != "skipped"]
    for row in failed:
        typer.secho(f"{row['input']}: {row['status']}: {row['error']}", fg=typer.colors.RED, err=True)
    typer.echo(f"{len(rows) - len(failed)} of {len(rows)} inputs done; summary: {where}")
    if interrupted:
        typer.secho("interrupted: each store ends at a durable frame; run the same command again to continue",
                    fg=typer.colors.YELLOW, err=True)
        raise typer.Exit(code=130)
    if failed:
        typer.secho(f"failed: {', '.join(row['input'] for row in failed)}", fg=typer.colors.RED, err=True)
        raise typer.Exit(code=2)


def job_configs(base, inputs: list[str], out_dir: str, address: str | None) -> list:
    """One config per input: its store ``<out_dir>/<stem>.zarr``; refuses inputs whose stores would collide."""
    stems = [Path(i.split("://")[-1].rstrip("/")).stem or f"input{n}" for n, i in enumerate(inputs)]
    clashes = sorted({s for s in stems if stems.count(s) > 1})
    if clashes:
        named = [i for i, s in zip(inputs, stems) if s in clashes]
        raise ValueError(f"inputs {named[:6]} share file names ({', '.join(clashes[:6])}); their stores in "
                         f"{out_dir} would collide: run them in separate batches with different --out-dir")
    poses = base.pose2d.poses       # may hold {stem}; None when not given
    return [replace(base, input=i, output=f"{out_dir.rstrip('/')}/{stem}.zarr",
                    pose2d=replace(base.pose2d, poses=poses and poses.replace("{stem}", stem)),
                    ray=replace(base.ray, address=address) if address else base.ray)
            for i, stem in zip(inputs, stems)]


def summary_row(cfg, result) -> dict:
    """One input's line of summary.json: status done / skipped (already complete) / failed / interrupted."""
    row = {"input": cfg.input, "store": cfg.output}
    if result is None or isinstance(result, BaseException):
        return {**row, "status": "failed" if result is not None else "interrupted", "frames": None,
                "error": str(result) if result is not None else "stopped by Ctrl-C before it finished"}
    status = "skipped" if result.processed == 0 and result.attempts == 1 and result.frames else "done"
    return {**row, "status": status, "frames": result.frames, "processed": result.processed,
            "people": result.person_crops, "tracks": result.tracks, "seconds": round(result.seconds, 3),
            "attempts": result.attempts, "recorded_errors": result.errors, "error": None}


def write_summary(out_dir: str, rows: list[dict], started: float) -> str:
    """``<out_dir>/summary.json`` (a local folder or a URL): per input its row, and the counts."""
    counts = {status: sum(r["status"] == status for r in rows) for status in ("done", "skipped", "failed",
                                                                               "interrupted")}
    text = json.dumps({"format": "crowdmesh.batch/1", "started": started, "seconds": round(time.time() - started, 3),
                       "counts": counts, "inputs": rows}, indent=1, default=str)
    where = f"{out_dir.rstrip('/')}/{SUMMARY}"
    if is_url(out_dir):
        import fsspec
        with fsspec.open(where, "w") as f:
            f.write(text)
    else:
        folder = as_location(out_dir)      # a path, or file://path
        folder.mkdir(parents=True, exist_ok=True)
        partial = folder / f"{SUMMARY}.partial"
        partial.write_text(text)
        partial.replace(folder / SUMMARY)
    return where
