"""The serial console of a board (or of a simulated device on a pseudo-terminal).

    python -m tools.console                      # the one board plugged in (auto-detected)
    python -m tools.console /dev/ttyUSB0 --level W --grep 'FAIL|BACKOFF' --log kitchen.log
    python -m tools.console /dev/ttyUSB0 --reset # hard reset (RTS on EN, as esptool does), then watch
    python -m tools.console /dev/ttyACM0 --send "import gc; print(gc.mem_free())"

Shows the device's lines with their levels in colour (E red, W yellow, D dim; ITEM green when
played, FAIL and BACKOFF yellow), filtered by level and pattern; --log keeps every line, unfiltered,
with the time it arrived. Stops at Ctrl-C, when the port closes, or at --until/--count.
"""
import argparse
import errno
import os
import re
import sys
import time

import serial
import serial.tools.list_ports

# USB serial chips on the boards of hw/boards.py: Espressif native USB, Silicon Labs CP210x,
# WCH CH340/CH9102, FTDI, Raspberry Pi (Pico's MicroPython USB CDC)
KNOWN_VIDS = {0x303A: "Espressif", 0x10C4: "CP210x", 0x1A86: "CH340", 0x0403: "FTDI",
              0x2E8A: "Raspberry Pi"}
LEVELS = "DIWE"
EVENT_LEVEL = {"FAIL": "W", "BACKOFF": "W"}  # other events count as I
EVENTS = ("LOGIN", "PROGRAM", "FAIL", "ITEM", "BACKOFF", "DONE")
RED, YELLOW, GREEN, CYAN, DIM, RESET = "\033[31m", "\033[33m", "\033[32m", "\033[36m", "\033[2m", "\033[0m"


class ConsoleError(Exception):
    pass


def detect():
    """The one serial port with a known USB serial chip; ConsoleError lists what was found."""
    ports = [p for p in serial.tools.list_ports.comports() if p.vid in KNOWN_VIDS]
    if len(ports) == 1:
        return ports[0].device
    if not ports:
        raise ConsoleError("no board found (looked for USB serial chips: %s); give the port name"
                           % ", ".join(sorted(KNOWN_VIDS.values())))
    raise ConsoleError("several boards: %s; give one port name"
                       % ", ".join("%s (%s)" % (p.device, KNOWN_VIDS[p.vid]) for p in ports))


def level_of(line):
    """(level letter, tag) of a device line: a log line's level, an event's weight, or I."""
    tag = line.split(" ", 1)[0]
    if len(tag) == 1 and tag in LEVELS:
        return tag, tag
    if tag in EVENTS:
        return EVENT_LEVEL.get(tag, "I"), tag
    return "I", None


def colour(line, level, tag):
    if tag == "ITEM":
        c = GREEN if '"status": "played"' in line else RED
    elif level == "E":
        c = RED
    elif level == "W":
        c = YELLOW
    elif level == "D":
        c = DIM
    elif tag in EVENTS:
        c = CYAN
    else:
        return line
    return c + line + RESET


def hard_reset(ser):
    """EN low then high through RTS (DTR high keeps GPIO0 high: a normal boot, not the loader)."""
    try:
        ser.dtr = False
        ser.rts = True
        time.sleep(0.1)
        ser.rts = False
    except (OSError, serial.SerialException) as e:
        raise ConsoleError("%s cannot reset the board (no RTS line: %s); try --soft-reset"
                           % (ser.name, e))


