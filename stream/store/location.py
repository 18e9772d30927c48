"""Where a store lives: a local folder (a ``Path``) or an fsspec URL (``s3://bucket/out.zarr``, ``gs://...``,
``memory://...``), and the few file operations the writer needs on either::

    location = as_location("s3://bucket/runs/clip.zarr")   # a str URL; "out.zarr" or "file:///data/out.zarr": a Path
    store_exists(location)                                 # anything there?
    zarr.open_group(zarr_store(location, read_only=True), mode="r")

A URL is text with ``scheme://`` other than ``file://`` (which maps to a local path). A local store is a
folder written by zarr's local store, which replaces every file atomically; the writer can ``fsync`` it.
A URL store keeps the same layout as objects under the URL; every object write (a chunk, a ``zarr.json``)
is atomic on an object store, which keeps what it acknowledged, so there is no ``fsync``. Listings are not
cached (``use_listings_cache=False``): the writer deletes objects through its own filesystem object while
zarr reads through another, and a cached listing would still show what was deleted.

Credentials and endpoints come from the environment only, never from code. For ``s3://`` (s3fs on
aiobotocore/botocore), botocore reads ``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY``, ``AWS_DEFAULT_REGION``
and the endpoint of an S3-compatible server (MinIO, Ceph, moto) from ``AWS_ENDPOINT_URL`` (or
``AWS_ENDPOINT_URL_S3``), as the AWS CLI does; this is the variable crowdmesh relies on. fsspec's own
config variables (``FSSPEC_S3_ENDPOINT_URL=...``, ``FSSPEC_S3={"endpoint_url": ...}``) work too. A scheme
whose fsspec implementation is not installed raises ImportError naming the package (``pip install s3fs``,
or ``pip install crowdmesh[cloud]``).
"""
from __future__ import annotations

import re
import shutil
from pathlib import Path

import fsspec
from fsspec.registry import known_implementations

Location = Path | str  # a local folder, or a URL
_OPTIONS = {"use_listings_cache": False}
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://")


def url_scheme(text) -> str | None:
    """The lower-case scheme of a URL (``scheme://...``), None for anything else."""
    match = _SCHEME.match(str(text))
    return match.group(1).lower() if match else None


def is_url(text) -> bool:
    """Whether ``text`` is an fsspec URL (``scheme://...``, not ``file://``)."""
    return url_scheme(text) not in (None, "file")


def as_location(value) -> Location:
    """A store location: a str URL (without a trailing ``/``), else a Path (``file://`` prefix dropped)."""
    text = str(value)
    if is_url(text):
        return text.rstrip("/")
    return Path(text[len("file://"):]) if text.startswith("file://") else Path(value)


def url_filesystem(url: str) -> tuple[fsspec.AbstractFileSystem, str]:
    """(fsspec filesystem, path inside it) of a URL; ImportError naming the package its scheme needs,
    ValueError for a scheme fsspec does not know (both naming the URL)."""
    try:
        return fsspec.core.url_to_fs(url, **_OPTIONS)
    except ValueError as err:
        raise ValueError(f"{url}: {err}; expected a local path or an fsspec URL (s3://, gs://, memory://, ...)") \
            from None
    except ImportError as err:
        scheme = url.partition("://")[0]
        package = known_implementations.get(scheme, {}).get("class", "").split(".")[0] or "its fsspec backend"
        extra = " (or pip install 'crowdmesh[cloud]')" if package == "s3fs" else ""
        raise ImportError(f"{url}: {scheme}:// needs the package {package}, which is not installed: pip install "
                          f"{package}{extra} ({err})") from None


def zarr_store(location: Location, *, read_only: bool):
    """What ``zarr.open_group`` opens: the Path of a local store, an ``FsspecStore`` for a URL."""
    if isinstance(location, Path):
        return location
    from zarr.storage import FsspecStore

    url_filesystem(location)  # the missing-package error, naming the URL
    return FsspecStore.from_url(location, storage_options=dict(_OPTIONS), read_only=read_only)


def store_exists(location: Location, key: str = "") -> bool:
    """Whether anything is at ``location`` (a folder, or objects below the URL), or at ``key`` inside it."""
    if isinstance(location, Path):
        return (location / key).exists() if key else location.exists()
    fs, path = url_filesystem(location)
    return fs.exists(f"{path}/{key}" if key else path)


def listing(location: Location) -> dict[str, bool]:
    """Everything below the store: its key relative to the store -> whether it is a folder (prefix)."""
    if isinstance(location, Path):
        return {p.relative_to(location).as_posix(): p.is_dir() for p in location.rglob("*")}
    fs, path = url_filesystem(location)
    found = fs.find(path, withdirs=True, detail=True)
    return {name[len(path) + 1:]: info["type"] == "directory" for name, info in found.items()
            if name.startswith(path + "/")}


def children(keys: dict[str, bool], folder: str) -> dict[str, bool]:
    """The entries directly in ``folder`` of a ``listing``: name -> whether it is a folder."""
    prefix = folder + "/"
    return {key[len(prefix):]: is_dir for key, is_dir in keys.items()
            if key.startswith(prefix) and "/" not in key[len(prefix):]}


def remove(location: Location, keys: list[str]) -> None:
    """Delete ``keys`` of the store, folders with all below them; keys already gone are skipped.

    ``[""]`` deletes the whole store.
    """
    if isinstance(location, Path):
        for key in keys:
            target = location / key
            if target.is_dir():
                shutil.rmtree(target)
            else:
                target.unlink(missing_ok=True)
        return
    if not keys:
        return
    fs, path = url_filesystem(location)
    try:
        fs.rm([f"{path}/{key}".rstrip("/") for key in keys], recursive=True)
    except FileNotFoundError:  # every key was gone already
        pass
