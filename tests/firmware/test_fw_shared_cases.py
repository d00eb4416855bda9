"""The cases in mpcases/ run here under CPython and, compiled to .mpy, under the real
micropython interpreter in a 64K heap (one process per case module; a module that names its own
HEAP, because it loads the whole firmware beside its code, in that)."""
import importlib
import os
import subprocess

import pytest
from fwpaths import CASES, MICROPYTHON

MODULES = sorted(n[:-3] for n in os.listdir(CASES) if n.startswith("cases_") and n.endswith(".py"))


def _cases():
    out = []
    for modname in MODULES:
        mod = importlib.import_module(modname)
        for name in sorted(dir(mod)):
            if name.startswith("test_"):
                out.append(pytest.param(modname, name, id="%s.%s" % (modname, name)))
    return out


@pytest.mark.parametrize("modname,name", _cases())
def test_case_under_cpython(modname, name):
    getattr(importlib.import_module(modname), name)()


@pytest.mark.parametrize("modname", MODULES)
def test_cases_under_micropython_64k_heap(modname, mpy_dir):
    # a case module that loads the whole firmware beside its own code names a larger HEAP
    heap = getattr(importlib.import_module(modname), "HEAP", "64K")
    proc = subprocess.run([MICROPYTHON, "-X", "heapsize=" + heap, str(mpy_dir / "runner.py"),
                           str(mpy_dir), modname], capture_output=True, text=True, timeout=120)
    lines = proc.stdout.splitlines()
    failed = [ln for ln in lines if ln.startswith("FAIL ")]
    passed = {ln[5:] for ln in lines if ln.startswith("PASS ")}
    assert not failed and proc.returncode == 0, "\n".join(failed) + proc.stderr
    mod = importlib.import_module(modname)
    expected = {"%s.%s" % (modname, n) for n in dir(mod) if n.startswith("test_")}
    assert passed == expected, "not run under micropython: %s" % sorted(expected - passed)
