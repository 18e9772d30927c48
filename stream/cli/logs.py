"""Where the ``stream`` command's log lines go: crowdmesh's on the terminal, Ray's in a file.

    setup_logging(verbose=False, ray_log=ray_log_path(crowdmesh_home()))

crowdmesh's messages (INFO and up; with ``-v`` its DEBUG lines too) and other libraries' (INFO and up) go
to stderr. Ray's lines, everything on the logger ``ray`` of this process (start-up notices such as "Started a
local Ray instance", token authentication, crash reports of its workers; ``stream.pipeline.ray_setup`` routes
them there), are appended to ``$CROWDMESH_HOME/logs/ray.log`` and shown on stderr only with ``-v``. The logs
of Ray's own processes (GCS, raylet, workers) stay in Ray's session folder, which ``-v`` names. docs/ray.md
has the details.
"""
from __future__ import annotations

import logging
import sys
from pathlib import Path

RAY_LOGGER = "ray"
OURS = ("crowdmesh", "nets", "stream", "trackers", "train")   # loggers whose DEBUG lines -v shows
_TERMINAL_FORMAT = "%(levelname)s %(message)s"
_FILE_FORMAT = "%(asctime)s pid %(process)d %(levelname)s %(name)s: %(message)s"


def ray_log_path(home: Path) -> Path:
    """The file Ray's lines are appended to: ``<home>/logs/ray.log``."""
    return Path(home) / "logs" / "ray.log"


def _is_ray(record: logging.LogRecord) -> bool:
    return record.name == RAY_LOGGER or record.name.startswith(RAY_LOGGER + ".")


class _Stderr(logging.StreamHandler):
    """Writes to whatever ``sys.stderr`` is when a line is logged (test runners swap it)."""

    def __init__(self, ray: bool):
        logging.Handler.__init__(self)
        self.addFilter(_is_ray if ray else lambda record: not _is_ray(record))
        self.setFormatter(logging.Formatter(_TERMINAL_FORMAT.replace("%(message)s", "ray: %(message)s") if ray
                                            else _TERMINAL_FORMAT))

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, value) -> None:   # StreamHandler's own code sets it; the current stderr is used anyway
        pass


class _RayFile(logging.FileHandler):
    """Ray's lines, appended to ``path``; the file and its folder are made on the first line only."""

    def __init__(self, path: Path):
        super().__init__(path, encoding="utf-8", delay=True)
        self.addFilter(_is_ray)
        self.setFormatter(logging.Formatter(_FILE_FORMAT))

    def _open(self):
        Path(self.baseFilename).parent.mkdir(parents=True, exist_ok=True)
        return super()._open()


def setup_logging(verbose: bool, ray_log: Path) -> None:
    """Send crowdmesh's lines to stderr and Ray's to ``ray_log`` (and to stderr when ``verbose``).

    Calling it again replaces what an earlier call set up (the command runs more than once in one process
    under a test runner); other handlers on the root logger stay."""
    root = logging.getLogger()
    for handler in [h for h in root.handlers if isinstance(h, (_Stderr, _RayFile))]:
        root.removeHandler(handler)
        handler.close()
    root.setLevel(logging.INFO)
    for name in OURS:      # other libraries' DEBUG lines (zarr's, ...) stay out even with -v
        logging.getLogger(name).setLevel(logging.DEBUG if verbose else logging.NOTSET)
    root.addHandler(_Stderr(ray=False))
    root.addHandler(_RayFile(Path(ray_log)))
    if verbose:
        root.addHandler(_Stderr(ray=True))
