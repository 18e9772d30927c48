"""The store at an fsspec URL: written to S3 (a moto server on 127.0.0.1), read back and resumed like a local one."""
from __future__ import annotations

import re
import uuid

import fsspec
import pytest
import zarr

import store_compare
from s3_server import s3_bucket, s3_server  # noqa: F401 - fixtures
from store_data import CONFIG, FINGERPRINTS, assert_same_store, create, frame_people, write
from stream.store import StoreExistsError, StoreNotFoundError, StoreWriter, open_store, store_exists
from stream.store.location import zarr_store


FRAMES = 60  # fewer than the local tests' 100: each object read or write is a request; track 9 starts at frame 44


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """An uninterrupted 60-frame store, written locally."""
    return write(tmp_path_factory.mktemp("ref") / "ref.zarr", range(FRAMES))


def objects(url: str) -> list[str]:
    """The keys of every object below ``url``, relative to it."""
    fs, path = fsspec.core.url_to_fs(url, skip_instance_cache=True)
    return sorted(name[len(path) + 1:] for name in fs.find(path))


def test_a_store_written_to_s3_reads_back_equal_to_a_local_one(s3_bucket, reference):
    url = f"{s3_bucket}/runs/clip.zarr"
    assert not store_exists(url)
    write(url, range(FRAMES), flush_frames=30)
    assert store_exists(url) and {"zarr.json", "tracks/9/smpl_pose/zarr.json"} <= set(objects(url))
    store = open_store(url)
    assert store.path == url and (store.frames_done, store.complete) == (FRAMES, True)
    store_compare.assert_same_store(url, reference, atol=0)
    assert_same_store(url, reference)  # every array and attribute, as plain zarr reads them


class Crash(BaseException):
    """Stands for the writer process dying: nothing after it runs, no exit handler flushes."""


def test_resume_on_s3_after_a_crash_mid_flush_equals_an_uninterrupted_run(s3_bucket, reference, monkeypatch):
    """The flush of frames 40..59 dies after writing every array, before its progress: resume and finish."""
    url = f"{s3_bucket}/out.zarr"
    writer = create(url, flush_frames=40)
    for t in range(FRAMES):
        writer.add_frame(t, t / 25.0, frame_people(t))

    def die(*args):
        raise Crash()

    monkeypatch.setattr(StoreWriter, "_sync", die)
    with pytest.raises(Crash):
        writer.flush()
    monkeypatch.undo()
    keys = objects(url)
    assert {"frames/time/c/3", "tracks/9/frame/c/0"} <= set(keys)  # rows 48..63 of 16-row chunks; track 9 from 44
    assert open_store(url).frames_done == 40

    writer = StoreWriter.resume(url, config=CONFIG, fingerprints=FINGERPRINTS, flush_frames=20)
    assert (writer.frames_done, writer.path) == (40, url)
    keys = objects(url)
    assert not [key for key in keys if key.startswith("tracks/9/")]  # starts past the commit point: removed
    root = zarr.open_group(zarr_store(url, read_only=True), mode="r")
    for name, array in root.members(max_depth=None):  # no chunk object is left past any array's end
        if isinstance(array, zarr.Array):
            last = -(-array.shape[0] // array.chunks[0])
            chunks = [key for key in keys if key.startswith(f"{name}/c/")]
            assert chunks and all(int(key.split("/")[-array.ndim]) < last for key in chunks), name
    write(url, range(40, FRAMES), writer=writer)
    assert_same_store(url, reference)
    assert open_store(url).attrs["resumes"] == [{"frames_done": 40, "forced": []}]


def test_open_a_missing_url_names_it(s3_bucket):
    url = f"{s3_bucket}/missing.zarr"
    with pytest.raises(StoreNotFoundError, match=re.escape(url)):
        open_store(url)


def test_create_refuses_an_existing_url_store(s3_bucket):
    url = write(f"{s3_bucket}/out.zarr", range(2))
    with pytest.raises(StoreExistsError, match=re.escape(url)):
        create(url)


def test_overwrite_replaces_a_url_store(s3_bucket):
    url = write(f"{s3_bucket}/out.zarr", range(20), flush_frames=20)
    fresh = write(f"{s3_bucket}/fresh.zarr", range(3))
    write(url, range(3), overwrite=True)
    assert open_store(url).frames_done == 3
    assert objects(url) == objects(fresh)  # nothing of the old store is left


def test_overwrite_leaves_other_objects_alone(s3_bucket):
    url = f"{s3_bucket}/notes"
    fsspec.open(f"{url}/todo.txt", "wb").open().close()
    with pytest.raises(StoreExistsError, match=f"{re.escape(url)} exists and is not a crowdmesh store"):
        create(url, overwrite=True)


def test_a_store_at_a_memory_url(reference):
    url = f"memory://{uuid.uuid4().hex}/out.zarr"
    write(url, range(FRAMES))
    assert store_exists(url) and open_store(url).path == url
    assert_same_store(url, reference)
