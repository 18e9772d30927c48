"""The built-in example (``stream demo``, ``stream.demo.run``) and synthetic crowd clips with ground truth and
simulated detections (``stream.demo.synth``, also ``stream synth``).

    from stream.demo.run import run_demo

    result = run_demo("out/demo")      # clip, truth, store; result.score_text: recall, MPJPE, ... vs the truth

Stores are scored against a clip's ground truth by ``stream.demo.score`` (recall of visible person-frames,
MPJPE, PA-MPJPE, acceleration error, jitter, lag).
"""
from stream.demo.run import DemoResult, run_demo
from stream.demo.score import score_store
from stream.demo.synth import store_from_crowd, write_synthetic_clip

__all__ = ["DemoResult", "run_demo", "score_store", "store_from_crowd", "write_synthetic_clip"]
