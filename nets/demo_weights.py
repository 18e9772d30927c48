"""The shipped demo weights: the reduced CrowdNet trained on synthetic crowds of the stand-in body.

    from nets.body import BodyModel
    from nets.standin import make_standin_body
    from nets.demo_weights import demo_checkpoint, load_demo_model

    body = BodyModel(*make_standin_body())
    model = load_demo_model(body)             # = nets.checkpoint.load_model(demo_checkpoint(), body), checked
    model.config                              # backbone "small", 128² crops, 32² heatmaps
    read_meta(demo_checkpoint())["metrics_mm"]  # how it was trained and what it measured

These are SYNTHETIC-DOMAIN weights (``DEMO_NOTICE``): trained only on ``nets.synth`` crowds made of the
project's stand-in body (``nets.standin``, not SMPL) by ``scripts/train_demo_weights.py``. They give
real estimates on such synthetic clips and mean nothing on real video or with the real SMPL model.
"""
from __future__ import annotations

from pathlib import Path

import torch

from nets.checkpoint import BODY_TOLERANCE_M, check_body, load_model, read_meta

__all__ = ["DEMO_NOTICE", "DEMO_WEIGHTS", "DemoWeightsError", "demo_checkpoint", "load_demo_model"]

DEMO_WEIGHTS = Path(__file__).resolve().parents[1] / "assets" / "demo" / "crowdnet_synthetic.pt"
DEMO_NOTICE = ("demo weights are synthetic-domain: the reduced 3DCrowdNet trained on synthetic crowds of the "
               "stand-in body model (not SMPL, not real people); estimates are meaningful on synthetic clips only")


class DemoWeightsError(ValueError):
    """The demo weights were used with a body model other than the one they were trained with."""


def demo_checkpoint() -> Path:
    """Path of the shipped demo checkpoint (``assets/demo/crowdnet_synthetic.pt`` in the source tree)."""
    if not DEMO_WEIGHTS.is_file():
        raise FileNotFoundError(
            f"demo weights {DEMO_WEIGHTS} not found: they ship in the crowdmesh source tree (assets/demo/); "
            "use a source checkout (pip install -e .) or rebuild them with "
            "`python scripts/train_demo_weights.py`")
    return DEMO_WEIGHTS


def load_demo_model(body: torch.nn.Module):
    """The demo ``CrowdNet`` around ``body``, in eval mode; refuses a body other than the training one.

    ``body`` must be the stand-in (``BodyModel(*make_standin_body())``): the weights are checked against
    the body recorded in the checkpoint (fingerprint, else joints within ``BODY_TOLERANCE_M``).
    """
    path = demo_checkpoint()
    distance = check_body(read_meta(path).get("body"), body)
    if distance > BODY_TOLERANCE_M:
        raise DemoWeightsError(
            f"{path} was trained with the stand-in body (nets.standin.make_standin_body()); the given body "
            f"differs (joints up to {distance:.4f} m apart). Use BodyModel(*make_standin_body()) for the demo, "
            "or a real 3DCrowdNet checkpoint with the real SMPL files")
    return load_model(path, body)
