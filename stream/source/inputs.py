"""The inputs of a batch run, expanded from what a user names::

    expand_inputs(["videos/*.mp4", "s3://bucket/clips/", "@todo.txt", "frames/", "udp://0.0.0.0:5000"])

Each item is one of:

- a path or URL, kept as it is (a local folder too: it is one input, an image folder);
- a glob pattern, local (``videos/*.mp4``, ``**`` included) or fsspec (``s3://bucket/v/*.mp4``): its matches,
  sorted;
- an fsspec URL prefix ending in ``/`` (``s3://bucket/clips/``): every object below it whose extension is in
  ``VIDEO_EXTENSIONS``, sorted;
- ``@list.txt`` (or ``@s3://bucket/list.txt``): a text file with one input per line, each expanded as above
  (blank lines and lines starting with ``#`` skipped; relative paths are resolved against the list's folder).

Live stream URLs (``stream.source.remote.LIVE_SCHEMES``) are kept as they are. The result keeps the order,
without duplicates. A pattern or prefix that matches nothing raises ValueError naming it.
"""
from __future__ import annotations

import glob
import os
import posixpath
from pathlib import Path

from stream.source.remote import is_remote, url_scheme
from stream.store.location import url_filesystem

VIDEO_EXTENSIONS = frozenset({".mp4", ".mov", ".mkv", ".avi", ".webm", ".ts", ".m4v", ".mpg", ".mpeg"})


def expand_inputs(items: list[str]) -> list[str]:
    """Paths, URLs, glob patterns, URL prefixes and ``@list`` files -> the inputs, in order, each once."""
    found: dict[str, None] = {}
    for item in items:
        text = str(item)
        names = _read_list(text[1:]) if text.startswith("@") else _expand(text)
        found.update(dict.fromkeys(names))
    return list(found)


def _expand(item: str) -> list[str]:
    """One item (no ``@list``) -> its inputs."""
    if item.startswith("file://"):
        item = item[len("file://"):]
    if is_remote(item):
        if item.endswith("/"):
            return _url_prefix(item)
        return _url_glob(item) if glob.has_magic(item) else [item]
    if url_scheme(item) is not None or item == "-":  # a live stream, standard input
        return [item]
    if not glob.has_magic(item) or Path(item).exists():
        return [os.path.normpath(item)]
    matches = sorted(glob.glob(item, recursive=True))
    if not matches:
        raise ValueError(f"input pattern {item} matches no file; check the folder and the pattern "
                         "(quote it so the shell leaves it to crowdmesh)")
    return [os.path.normpath(match) for match in matches]


def _url_glob(pattern: str) -> list[str]:
    fs, path = url_filesystem(pattern)
    matches = sorted(fs.glob(path))
    if not matches:
        raise ValueError(f"input pattern {pattern} matches no object; check the bucket, prefix and pattern")
    return [fs.unstrip_protocol(match) for match in matches]


def _url_prefix(prefix: str) -> list[str]:
    fs, path = url_filesystem(prefix)
    videos = sorted(name for name in fs.find(path) if posixpath.splitext(name)[1].lower() in VIDEO_EXTENSIONS)
    if not videos:
        raise ValueError(f"input prefix {prefix} holds no video (no object below it ending in "
                         f"{', '.join(sorted(VIDEO_EXTENSIONS))})")
    return [fs.unstrip_protocol(name) for name in videos]


def _read_list(source: str) -> list[str]:
    """The inputs named in a list file (local or URL), one per line, relative ones against its folder."""
    if is_remote(source):
        fs, path = url_filesystem(source)
        text = fs.cat_file(path).decode() if fs.isfile(path) else None
    else:
        text = Path(source).read_text() if Path(source).is_file() else None
    if text is None:
        raise FileNotFoundError(f"input list {source} does not exist; @FILE names a text file with one input "
                                "per line")
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            out += _expand(_resolve(line, source))
    return out


def _resolve(line: str, source: str) -> str:
    """A line of the list file ``source`` as an input: a relative path joined to the list's folder."""
    if url_scheme(line) is not None or line == "-" or os.path.isabs(line):
        return line
    if is_remote(source):
        scheme, _, rest = source.partition("://")
        return f"{scheme}://{posixpath.normpath(posixpath.join(posixpath.dirname(rest), line))}"
    return os.path.join(os.path.dirname(source), line)
