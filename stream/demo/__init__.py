"""The built-in example (``stream demo``, ``stream.demo.run``) and synthetic crowd clips with ground truth and
simulated detections (``stream.demo.synth``, also ``stream synth``).

    from stream.demo.run import run_demo

    result = run_demo("out/demo")      # clip, truth, store; result.score_text: MPJPE / PA-MPJPE vs the truth
"""
from stream.demo.run import DemoResult, run_demo, score_store
from stream.demo.synth import store_from_crowd, write_synthetic_clip

__all__ = ["DemoResult", "run_demo", "score_store", "store_from_crowd", "write_synthetic_clip"]
