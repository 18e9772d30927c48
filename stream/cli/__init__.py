"""The ``stream`` command (typer): ``process``/``batch``/``demo`` (``stream.cli.process``), ``image``, ``poses``,
``synth``, ``info``, ``export``, ``assets`` (``stream.cli.app``), progress bars (``stream.cli.progress``).

    stream demo                               # python -m stream demo
    stream process clip.mp4 model.checkpoint=snapshot_6.pth.tar
"""
