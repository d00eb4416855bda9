# Watchdog: the board resets when the player loop stops making progress.
# The hardware WDT (machine.WDT) is fed from a soft timer, but only while the loop has called
# feed() within `timeout_ms`: a hang anywhere (a socket that never returns, a stuck driver, the
# VM itself) stops the feeding and the board resets. The loop feeds with every chunk (board
# sinks), every event line and every slice of a backoff sleep, so the software timeout can be
# long (minutes) while the hardware one stays within a port's limit (rp2: at most 8.3 s).
# Nothing happens until start(): on the desktop feed() is a no-op.
from compat import const, ticks_ms

try:
    from time import ticks_add, ticks_diff
except ImportError:  # CPython
    def ticks_add(a, b):
        return a + b

    def ticks_diff(a, b):
        return a - b

HW_MS = const(5000)  # within every port's limit

_dog = None


class Watchdog:
    def __init__(self, timeout_ms, hw_ms=HW_MS, timer_id=-1):
        import machine
        if timeout_ms < hw_ms:
            raise ValueError("watchdog timeout %d ms is below the hardware's %d ms" % (timeout_ms, hw_ms))
        self.timeout = timeout_ms
        self.deadline = ticks_add(ticks_ms(), timeout_ms)
        self.wdt = machine.WDT(timeout=hw_ms)
        self.timer = machine.Timer(timer_id)
        self.timer.init(period=hw_ms // 2, mode=machine.Timer.PERIODIC, callback=self.tick)

    def feed(self):
        self.deadline = ticks_add(ticks_ms(), self.timeout)

    def tick(self, _timer):
        if ticks_diff(self.deadline, ticks_ms()) > 0:
            self.wdt.feed()


def start(timeout_ms, hw_ms=HW_MS, timer_id=-1):
    """The board's watchdog; once started it cannot be stopped (machine.WDT cannot)."""
    global _dog
    if _dog is None:
        _dog = Watchdog(timeout_ms, hw_ms, timer_id)
    return _dog


def feed():
    if _dog is not None:
        _dog.feed()
