# Hardware stand-ins for running a board's firmware on the MicroPython unix port (which has no
# I2S, WDT or WLAN): installed into sys.modules as `machine` and `network` before main.py runs.
# What the "DAC" receives is hashed, so the test can compare it with the PCM that was served.
import hashlib
import sys


class Pin:
    IN = 0
    OUT = 1
    PULL_UP = 2
    IRQ_FALLING = 4

    def __init__(self, n, *a, **kw):
        self.n = n

    def irq(self, **kw):
        pass

    def __call__(self, v=None):
        return 1


class I2S:
    TX = 0
    MONO = 0
    STEREO = 1
    received = 0
    configs = []
    sha = hashlib.sha256()

    def __init__(self, id, **kw):
        I2S.configs.append((kw["rate"], kw["bits"], kw["format"]))

    def write(self, buf):
        I2S.received += len(buf)
        I2S.sha.update(buf)
        return len(buf)

    def deinit(self):
        pass


class WDT:
    feeds = 0

    def __init__(self, timeout):
        self.timeout = timeout

    def feed(self):
        WDT.feeds += 1


class Timer:
    PERIODIC = 1

    def __init__(self, id):
        self.cb = None

    def init(self, period, mode, callback):
        self.cb = callback  # the unix port has no timer interrupts: the test calls it


class RTC:
    def __init__(self):
        self.mem = b""

    def memory(self, data=None):
        if data is None:
            return self.mem
        self.mem = bytes(data)


class _Machine:
    pass


machine = _Machine()
for _c in (Pin, I2S, WDT, Timer, RTC):
    setattr(machine, _c.__name__, _c)


class WLAN:
    def __init__(self, iface):
        self.up = False

    def active(self, on=None):
        return True

    def scan(self):
        return [(b"home", b"\x00" * 6, 1, -40, 3, False)]

    def connect(self, ssid, pw):
        self.up = True

    def isconnected(self):
        return self.up

    def status(self):
        return 1010

    def ifconfig(self):
        return ("127.0.0.2", "255.0.0.0", "127.0.0.1", "127.0.0.1")

    def disconnect(self):
        self.up = False


class _Network:
    STA_IF = 0
    WLAN = WLAN


network = _Network()


def install():
    sys.modules["machine"] = machine
    sys.modules["network"] = network
