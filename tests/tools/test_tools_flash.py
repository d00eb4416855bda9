"""tools.flash: the esptool/mpremote commands it would run (the subprocess boundary mocked) and
what it compiles (real mpy-cross output, loaded by the real micropython)."""
import ast
import json
import os
import subprocess

import pytest
from tools import flash, fwbuild

REAL_RUN = subprocess.run
MICROPYTHON = fwbuild.micropython_path()
SECRET = "00112233445566778899aabbccddeeff"


@pytest.fixture
def config(tmp_path):
    def make(**over):
        make.n += 1
        cfg = {"server": "http://192.0.2.10:8000", "device": "kitchen", "secret": SECRET,
               "sink": {"type": "board", "board": "esp32-i2s"}, "state": "state.json",
               "wifi": [{"ssid": "home", "password": "password1"}], "watchdog": 120}
        cfg.update(over)
        p = tmp_path / ("kitchen%d.json" % make.n)
        p.write_text(json.dumps(cfg))
        return str(p)
    make.n = 0
    return make


@pytest.fixture
def image(tmp_path):
    p = tmp_path / "ESP32_GENERIC-v1.29.0.bin"
    p.write_bytes(b"\xe9\x03\x02\x20" + b"\xff" * 1000)
    return str(p)


class Board:
    """The subprocess boundary: records each command and, for mpremote, what would be copied
    (romfs: what `mpremote romfs query` says; by default a board without ROMFS)."""

    def __init__(self, mocker, manifest=None, romfs="ROMFS is not enabled on this device\n"):
        self.cmds = []
        self.copied = {}  # remote name -> bytes
        self.rom = None   # the ROMFS image deployed
        self.manifest = manifest
        self.romfs = romfs
        mocker.patch.object(flash.subprocess, "run", side_effect=self.run)

    def mpremote(self):
        """The mpremote commands but the ROMFS query."""
        return [c for c in self.cmds if "mpremote" in c and "query" not in c]

    def run(self, cmd, **kw):
        if os.path.basename(cmd[0]) == "mpy-cross":
            return REAL_RUN(cmd, **kw)  # the compiler is real
        self.cmds.append(cmd)
        out = ""
        if "mpremote" in cmd:
            args = cmd[cmd.index("connect") + 2:]
            if args[:2] == ["fs", "cat"]:
                if self.manifest is None:
                    return subprocess.CompletedProcess(cmd, 1, "", "OSError: [Errno 2] ENOENT")
                out = json.dumps(self.manifest)
            if args == ["romfs", "query"]:
                out = self.romfs
            for part in " ".join(args).split(" + "):
                w = part.split()
                if w[:2] == ["romfs", "deploy"]:
                    with open(w[2], "rb") as f:
                        self.rom = f.read()
                if w[:2] == ["fs", "cp"]:
                    srcs, dest = [x for x in w[2:-1] if not x.startswith("--")], w[-1]
                    for s in srcs:
                        with open(s, "rb") as f:
                            self.copied[dest[1:] or os.path.basename(s)] = f.read()
        return subprocess.CompletedProcess(cmd, 0, out, "")


