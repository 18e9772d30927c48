"""Frames in: video files, image folders, stdin and stream URLs decoded with PyAV; a video writer.

    from stream.source.frames import FrameSource

    for frame in FrameSource("clip.mp4"):      # Frame: index, time (s), bgr (H, W, 3) uint8, label
        ...
"""
from stream.source.frames import Frame, FrameSource, FrameSourceError, VideoWriter

__all__ = ["Frame", "FrameSource", "FrameSourceError", "VideoWriter"]
