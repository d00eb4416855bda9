"""A simulated device's serial console on a pseudo-terminal: the device runs with its stdin and
stdout on the pty's master side, as a board sits at the far end of a USB serial cable, and the
pty's name (/dev/pts/N) is the "port" that tools.console opens exactly as /dev/ttyUSB0.

    python -m simulator.console CONFIG.json [--interpreter cpython] [--heap 64K]
    # prints "console /dev/pts/N"; in another terminal: python -m tools.console /dev/pts/N --send ""

Opening a serial port drops what arrived before (pyserial flushes input on open, as for a real
board), so the device is held until the console sends its first line (an empty one will do),
the way one presses reset once the console is watching.
"""
import argparse
import os
import signal
import subprocess
import sys
import tty

from simulator.devices import INTERPRETERS, device_command


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


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m simulator.console", description=__doc__.splitlines()[0])
    p.add_argument("config", help="the device's config JSON")
    p.add_argument("--interpreter", choices=INTERPRETERS, default="micropython")
    p.add_argument("--heap", default="64K")
    a = p.parse_args(argv)
    dev = PtyDevice(device_command(a.interpreter, a.heap, os.path.abspath(a.config)), hold=True)
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


if __name__ == "__main__":
    sys.exit(main())
