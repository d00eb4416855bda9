"""A simulated device's serial console on a pseudo-terminal: the device runs with its stdin and
stdout on the pty's master side, as a board sits at the far end of a USB serial cable, and the
pty's name (/dev/pts/N) is the "port" that tools.console opens exactly as /dev/ttyUSB0.

    python -m simulator.console CONFIG.json [--interpreter cpython] [--heap 72K] [--source]
    # prints "console /dev/pts/N"; in another terminal: python -m tools.console /dev/pts/N --send ""

Opening a serial port drops what arrived before (pyserial flushes input on open, as for a real
board), so the device is held until the console sends its first line (an empty one will do),
the way one presses reset once the console is watching.
"""
import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import tty
import urllib.parse

from simulator.devices import (FIRMWARE_ENTRY, HEAP, INTERPRETERS, PACED_K, SOURCE_HEAP,
                               compile_firmware, device_command)


class PtyDevice:
    """A device process whose console is a pseudo-terminal; .port is its name. With hold, the
    device starts only when a line arrives from the console."""

    def __init__(self, cmd, cwd=None, hold=False):
        self.master, self.slave = os.openpty()
        # raw: no echo of the device's output back into its stdin, no newline translation; the
        # slave stays open here so output waits in the pty until a console attaches
        tty.setraw(self.slave)
        self.port = os.ttyname(self.slave)
        if hold:
            cmd = ["sh", "-c", 'read _ && exec "$@"', "sh"] + list(cmd)
        self.proc = subprocess.Popen(cmd, stdin=self.master, stdout=self.master, stderr=self.master,
                                     cwd=cwd, start_new_session=True)

    def wait(self, timeout=None):
        return self.proc.wait(timeout)

    def close(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        for fd in (self.master, self.slave):
            try:
                os.close(fd)
            except OSError:
                pass


def server_answers(config_path, timeout=1.0):
    """(url, None) when the config's meta server accepts a connection, else (url, why)."""
    try:
        with open(config_path, encoding="utf-8") as f:
            url = json.load(f).get("server") or ""
    except (OSError, ValueError) as e:
        return "", "cannot read %s: %s" % (config_path, getattr(e, "strerror", None) or e)
    parts = urllib.parse.urlsplit(url)
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
        with socket.create_connection((parts.hostname or "", port), timeout):
            return url, None
    except (OSError, ValueError) as e:
        return url, getattr(e, "strerror", None) or str(e) or e.__class__.__name__


DESKTOP_JITTER = 16384


def desktop_config(config_path, out_dir):
    """A provisioned config (a board's sink) as the desktop can run it: the board sink becomes a
    paced sink at real time through a jitter ring (nothing is heard; the bytes played go to
    out_dir), written beside out_dir; None when the config has no board sink (it runs as it is).
    The board keys (wifi, watchdog, timer) are boardmain.py's, which the desktop does not run."""
    with open(config_path, encoding="utf-8") as f:
        cfg = json.load(f)
    sink = cfg.get("sink") if isinstance(cfg, dict) else None
    if not isinstance(sink, dict) or sink.get("type") != "board":
        return None
    cfg["sink"] = {"type": "paced", "speed": 1, "dir": out_dir}
    cfg["jitter"] = cfg.get("jitter") or DESKTOP_JITTER
    path = os.path.join(os.path.dirname(out_dir), "desktop-config.json")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)   # it holds the secret
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump(cfg, f)
    return path, sink.get("board"), cfg["jitter"]


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m simulator.console", description=__doc__.splitlines()[0])
    p.add_argument("config", help="the device's config JSON")
    p.add_argument("--interpreter", choices=INTERPRETERS, default="micropython",
                   help="what runs the firmware (default: micropython, the real unix port)")
    p.add_argument("--heap", help="micropython -X heapsize (default %s, or %s with --source)"
                   % (HEAP, SOURCE_HEAP))
    p.add_argument("--source", action="store_true",
                   help="run the firmware from source; by default micropython runs it compiled"
                        " to .mpy by mpy-cross, as on a board (from source it needs a larger heap)")
    a = p.parse_args(argv)
    url, why = server_answers(a.config)
    if why:
        print("warning: the config's meta server %s does not answer (%s): the device backs off"
              " until it does (a run of `make run` has ended: its meta server with it)"
              % (url or "(none)", why), file=sys.stderr, flush=True)
    heap = a.heap or (SOURCE_HEAP if a.source else HEAP)
    config = os.path.abspath(a.config)
    scratch = tempfile.mkdtemp(prefix="sim-console-")
    try:
        desktop = desktop_config(config, os.path.join(scratch, "out"))
    except (OSError, ValueError):
        desktop = None   # the device's own check says what is wrong with it
    if desktop:
        config, board, ring = desktop
        if not a.heap:
            heap = "%dK" % (int(heap[:-1]) + ring // 1024 + PACED_K)
        print("note: the board sink (%s) needs the board: here the device plays into a paced sink"
              " at real time through a %d-byte jitter ring (nothing is heard), with %s of heap"
              % (board, ring, heap), file=sys.stderr, flush=True)
    entry, built = FIRMWARE_ENTRY, None
    if a.interpreter == "micropython" and not a.source:
        built = tempfile.mkdtemp(prefix="fw-mpy-")
        entry = compile_firmware(built)
    try:
        dev = PtyDevice(device_command(a.interpreter, heap, config, entry), hold=True)
    except RuntimeError as e:
        print("error: %s" % e, file=sys.stderr)
        shutil.rmtree(scratch, ignore_errors=True)
        return 1
    # a kill of this process ends the device too (its own session does not hear the terminal)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    print("console %s  (the device starts at the console's first line: "
          "python -m tools.console %s --send \"\")" % (dev.port, dev.port), flush=True)
    try:
        return dev.wait()
    except KeyboardInterrupt:
        return 130
    finally:
        dev.close()
        if built:
            shutil.rmtree(built, ignore_errors=True)
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
