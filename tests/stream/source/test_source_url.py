"""Video files behind fsspec URLs: an mp4 on S3 (a moto server on 127.0.0.1) or in memory decodes like the file."""
import importlib.util
import re
import uuid

import fsspec
import numpy as np
import pytest

from s3_server import s3_bucket, s3_server  # noqa: F401 - fixtures
from stream.source.frames import FrameSource, FrameSourceError, FrameSourceNotFoundError


def assert_same_frames(url: str, path) -> None:
    remote, local = FrameSource(url), FrameSource(path)
    assert (remote.kind, remote.path, remote.fps, len(remote)) == ("video", None, local.fps, len(local))
    remote_frames, local_frames = list(remote), list(local)
    assert len(remote_frames) == len(local_frames) == 12
    for a, b in zip(remote_frames, local_frames):
        assert (a.index, a.time) == (b.index, b.time)
        np.testing.assert_array_equal(a.bgr, b.bgr)


def test_an_mp4_on_s3_decodes_to_the_frames_of_the_local_file(s3_bucket, h264_clip):
    path = h264_clip(n=12, size=(96, 64), fps=24)
    url = f"{s3_bucket}/videos/clip.mp4"
    fsspec.filesystem("s3").put_file(str(path), url)
    assert_same_frames(url, path)
    assert list(FrameSource(url))[5].index == 5  # a video file, not a live stream: it can be read again


def test_an_mp4_at_a_memory_url(h264_clip):
    path = h264_clip(n=12, size=(96, 64), fps=24)
    url = f"memory://{uuid.uuid4().hex}/clip.mp4"
    fsspec.filesystem("memory").pipe_file(url, path.read_bytes())
    assert_same_frames(url, path)


def test_a_missing_object_is_named(s3_bucket):
    url = f"{s3_bucket}/videos/missing.mp4"
    with pytest.raises(FrameSourceNotFoundError, match=re.escape(url)):
        FrameSource(url)


def test_an_object_that_is_no_video_is_named(s3_bucket):
    url = f"{s3_bucket}/notes.mp4"
    fsspec.filesystem("s3").pipe_file(url, b"not a video at all")
    with pytest.raises(FrameSourceError, match=f"{re.escape(url)} could not be opened as a video"):
        FrameSource(url)


@pytest.mark.skipif(importlib.util.find_spec("ocifs") is not None, reason="ocifs is installed")
def test_a_scheme_without_its_package_names_the_package():
    with pytest.raises(FrameSourceError, match=r"oci://bucket@ns/clip\.mp4.*pip install ocifs"):
        FrameSource("oci://bucket@ns/clip.mp4")
