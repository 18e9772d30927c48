"""Input URLs: live streams (``LIVE_SCHEMES``, opened by PyAV itself) and video files behind fsspec URLs
(``s3://bucket/clip.mp4``, ``gs://...``, ``memory://...``), opened as seekable binary files PyAV reads::

    is_live_url("udp://127.0.0.1:5000"), is_remote("s3://bucket/clip.mp4")      # True, True
    with open_remote("s3://bucket/clip.mp4") as file, av.open(file) as container:
        ...

Credentials and endpoints come from the environment, as fsspec's backends read it (for ``s3://``:
``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY`` and, for an S3-compatible server, ``AWS_ENDPOINT_URL``;
see ``stream.store.location``).
"""
from __future__ import annotations

from stream.store.location import is_url, url_filesystem, url_scheme

LIVE_SCHEMES = ("udp", "rtp", "rtsp", "rtsps", "rtmp", "rtmps", "srt", "tcp", "http", "https")


def is_live_url(text: str) -> bool:
    """Whether ``text`` is a URL of a live stream (its scheme is in ``LIVE_SCHEMES``)."""
    return url_scheme(text) in LIVE_SCHEMES


def is_remote(text: str) -> bool:
    """Whether ``text`` is a URL of a video file fsspec opens: a scheme other than ``LIVE_SCHEMES`` and file."""
    return is_url(text) and not is_live_url(text)


def open_remote(url: str):
    """The object at ``url`` as a binary file object (seekable, with a size), to use in a ``with``.

    FileNotFoundError when there is no such object; ImportError naming the package its scheme needs;
    ValueError for a scheme fsspec does not know. Each message names the URL.
    """
    fs, path = url_filesystem(url)
    if not fs.isfile(path):
        raise FileNotFoundError(f"input {url} does not exist (no such object); check the bucket and key")
    return fs.open(path, "rb")
