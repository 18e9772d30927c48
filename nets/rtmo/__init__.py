"""RTMO, the one-stage bottom-up pose network, loading mmpose's checkpoints: ``model`` (RTMO, checkpoint
loading, ``fuse``), ``backbone`` (CSPDarknet), ``neck`` (hybrid encoder), ``head`` (decoding, NMS, DCC).

    from nets.rtmo.model import RTMO

    model = RTMO.from_checkpoint("rtmo-l_16xb16-600e_body7-640x640.pth")
    people = model.predict(x)      # x: (B, 3, 640, 640) float BGR 0..255, letterboxed
"""
from nets.rtmo.model import RTMO, RTMOConfig

__all__ = ["RTMO", "RTMOConfig"]