class Console:
    def __init__(self, ser, out, level="D", grep=None, color=False, log=None):
        self.ser = ser
        self.out = out
        self.min = LEVELS.index(level)
        self.grep = re.compile(grep) if grep else None
        self.color = color
        self.log = log

    def send(self, text):
        self.ser.write(text.encode() + b"\r\n")
        self.ser.flush()

    def soft_reset(self):
        self.ser.write(b"\x03\x03\x04")  # Ctrl-C twice stops the player, Ctrl-D soft-reboots
        self.ser.flush()

    def show(self, raw):
        line = raw.decode("utf-8", "replace").rstrip("\r\n")
        if self.log:
            self.log.write("%s %s\n" % (time.strftime("%Y-%m-%dT%H:%M:%S"), line))
            self.log.flush()
        level, tag = level_of(line)
        if LEVELS.index(level) < self.min or (self.grep and not self.grep.search(line)):
            return None
        self.out.write((colour(line, level, tag) if self.color else line) + "\n")
        self.out.flush()
        return line

    def watch(self, until=None, count=0):
        """Show lines until the port closes, `until` matches a shown line, or `count` are shown."""
        until = re.compile(until) if until else None
        shown = 0
        while True:
            try:
                raw = self.ser.readline()
            except serial.SerialException:
                return "closed"
            if not raw:
                continue
            line = self.show(raw)
            if line is None:
                continue
            shown += 1
            if until and until.search(line):
                return "until"
            if count and shown >= count:
                return "count"


OPEN_HINTS = {errno.ENOENT: "no such port: is the board plugged in? without a port the console"
                            " lists the boards it sees",
              errno.EACCES: "not allowed: join the group that owns it (Debian: sudo usermod -aG"
                            " dialout $USER, then log in again)",
              errno.EBUSY: "another program has the port open (mpremote, another console?)"}


def open_error(e):
    """pyserial's message for a port it could not open, in words: why, and what to do."""
    code = getattr(e, "errno", None)
    if code in OPEN_HINTS:
        return "%s (%s)" % (os.strerror(code), OPEN_HINTS[code])
    return os.strerror(code) if code else str(e)


def parse_args(argv):
    p = argparse.ArgumentParser(prog="python -m tools.console", description=__doc__.splitlines()[0])
    p.add_argument("port", nargs="?", help="serial port or pyserial URL (default: auto-detect)")
    p.add_argument("--baud", type=int, default=115200, help="serial speed (default 115200)")
    p.add_argument("--level", choices=list(LEVELS), default="D", help="show this level and above")
    p.add_argument("--grep", help="show only lines matching this regular expression")
    p.add_argument("--log", help="append every line, unfiltered, with its time, to this file")
    p.add_argument("--reset", action="store_true", help="hard-reset the board first (RTS)")
    p.add_argument("--soft-reset", action="store_true", help="Ctrl-C, Ctrl-D: restart MicroPython")
    p.add_argument("--send", action="append", default=[], help="send this line to the REPL")
    p.add_argument("--until", help="stop after a shown line matching this expression")
    p.add_argument("--count", type=int, default=0, help="stop after this many shown lines")
    p.add_argument("--color", choices=("auto", "always", "never"), default="auto",
                   help="colour by level (default auto: when the output is a terminal)")
    return p.parse_args(argv)


def main(argv=None, out=None):
    a = parse_args(sys.argv[1:] if argv is None else argv)
    out = out or sys.stdout
    color = a.color == "always" or (a.color == "auto" and out.isatty())
    try:
        grep = re.compile(a.grep).pattern if a.grep else None
        port = a.port or detect()
        try:
            log = open(a.log, "a") if a.log else None
        except OSError as e:
            raise ConsoleError("cannot write the log %s: %s" % (a.log, e.strerror))
        try:
            ser = serial.serial_for_url(port, baudrate=a.baud, timeout=0.5)
        except (serial.SerialException, ValueError) as e:
            if log:
                log.close()
            raise ConsoleError("cannot open %s: %s" % (port, open_error(e)))
    except (ConsoleError, re.error) as e:
        print("error: %s" % e, file=sys.stderr)
        return 1
    try:
        con = Console(ser, out, a.level, grep, color, log)
        if a.reset:
            hard_reset(ser)
        if a.soft_reset:
            con.soft_reset()
        for line in a.send:
            con.send(line)
        why = con.watch(a.until, a.count)
        if why == "closed":
            print("-- %s closed" % port, file=sys.stderr)
        return 0
    except ConsoleError as e:
        print("error: %s" % e, file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0
    finally:
        ser.close()
        if log:
            log.close()


if __name__ == "__main__":
    sys.exit(main())
