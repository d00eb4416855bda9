# What a board adds to the player, handed to it as its event output and its sleep (boardmain
# passes them through device.main; no module is patched): every event line and every slice of a
# backoff sleep feeds the watchdog, and a source failure while the Wi-Fi is down waits for the
# reconnect, so the next source resumes with a Range request at the byte reached.
import watchdog
from compat import const, sleep_ms
from devlog import emit

SLICE_MS = const(1000)


class Supervisor:
    def __init__(self, wifi=None, sleep=sleep_ms, out=emit):
        self.wifi = wifi  # wlan.Wifi, or None (the OS's network)
        self._sleep = sleep
        self._emit = out

    def _online(self):
        w = self.wifi
        if w is not None and not w.isconnected():
            w.ensure()

    def sleep_ms(self, ms):
        while ms > 0:
            watchdog.feed()
            self._online()
            self._sleep(ms if ms < SLICE_MS else SLICE_MS)
            ms -= SLICE_MS

    def emit(self, tag, pairs):
        watchdog.feed()
        self._emit(tag, pairs)
        if tag == "FAIL":
            self._online()
