"""Bottom-up 2D pose: ``FramePoses`` and the backends (``rtmo`` native, ``mmpose``, ``precomputed`` files).

    from stream.pose2d.base import make_backend

    backend = make_backend("rtmo", checkpoint="rtmo-l_body7", device="auto", precision="auto")
    poses = backend([bgr_frame, ...], [0, ...])     # FramePoses per frame: keypoints (P, K, 3), boxes, scores

Modules: ``base`` (interface, ``make_backend``), ``stage`` (``PoseStage``: one joint set per input), ``rtmo``,
``mmpose``, ``precomputed`` (COCO results / official demo JSON), ``assets`` (known checkpoints, download),
``draw``, ``estimate`` (``stream poses``).
"""
from stream.pose2d.base import FrameError, FramePoses, PoseBackend, as_bgr8, make_backend
from stream.pose2d.stage import PoseStage

__all__ = ["FrameError", "FramePoses", "PoseBackend", "PoseStage", "as_bgr8", "make_backend"]
