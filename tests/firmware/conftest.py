import os
import shutil
import subprocess

import pytest
from fwpaths import CASES, FIRMWARE, MPY_CROSS


@pytest.fixture(scope="session")
def mpy_dir(tmp_path_factory):
    """firmware/ and the shared cases compiled with mpy-cross, as they would be copied to a board."""
    out = tmp_path_factory.mktemp("mpy")
    for d in (FIRMWARE, CASES):
        for name in sorted(os.listdir(d)):
            if not name.endswith(".py") or name in ("device.py", "runner.py"):
                continue
            subprocess.run([MPY_CROSS, "-o", str(out / (name[:-3] + ".mpy")), os.path.join(d, name)],
                           check=True, capture_output=True)
    shutil.copy(os.path.join(CASES, "runner.py"), out / "runner.py")
    return out
