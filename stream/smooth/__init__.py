"""Smoothing of stored motion: the online One-Euro filter per track (``stream.smooth.online``), and the offline
zero-phase smoother with gap filling for finished stores (``stream.smooth.offline``, ``stream smooth``).

    from stream.smooth.online import TrackSmoother

    smoother = TrackSmoother.from_config(cfg.smoothing)
    rows = smoother.smooth_frame(time_s, rows)      # adds smooth_smpl_pose / smooth_cam_trans beside the raw

    from stream.smooth.offline import smooth_store, smooth_track

    summary = smooth_store("out.zarr", cfg.smoothing)        # every track -> tracks/<id>/offline
    out = smooth_track(frames, smpl_pose, cam_trans, smpl_betas, fps=30.0, config=cfg.smoothing)
"""
from stream.smooth.offline import (IncompleteStoreError, OfflineSmoothingError, OfflineSummary, smooth_store,
                                   smooth_track)
from stream.smooth.online import SmoothingInputError, TrackSmoother

__all__ = ["IncompleteStoreError", "OfflineSmoothingError", "OfflineSummary", "SmoothingInputError", "TrackSmoother",
           "smooth_store", "smooth_track"]
