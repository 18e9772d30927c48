"""Frames in: video files, image folders, stdin and stream URLs decoded with PyAV; a video writer.

    from stream.source.frames import FrameSource

    for frame in FrameSource("clip.mp4"):      # Frame: index, time (s), bgr (H, W, 3) uint8, label
        ...                                    # also "s3://bucket/clip.mp4" (fsspec), "udp://..." (live)

    expand_inputs(["videos/*.mp4", "s3://bucket/clips/", "@todo.txt"])   # -> the inputs, one str each
"""
from stream.source.frames import Frame, FrameSource, FrameSourceError, VideoWriter
from stream.source.inputs import VIDEO_EXTENSIONS, expand_inputs

__all__ = ["Frame", "FrameSource", "FrameSourceError", "VIDEO_EXTENSIONS", "VideoWriter", "expand_inputs"]
