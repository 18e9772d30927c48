"""Smoothing of stored motion: the online One-Euro filter per track (``stream.smooth.online``).

    from stream.smooth.online import TrackSmoother

    smoother = TrackSmoother.from_config(cfg.smoothing)
    rows = smoother.smooth_frame(time_s, rows)      # adds smooth_smpl_pose / smooth_cam_trans beside the raw
"""
from stream.smooth.online import SmoothingInputError, TrackSmoother

__all__ = ["SmoothingInputError", "TrackSmoother"]
