# Push buttons to ground (internal pull-ups), read by pin interrupts: a press sets a flag that the
# sink takes between chunks. Presses closer than DEBOUNCE_MS to the last one are contact bounce.
from compat import const, ticks_diff, ticks_ms

DEBOUNCE_MS = const(200)


class Buttons:
    def __init__(self, pins):
        import machine
        Pin = machine.Pin
        self.names = tuple(pins)
        self.flags = bytearray(len(self.names))
        self.last = [ticks_ms()] * len(self.names)
        self.pins = []
        for i, name in enumerate(self.names):
            p = Pin(pins[name], Pin.IN, Pin.PULL_UP)
            p.irq(trigger=Pin.IRQ_FALLING, handler=self._handler(i))
            self.pins.append(p)

    def _handler(self, i):
        def pressed(_pin):
            now = ticks_ms()
            if ticks_diff(now, self.last[i]) >= DEBOUNCE_MS:
                self.flags[i] = 1
            self.last[i] = now
        return pressed

    def take(self, name):
        """True once per press of the named button."""
        for i in range(len(self.names)):
            if self.names[i] == name:
                if self.flags[i]:
                    self.flags[i] = 0
                    return True
                return False
        return False
