import pytest
from fwpaths import CASES, FIRMWARE

from tools import fwbuild


@pytest.fixture(scope="session")
def mpy_dir(tmp_path_factory):
    """firmware/ and the shared cases compiled with mpy-cross, as they would be copied to a board."""
    out = tmp_path_factory.mktemp("mpy")
    fwbuild.put(fwbuild.py_files(FIRMWARE, CASES, leave_out=("device.py",)), str(out),
                as_source=("runner.py",))
    return out
