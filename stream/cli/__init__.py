"""The ``stream`` command (typer): ``process``/``batch``/``demo`` (``stream.cli.process``), ``image``, ``poses``,
``synth``, ``info``, ``export``, ``assets`` (``stream.cli.app``).

    stream demo                               # python -m stream demo
    stream process clip.mp4 model.checkpoint=snapshot_6.pth.tar
    stream -v process clip.mp4                # also debug lines and Ray's own lines (stream.cli.logs)
"""
