"""``python -m stream`` = the ``stream`` command."""
from stream.cli.app import app

app(prog_name="stream")
