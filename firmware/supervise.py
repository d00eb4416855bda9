# Hooks a board adds to the player without changing it (installed by main.py before the player
# is imported, which binds these names at import): every event line and every slice of a
# backoff sleep feeds the watchdog, and a source failure while the Wi-Fi is down waits for the
# reconnect, so the next source resumes with a Range request at the byte reached.
import compat
import devlog
import watchdog
from compat import const

SLICE_MS = const(1000)

_wifi = None
_sleep = compat.sleep_ms
_emit = devlog.emit


def sleep_ms(ms):
    while ms > 0:
        watchdog.feed()
        if _wifi is not None and not _wifi.isconnected():
            _wifi.ensure()
        _sleep(ms if ms < SLICE_MS else SLICE_MS)
        ms -= SLICE_MS


def emit(tag, pairs):
    watchdog.feed()
    _emit(tag, pairs)
    if tag == "FAIL" and _wifi is not None and not _wifi.isconnected():
        _wifi.ensure()


def install(wifi):
    global _wifi
    _wifi = wifi
    compat.sleep_ms = sleep_ms
    devlog.emit = emit
