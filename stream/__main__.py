"""``python -m stream`` = the ``stream`` command."""
from stream.cli import app

app(prog_name="stream")
