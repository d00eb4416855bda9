"""The ROMFS image (tools.fwbuild) and the unix port running from it (tools/romrun.py): the image
holds every module of the .mpy build, mounts at /rom from memory outside MicroPython's heap, and
its bytecode runs in place: importing the player keeps far less heap than from .mpy files."""
import ast
import os
import subprocess

import pytest
from tools import fwbuild


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    out = str(tmp_path_factory.mktemp("romfs"))
    image = fwbuild.build_romfs("esp32", out)
    return image, os.path.join(out, "files")


def romrun(image, script, tmp_path, *args, heap="128K"):
    path = tmp_path / "probe.py"
    path.write_text(script)
    return subprocess.run(fwbuild.romrun_command(image, heap, str(path), list(args)),
                          capture_output=True, text=True, timeout=60)


def test_the_image_mounts_at_rom_with_every_module_of_the_mpy_build(built, tmp_path):
    image, files = built
    r = romrun(image, "import os, sys\nprint(sorted(os.listdir('/rom')))\nprint(sys.path[0])\n"
                      "print(sys.argv)\n", tmp_path, "a", "b")
    assert r.returncode == 0, r.stderr
    names, first, argv = r.stdout.splitlines()
    mpy = sorted(n for n in os.listdir(files) if n.endswith(".mpy"))
    assert ast.literal_eval(names) == mpy and "player.mpy" in mpy and "i2ssink.mpy" in mpy
    # boot.py and main.py stay on a board's filesystem, which runs them as source
    assert not any(n.endswith(".py") for n in ast.literal_eval(names))
    assert first == "/rom"   # nothing imported from the host's folders
    assert ast.literal_eval(argv) == [str(tmp_path / "probe.py"), "a", "b"]


def test_a_module_entry_runs_its_main_with_the_arguments_and_exit_code(built):
    image, _ = built
    r = subprocess.run(fwbuild.romrun_command(image, "64K", "device"), capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 2 and r.stdout.strip() == "E usage: device.py CONFIG.json"


def test_importing_the_player_from_rom_keeps_its_bytecode_out_of_the_heap(built, tmp_path):
    image, files = built
    probe = ("import gc, sys\n%s\ngc.collect()\na = gc.mem_alloc()\nimport player\ngc.collect()\n"
             "print(gc.mem_alloc() - a, player.__file__)\n")
    r = romrun(image, probe % "", tmp_path)
    assert r.returncode == 0, r.stderr
    rom, where = r.stdout.split()
    r = romrun(image, probe % ("sys.path[0] = %r" % files), tmp_path)   # the same .mpy files
    assert r.returncode == 0, r.stderr
    mpy, where_mpy = r.stdout.split()
    assert where == "/rom/player.mpy" and where_mpy == os.path.join(files, "player.mpy")
    # what stays in the heap is the functions, classes and tables; the bytecode is the rest
    assert int(rom) < 0.75 * int(mpy), (rom, mpy)
