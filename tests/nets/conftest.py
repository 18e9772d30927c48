"""Fixtures for the nets tests."""
from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def standin_body():
    """BodyModel of the synthetic stand-in body (built in memory, no files)."""
    from nets.body import BodyModel
    from nets.standin import make_standin_body

    return BodyModel(*make_standin_body())


@pytest.fixture(scope="module")
def standin():
    """The stand-in body's SMPL dict and extra regressor (``make_standin_body(seed=0)``)."""
    from nets.standin import make_standin_body

    return make_standin_body(seed=0)
