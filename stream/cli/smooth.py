"""``stream smooth`` (registered on ``stream.cli.app``): offline smoothing and gap filling of a finished store."""
from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from stream.cli.errors import fail


def smooth(
    store: Annotated[str, typer.Argument(help="A store written by `stream process` (OUT.zarr, or a URL: "
                                              "s3://bucket/OUT.zarr).")],
    overrides: Annotated[Optional[list[str]], typer.Argument(
        help="smoothing.* overrides key=value, e.g. smoothing.offline_sigma_s=0.08 "
             "smoothing.offline_max_gap_s=0.5 (keys: the smoothing section of configs/pipeline.yaml).")] = None,
    config: Annotated[Optional[Path], typer.Option(help="Pipeline YAML whose smoothing section to use (default: "
                                                        "the built-in defaults).")] = None,
    partial: Annotated[bool, typer.Option(help="Smooth a store whose run has not finished (its frames so far); "
                                               "nothing may be writing it meanwhile.")] = False,
) -> None:
    """Smooth every track of a finished store offline (zero-phase, gaps filled), beside its raw values; `stream
    export` then uses them (unless --raw), a new run replaces them, `stream process --resume` drops them."""
    from stream.config import load_pipeline_config
    from stream.smooth.offline import smooth_store

    try:
        others = [o for o in overrides or [] if not o.startswith("smoothing.")]
        if others:
            raise ValueError(f"{' '.join(others)}: `stream smooth` takes smoothing.* overrides only, e.g. "
                             "smoothing.offline_sigma_s=0.08")
        section = load_pipeline_config(config, overrides or []).smoothing
        summary = smooth_store(store, section, partial=partial)
    except (OSError, ValueError, KeyError) as err:
        fail(err)
    typer.echo(f"{summary.tracks} tracks of {summary.path} smoothed offline (sigma {section.offline_sigma_s:g} s, "
               f"gaps up to {section.offline_max_gap_s:g} s filled, ends extended {section.offline_extend_s:g} s): "
               f"{summary.rows} rows in {summary.segments} segments, {summary.filled} of them filled -> "
               "tracks/<id>/offline (raw values unchanged)")
