"""The firmware, as it goes onto a board (tools.fwbuild's file set: firmware/ and hw/, flat),
type-checks with mypy against the MicroPython stubs of each port (micropython-esp32-stubs,
micropython-rp2-stubs, installed by the Makefile into .venv/stubs/<port>, one folder each since
both define the same modules).

Settings, and why:
- the stubs' own errors are not ours (ignore_errors for every stub module);
- `misc` and `no-redef` are off: the CPython/MicroPython shims (compat.py, watchdog.py) define a
  name twice on purpose, in try/except ImportError;
- modules of this issue (board code) are checked inside their unannotated functions too
  (check_untyped_defs); the rest at mypy's default depth."""
import os
import shutil
import subprocess
import sys

import hwpaths
import pytest

sys.path.insert(0, hwpaths.ROOT)
from tools import fwbuild  # noqa: E402

STUBS = os.path.join(hwpaths.ROOT, ".venv", "stubs")
DEEP = ("boards", "boardsinks", "buttons", "display", "i2ssink", "playsink", "vs1053", "wavhdr",
        "watchdog", "resumemark", "wlan", "supervise", "boardmain", "main", "boot")


def stub_modules(root):
    names = set()
    for dp, _, files in os.walk(root):
        for f in files:
            if f.endswith(".pyi") and not os.path.relpath(dp, root).startswith("stdlib"):
                names.add(os.path.relpath(os.path.join(dp, f), root).split(os.sep)[0].split(".")[0])
    return sorted(names)


@pytest.mark.parametrize("port", ["esp32", "rp2"])
def test_firmware_type_checks_against_the_port_stubs(port, tmp_path):
    stubs = os.path.join(STUBS, port)
    if not os.path.isdir(stubs):
        pytest.fail("no stubs in %s: run `make test` (it installs tests/hw/stubs-%s.txt)" % (stubs, port))
    src = tmp_path / "board"
    src.mkdir()
    names = []
    for name, path in fwbuild.sources(port):
        shutil.copyfile(path, src / name)
        names.append(name)
    assert "main.py" in names and "i2ssink.py" in names and "pipesink.py" not in names
    mods = stub_modules(stubs)
    ini = tmp_path / "mypy.ini"
    ini.write_text("[mypy]\ndisable_error_code = misc, no-redef\nwarn_unused_ignores = False\n\n"
                   "[mypy-%s]\nignore_errors = True\n\n[mypy-%s]\ncheck_untyped_defs = True\n"
                   % (",".join(mods + [m + ".*" for m in mods]), ",".join(DEEP)))
    env = dict(os.environ, MYPYPATH=stubs)
    r = subprocess.run([sys.executable, "-m", "mypy", "--config-file", str(ini),
                        "--custom-typeshed-dir", stubs, "--explicit-package-bases",
                        "--cache-dir", os.path.join(STUBS, ".mypy_cache-" + port)] + sorted(names),
                       cwd=str(src), env=env, capture_output=True, text=True, timeout=240)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "Success: no issues found in %d source files" % len(names) in r.stdout
