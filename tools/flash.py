"""Flash a board, or deploy changes to a running one.

    python -m tools.flash flash  --board esp32-i2s --port /dev/ttyUSB0 --image ESP32_GENERIC-v1.29.0.bin --config kitchen.json
    python -m tools.flash flash  --board picow-i2s --port /dev/ttyACM0 --image RPI_PICO_W-v1.29.0.uf2 --uf2-drive /media/$USER/RPI-RP2 --config kitchen.json
    python -m tools.flash flash  --board rpi-linux --dest /home/pi/player --config kitchen.json
    python -m tools.flash deploy --board esp32-i2s --port /dev/ttyUSB0 [--config kitchen.json]
    python -m tools.flash build  --board esp32-i2s --out build/esp32-i2s

flash: erase the chip and write the MicroPython image you supply (esptool; on a Pico W, copy the
UF2 to its BOOTSEL drive), compile the firmware with mpy-cross and copy it with the config to the
board (mpremote), then reset it. deploy: the same files, but only those whose sha256 differs
from what the board's manifest says was put there last (and removes files no longer built).
Where the board's MicroPython has a ROMFS partition that holds them (`mpremote romfs query`), the
compiled modules go into it as one image (`mpremote romfs deploy`: their bytecode then runs in
place, out of the heap) and only boot.py and main.py onto the filesystem; .mpy files otherwise.
"""
import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

from tools import fwbuild
from tools.filehash import file_sha256

# per port: how the MicroPython image is written
CHIPS = {"esp32": {"chip": "esp32", "offset": "0x1000"}}
ESP_IMAGE_MAGIC = 0xE9
UF2_MAGIC = b"UF2\n"


class FlashError(Exception):
    pass


def run(cmd):
    """The subprocess boundary: every esptool and mpremote command goes through here."""
    print("$ " + " ".join(cmd), flush=True)
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        raise FlashError("%s failed (exit %d): %s" % (" ".join(cmd[:4]), r.returncode,
                                                      (r.stderr or r.stdout).strip()[-500:]))
    return r.stdout


def esptool(*args):
    return [sys.executable, "-m", "esptool"] + list(args)


def mpremote(port, *args):
    return [sys.executable, "-m", "mpremote", "connect", port] + list(args)


def check_config(path, board):
    """The device config as the firmware will read it; FlashError says what is wrong."""
    fwbuild.sys_path_for_checks()
    import devconfig
    import wlan
    try:
        cfg = devconfig.load_config(path)
        if cfg.get("wifi") is not None:
            wlan.check_networks(cfg["wifi"])
    except ValueError as e:
        raise FlashError("config %s: %s" % (path, e))
    sink = cfg.get("sink") or {}
    if sink.get("type") == "board" and sink.get("board") != board:
        raise FlashError("config %s is for board %s, not %s" % (path, sink.get("board"), board))
    return cfg


def check_image(path, port):
    try:
        with open(path, "rb") as f:
            head = f.read(4)
    except OSError as e:
        raise FlashError("image %s: %s" % (path, e.strerror))
    if port == "esp32" and (not head or head[0] != ESP_IMAGE_MAGIC):
        raise FlashError("image %s is not an ESP32 firmware .bin (no 0xE9 image header)" % path)
    if port == "rp2" and head != UF2_MAGIC:
        raise FlashError("image %s is not a UF2 file (for a Pico W, the RPI_PICO_W .uf2)" % path)


def write_image(a, port):
    if port == "esp32":
        c = CHIPS[port]
        run(esptool("--chip", c["chip"], "--port", a.port, "erase-flash"))
        run(esptool("--chip", c["chip"], "--port", a.port, "--baud", str(a.baud), "write-flash",
                    c["offset"], a.image))
    elif port == "rp2":
        if not a.uf2_drive or not os.path.exists(os.path.join(a.uf2_drive, "INFO_UF2.TXT")):
            raise FlashError("--uf2-drive must be the Pico's BOOTSEL drive (hold BOOTSEL while "
                             "plugging it in; it mounts as RPI-RP2 with INFO_UF2.TXT)")
        shutil.copyfile(a.image, os.path.join(a.uf2_drive, os.path.basename(a.image)))
        print("copied %s to %s: the Pico reboots into MicroPython" % (a.image, a.uf2_drive))


