import sys

import hwpaths  # noqa: F401  (sys.path: firmware/ and hw/)
import pytest


@pytest.fixture
def machine(mocker):
    """A mock of MicroPython's `machine` module (only hardware is mocked), put in sys.modules."""
    m = mocker.MagicMock(name="machine")
    mocker.patch.dict(sys.modules, {"machine": m})
    return m
