"""How a ``stream`` command ends on an expected error: the message in red on stderr, exit status 2.

    try:
        summary = run(...)
    except (OSError, ValueError) as err:
        fail(err)
"""
from __future__ import annotations

from typing import NoReturn

import typer


def fail(err: Exception) -> NoReturn:
    """Print ``error: <err>`` on stderr and end the command with status 2."""
    typer.secho(f"error: {err}", fg=typer.colors.RED, err=True)
    raise typer.Exit(code=2)
