"""An S3-compatible server (moto) on 127.0.0.1 for the tests that read and write ``s3://`` URLs.

A test module imports the fixtures it uses (``from s3_server import s3_bucket, s3_server``); ``s3_bucket``
points the environment at the server for the test (``AWS_ENDPOINT_URL``, fake credentials) and gives a new
empty bucket as ``s3://<name>``.
"""
from __future__ import annotations

import itertools
import socket

import pytest

_count = itertools.count()


@pytest.fixture(scope="session")
def s3_server():
    """The endpoint URL of a moto S3 server running for the whole test session."""
    from moto.server import ThreadedMotoServer

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


@pytest.fixture()
def s3_bucket(s3_server, tmp_path):
    """``s3://<bucket>``: a new empty bucket, with the environment pointing s3:// at the test server for the test.

    The environment is set through its own MonkeyPatch, so a test's ``monkeypatch.undo()`` keeps it.
    """
    import fsspec

    env = {"AWS_ENDPOINT_URL": s3_server, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
           "AWS_DEFAULT_REGION": "us-east-1", "AWS_CONFIG_FILE": str(tmp_path / "no-aws-config"),
           "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "no-aws-credentials")}
    with pytest.MonkeyPatch.context() as patch:
        for name, value in env.items():
            patch.setenv(name, value)
        for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL_S3"):
            patch.delenv(name, raising=False)
        name = f"crowdmesh-test-{next(_count)}"
        fsspec.filesystem("s3", skip_instance_cache=True).mkdir(name)
        yield f"s3://{name}"