def copy_to_board(port, build_dir, names, remove=(), config=None):
    """One mpremote command: the ROMFS image (when named), remove stale files, copy the files,
    the config, the manifest last, reset."""
    args = []
    if fwbuild.ROMFS_IMAGE in names:
        args += ["romfs", "deploy", os.path.join(build_dir, fwbuild.ROMFS_IMAGE), "+"]
        names = [n for n in names if n != fwbuild.ROMFS_IMAGE]
    for n in remove:
        if n != fwbuild.ROMFS_IMAGE:  # an image left in the partition: the .mpy files at the
            args += ["fs", "rm", ":" + n, "+"]   # root come first on sys.path
    if names:
        args += ["fs", "cp", "--force"] + [os.path.join(build_dir, n) for n in names] + [":", "+"]
    if config:
        args += ["fs", "cp", "--force", config, ":config.json", "+"]
    args += ["fs", "cp", "--force", os.path.join(build_dir, fwbuild.MANIFEST), ":" + fwbuild.MANIFEST,
             "+", "reset"]
    run(mpremote(port, *args))


ROMFS_PARTITION = re.compile(r"^ROMFS0 partition has size (\d+) bytes", re.M)


def romfs_size(port):
    """Bytes of the board's ROMFS partition 0 (`mpremote romfs query`); 0 when its MicroPython has
    none (ROMFS not enabled, no partition, or an image older than 1.25)."""
    cmd = mpremote(port, "romfs", "query")
    print("$ " + " ".join(cmd), flush=True)
    r = subprocess.run(cmd, capture_output=True, text=True)
    m = ROMFS_PARTITION.search(r.stdout) if r.returncode == 0 else None
    return int(m.group(1)) if m else 0


def as_romfs(out, manifest, size):
    """The build in out as one ROMFS image beside boot.py and main.py, when the board has a ROMFS
    partition of size bytes that holds it: their manifest (the image by its name and sha256);
    else manifest as it was (the .mpy files go onto the filesystem)."""
    if not size:
        return manifest
    path = os.path.join(out, fwbuild.ROMFS_IMAGE)
    n = fwbuild.write_romfs(out, path)
    if n > size:
        os.remove(path)
        print("the ROMFS image (%d bytes) does not fit the board's ROMFS partition (%d bytes):"
              " .mpy files instead" % (n, size))
        return manifest
    print("ROMFS image %d bytes for a %d-byte partition" % (n, size))
    rom = {name: manifest[name] for name in fwbuild.AS_SOURCE if name in manifest}
    rom[fwbuild.ROMFS_IMAGE] = file_sha256(path)
    return rom


def board_manifest(port):
    """What the board says was deployed last; {} when it has no manifest (a fresh board)."""
    cmd = mpremote(port, "fs", "cat", ":" + fwbuild.MANIFEST)
    print("$ " + " ".join(cmd), flush=True)
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        return {}
    try:
        m = json.loads(r.stdout)
    except ValueError:
        return {}
    return m if isinstance(m, dict) else {}


def copy_private(src, dest):
    """Copy a config (the device secret, Wi-Fi passwords) so that only its owner can read it."""
    fd = os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)   # an existing file keeps its mode through O_CREAT: set it
    with os.fdopen(fd, "wb") as out, open(src, "rb") as f:
        shutil.copyfileobj(f, out)


def cmd_flash(a, board):
    port = board["port"]
    check_config(a.config, a.board)
    if port == "linux":
        if not a.dest:
            raise FlashError("--dest DIR is required for %s (where the player runs)" % a.board)
        manifest = fwbuild.build(port, a.dest)
        copy_private(a.config, os.path.join(a.dest, "config.json"))
        fwbuild.write_manifest(a.dest, manifest)
        print("%d files in %s; run it there with: cd %s && python3 main.py"
              % (len(manifest), a.dest, a.dest))
        return 0
    if not a.port:
        raise FlashError("--port is required (for example /dev/ttyUSB0)")
    if not a.image:
        raise FlashError("--image is required: the MicroPython %s image (v1.29)" % port)
    check_image(a.image, port)
    with tempfile.TemporaryDirectory() as out:
        manifest = fwbuild.build(port, out)  # compile first: a build error leaves the board as it was
        write_image(a, port)
        manifest = as_romfs(out, manifest, romfs_size(a.port))  # what the new image has
        fwbuild.write_manifest(out, manifest)
        copy_to_board(a.port, out, sorted(manifest), config=a.config)
    print("flashed %s on %s: %d files and config.json%s" % (
        a.board, a.port, len(manifest), " (the modules in ROMFS)" if fwbuild.ROMFS_IMAGE in manifest
        else ""))
    return 0