def test_flash_esp32_erases_writes_the_image_then_copies_compiled_firmware_and_config(
        mocker, config, image, tmp_path):
    b = Board(mocker)
    cfg = config()
    assert flash.main(["flash", "--board", "esp32-i2s", "--port", "/dev/ttyUSB0", "--image", image,
                       "--config", cfg]) == 0
    esp = [c[c.index("esptool") + 1:] for c in b.cmds if "esptool" in c]
    assert esp == [["--chip", "esp32", "--port", "/dev/ttyUSB0", "erase-flash"],
                   ["--chip", "esp32", "--port", "/dev/ttyUSB0", "--baud", "460800", "write-flash",
                    "0x1000", image]]
    mp = b.mpremote()
    assert len(mp) == 1 and mp[0][3:5] == ["connect", "/dev/ttyUSB0"] and mp[0][-1] == "reset"
    assert b.cmds.index(mp[0]) > 1  # after the image
    names = set(b.copied)
    assert {"boot.py", "main.py", "config.json", ".deployed.json", "player.mpy", "i2ssink.mpy",
            "vs1053.mpy", "wlan.mpy", "watchdog.mpy"} <= names
    assert "pipesink.mpy" not in names and "player.py" not in names
    assert json.loads(b.copied["config.json"])["device"] == "kitchen"
    manifest = json.loads(b.copied[".deployed.json"])
    assert set(manifest) == names - {"config.json", ".deployed.json"}
    # what was compiled loads in the real MicroPython 1.29 (the version of the board's image)
    out = tmp_path / "board"
    out.mkdir()
    for n, data in b.copied.items():
        (out / n).write_bytes(data)
        if n.endswith(".mpy"):
            assert data[:2] == b"M\x06", n  # .mpy format 6: MicroPython 1.22 and later
    script = tmp_path / "load.py"
    script.write_text("import sys\nsys.path.insert(0, %r)\n" % str(out) +
                      "import wavhdr, playsink, i2ssink, vs1053, boardsinks, boards, wlan, supervise\n"
                      "print(wavhdr.__file__)\n")
    r = REAL_RUN([MICROPYTHON, str(script)], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and r.stdout.strip().endswith("wavhdr.mpy"), (r.stdout, r.stderr)


def test_flash_refuses_a_wrong_image_or_config_before_touching_the_board(mocker, config, image,
                                                                          tmp_path, capsys):
    b = Board(mocker)
    uf2 = tmp_path / "RPI_PICO_W.uf2"
    uf2.write_bytes(b"UF2\n" + b"\0" * 508)
    cases = [
        (["--image", str(uf2)], "is not an ESP32 firmware .bin"),
        (["--image", str(tmp_path / "none.bin")], "No such file"),
        (["--image", image, "--config", config(sink={"type": "board", "board": "picow-i2s"})],
         "is for board picow-i2s, not esp32-i2s"),
        (["--image", image, "--config", config(secret="")], "secret is required"),
        (["--image", image, "--config", config(wifi=[{"ssid": "x", "password": "1"}])],
         "password must be"),
    ]
    for extra, why in cases:
        args = ["flash", "--board", "esp32-i2s", "--port", "/dev/ttyUSB0", "--config", config()]
        assert flash.main(args + extra) == 1
        assert why in capsys.readouterr().err
    assert b.cmds == []


def test_esptool_failure_is_reported_with_its_message(mocker, config, image, capsys):
    def run(cmd, **kw):
        if os.path.basename(cmd[0]) == "mpy-cross":
            return REAL_RUN(cmd, **kw)
        return subprocess.CompletedProcess(
            cmd, 2, "", "A fatal error occurred: Failed to connect to ESP32: No serial data received.")
    mocker.patch.object(flash.subprocess, "run", side_effect=run)
    assert flash.main(["flash", "--board", "esp32-i2s", "--port", "/dev/ttyUSB0", "--image", image,
                       "--config", config()]) == 1
    err = capsys.readouterr().err
    assert "erase-flash" not in err and "failed (exit 2)" in err and "Failed to connect" in err


def test_flash_pico_copies_the_uf2_to_the_bootsel_drive(mocker, config, tmp_path):
    b = Board(mocker)
    drive = tmp_path / "RPI-RP2"
    drive.mkdir()
    (drive / "INFO_UF2.TXT").write_text("UF2 Bootloader v3.0\n")
    uf2 = tmp_path / "RPI_PICO_W-v1.29.0.uf2"
    uf2.write_bytes(b"UF2\n" + os.urandom(508))
    cfg = config(sink={"type": "board", "board": "picow-i2s"})
    assert flash.main(["flash", "--board", "picow-i2s", "--port", "/dev/ttyACM0", "--image", str(uf2),
                       "--uf2-drive", str(drive), "--config", cfg]) == 0
    assert (drive / uf2.name).read_bytes() == uf2.read_bytes()
    assert not any("esptool" in c for c in b.cmds)
    assert "i2ssink.mpy" in b.copied and "config.json" in b.copied
    assert flash.main(["flash", "--board", "picow-i2s", "--port", "/dev/ttyACM0", "--image", str(uf2),
                       "--uf2-drive", str(tmp_path), "--config", cfg]) == 1


def test_deploy_sends_only_what_changed_and_removes_what_is_gone(mocker, tmp_path, capsys):
    current = fwbuild.build("esp32", str(tmp_path / "now"))
    on_board = dict(current)
    on_board["player.mpy"] = "0" * 64          # an older player
    on_board["oldmodule.mpy"] = "1" * 64       # no longer built
    del on_board["wlan.mpy"]                   # new since the last deploy
    b = Board(mocker, manifest=on_board)
    assert flash.main(["deploy", "--board", "esp32-i2s", "--port", "/dev/ttyUSB0"]) == 0
    assert set(b.copied) == {"player.mpy", "wlan.mpy", ".deployed.json"}
    last = b.cmds[-1]
    assert last[last.index("connect") + 2:][:4] == ["fs", "rm", ":oldmodule.mpy", "+"]
    assert json.loads(b.copied[".deployed.json"]) == current
    # again, with the board up to date: only the manifest is read
    b2 = Board(mocker, manifest=current)
    assert flash.main(["deploy", "--board", "esp32-i2s", "--port", "/dev/ttyUSB0"]) == 0
    assert len(b2.mpremote()) == 1 and "nothing changed" in capsys.readouterr().out
    # a fresh board (no manifest): everything
    b3 = Board(mocker, manifest=None)
    assert flash.main(["deploy", "--board", "esp32-i2s", "--port", "/dev/ttyUSB0"]) == 0
    assert set(b3.copied) == set(current) | {".deployed.json"}


def test_a_pi_gets_its_config_readable_by_its_owner_only(config, tmp_path):
    import stat
    from tools import flash
    dest = tmp_path / "player"
    dest.mkdir()
    (dest / "config.json").write_text("{}")
    os.chmod(dest / "config.json", 0o644)          # an older copy, world-readable
    cfg = config(sink={"type": "board", "board": "rpi-linux"})
    with open(cfg) as f:
        doc = json.load(f)
    doc.pop("watchdog")   # a Pi has none (systemd restarts the player)
    with open(cfg, "w") as f:
        json.dump(doc, f)
    assert flash.main(["flash", "--board", "rpi-linux", "--dest", str(dest), "--config", cfg]) == 0
    assert stat.S_IMODE(os.stat(dest / "config.json").st_mode) == 0o600
    assert json.loads((dest / "config.json").read_text())["secret"] == SECRET


ROMFS_QUERY = ("ROMFS0 partition has size %d bytes (%d blocks of 4096 bytes each)\n"
               "  Raw contents: ff:ff:ff:ff:ff:ff:ff:ff:ff:ff:ff:ff ...\n  Not a valid ROMFS\n")


def romfs_board(mocker, size=1 << 20, manifest=None):
    return Board(mocker, manifest=manifest, romfs=ROMFS_QUERY % (size, size // 4096))


def rom_names(tmp_path, rom):
    """The files of a ROMFS image, listed by the real micropython with the image mounted at /rom
    (tools/romrun.py), and the file importing `version` from it came from."""
    (tmp_path / "got.romfs").write_bytes(rom)
    (tmp_path / "ls.py").write_text("import os, version\nprint(sorted(os.listdir('/rom')))\n"
                                    "print(version.__file__)\n")
    r = REAL_RUN(fwbuild.romrun_command(str(tmp_path / "got.romfs"), "64K", str(tmp_path / "ls.py")),
                 capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    names, where = r.stdout.splitlines()
    return ast.literal_eval(names), where


def test_a_board_with_a_romfs_partition_gets_the_modules_as_one_image(mocker, config, image,
                                                                     tmp_path):
    b = romfs_board(mocker)
    assert flash.main(["flash", "--board", "esp32-i2s", "--port", "/dev/ttyUSB0", "--image", image,
                       "--config", config()]) == 0
    query = [c for c in b.cmds if "query" in c]
    assert [c[c.index("connect") + 1:] for c in query] == [["/dev/ttyUSB0", "romfs", "query"]]
    assert b.cmds.index(query[0]) == 2   # after the image is written: it is what the image has
    (mp,) = b.mpremote()
    args = mp[mp.index("connect") + 2:]
    assert args[:2] == ["romfs", "deploy"] and args[2].endswith("/" + fwbuild.ROMFS_IMAGE)
    assert args[3] == "+" and args[-1] == "reset"
    # onto the filesystem only what a board runs as source, the config and the manifest
    assert set(b.copied) == {"boot.py", "main.py", "config.json", ".deployed.json"}
    manifest = json.loads(b.copied[".deployed.json"])
    assert set(manifest) == {"boot.py", "main.py", fwbuild.ROMFS_IMAGE}
    # the image holds every module of the .mpy build, and MicroPython imports them from it
    mpy = fwbuild.build("esp32", str(tmp_path / "mpy"))
    names, where = rom_names(tmp_path, b.rom)
    assert names == sorted(n for n in mpy if n.endswith(".mpy"))
    assert where == "/rom/version.mpy"


def test_deploy_to_romfs_replaces_the_mpy_files_and_sends_the_image_only_when_it_changed(
        mocker, tmp_path, capsys):
    on_board = fwbuild.build("esp32", str(tmp_path / "before"))   # a deploy of .mpy files
    b = romfs_board(mocker, manifest=on_board)
    assert flash.main(["deploy", "--board", "esp32-i2s", "--port", "/dev/ttyUSB0"]) == 0
    (mp,) = [c for c in b.mpremote() if "reset" in c]
    args = " ".join(mp[mp.index("connect") + 2:]).split(" + ")
    assert args[0].startswith("romfs deploy ")
    # the .mpy files at the root come before /rom on sys.path: every one is removed
    removed = sorted(a.split()[2][1:] for a in args if a.startswith("fs rm"))
    assert removed == sorted(n for n in on_board if n.endswith(".mpy"))
    assert b.rom is not None and set(b.copied) == {".deployed.json"}   # boot.py, main.py as they were
    now = json.loads(b.copied[".deployed.json"])
    assert set(now) == {"boot.py", "main.py", fwbuild.ROMFS_IMAGE}
    # again: the same image, nothing sent
    b2 = romfs_board(mocker, manifest=now)
    assert flash.main(["deploy", "--board", "esp32-i2s", "--port", "/dev/ttyUSB0"]) == 0
    assert b2.rom is None and "nothing changed" in capsys.readouterr().out


def test_mpy_files_where_the_image_has_no_romfs_or_it_does_not_fit(mocker, tmp_path, capsys):
    for answer in ("ROMFS is not enabled on this device\n", "No ROMFS partitions available\n",
                   ROMFS_QUERY % (8192, 2)):
        b = Board(mocker, romfs=answer)
        assert flash.main(["deploy", "--board", "esp32-i2s", "--port", "/dev/ttyUSB0"]) == 0
        assert b.rom is None and "player.mpy" in b.copied and "romfs deploy" not in str(b.cmds)
    assert "does not fit the board's ROMFS partition (8192 bytes): .mpy files instead" in \
        capsys.readouterr().out