def cmd_deploy(a, board):
    port = board["port"]
    if a.config:
        check_config(a.config, a.board)
    if port == "linux":
        return cmd_flash(a, board) if a.config else _deploy_dir(a)
    if not a.port:
        raise FlashError("--port is required (for example /dev/ttyUSB0)")
    with tempfile.TemporaryDirectory() as out:
        manifest = as_romfs(out, fwbuild.build(port, out), romfs_size(a.port))
        fwbuild.write_manifest(out, manifest)
        copy, remove = fwbuild.changes(board_manifest(a.port), manifest)
        if not copy and not remove and not a.config:
            print("nothing changed on %s" % a.port)
            return 0
        copy_to_board(a.port, out, copy, remove, a.config)
    print("deployed %d changed, %d removed: %s" % (len(copy), len(remove), " ".join(copy + remove)))
    return 0


def _deploy_dir(a):
    if not a.dest:
        raise FlashError("--dest DIR is required for %s" % a.board)
    old = {}
    try:
        with open(os.path.join(a.dest, fwbuild.MANIFEST)) as f:
            old = json.load(f)
    except (OSError, ValueError):
        pass
    with tempfile.TemporaryDirectory() as out:
        manifest = fwbuild.build("linux", out)
        copy, remove = fwbuild.changes(old, manifest)
        for n in copy:
            os.makedirs(os.path.dirname(os.path.join(a.dest, n)), exist_ok=True)
            shutil.copyfile(os.path.join(out, n), os.path.join(a.dest, n))
        for n in remove:
            os.remove(os.path.join(a.dest, n))
        fwbuild.write_manifest(a.dest, manifest)
    print("deployed %d changed, %d removed: %s" % (len(copy), len(remove), " ".join(copy + remove)))
    return 0


def check_out(out):
    """A build replaces its folder: only a new or empty one, or an earlier build's (it has the
    manifest), never a folder of other files (`--out .` would have emptied the folder)."""
    if os.path.exists(out) and not os.path.isdir(out):
        raise FlashError("--out %s is a file: give a folder for the build" % out)
    if os.path.isdir(out) and os.listdir(out) and not os.path.exists(os.path.join(out, fwbuild.MANIFEST)):
        raise FlashError("--out %s holds files that are not a build (no %s): a build replaces its"
                         " folder, so give a new or empty one" % (out, fwbuild.MANIFEST))


def cmd_build(a, board):
    check_out(a.out)
    manifest = fwbuild.build(board["port"], a.out)
    fwbuild.write_manifest(a.out, manifest)
    total = sum(os.path.getsize(os.path.join(a.out, n)) for n in manifest)
    print("%d files, %d bytes in %s" % (len(manifest), total, a.out))
    return 0


def parse_args(argv):
    fwbuild.sys_path_for_checks()
    import boards
    p = argparse.ArgumentParser(prog="python -m tools.flash", description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    for name, what in (("flash", "erase the board, write the MicroPython image, copy the firmware"
                                 " and the config, reset it"),
                       ("deploy", "copy only the files that changed since the last flash or deploy"),
                       ("build", "compile the board's files into a folder, as they go onto it")):
        s = sub.add_parser(name, help=what)
        s.add_argument("--board", required=True, choices=sorted(boards.BOARDS),
                       help="the board and its parts (hw/README.md): %(choices)s")
        if name == "build":
            s.add_argument("--out", required=True,
                           help="a new or empty folder for the compiled files (or an earlier build's,"
                                " which is replaced)")
            continue
        s.add_argument("--port", help="serial port of the board, e.g. /dev/ttyUSB0")
        s.add_argument("--config", required=(name == "flash"), help="the device's config JSON")
        s.add_argument("--dest", help="rpi-linux: the directory the player runs from")
        if name == "flash":
            s.add_argument("--image", help="MicroPython image: ESP32 .bin or Pico W .uf2")
            s.add_argument("--uf2-drive", help="Pico W: the mounted BOOTSEL drive")
            s.add_argument("--baud", type=int, default=460800, help="esptool write speed")
    return p.parse_args(argv)


def main(argv=None):
    a = parse_args(sys.argv[1:] if argv is None else argv)
    import boards
    board = boards.board(a.board)
    try:
        return {"flash": cmd_flash, "deploy": cmd_deploy, "build": cmd_build}[a.cmd](a, board)
    except (FlashError, fwbuild.BuildError) as e:
        print("error: %s" % e, file=sys.stderr)
        return 1
    except OSError as e:   # a folder that cannot be written, a file that went away
        print("error: %s%s" % ("%s: " % e.filename if e.filename else "", e.strerror or e),
              file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
