# Where playback is inside the current item, kept in memory that survives a watchdog or soft
# reset (ESP32 RTC slow memory via machine.RTC().memory()), never in flash: flash is written only
# at item boundaries (player.py's state file). After a power cut the item starts over.
import struct

_MAGIC = b"PLAY"
_FMT = "<4siiI"  # magic, item id, position in the program (-1: none), bytes played


class Mark:
    def __init__(self, rtc):
        self.rtc = rtc
        self.b = bytearray(struct.calcsize(_FMT))

    def save(self, item, pos, played):
        if not isinstance(item, int):
            return
        struct.pack_into(_FMT, self.b, 0, _MAGIC, item, -1 if pos is None else pos, played)
        self.rtc.memory(self.b)

    def held(self, item, pos):
        """Bytes of this item played before the reset; 0 when the mark is for something else."""
        m = self.rtc.memory()
        if len(m) != len(self.b) or bytes(m[0:4]) != _MAGIC:
            return 0
        _, i, p, played = struct.unpack(_FMT, m)
        if i != item or p != (-1 if pos is None else pos):
            return 0
        return played

    def clear(self):
        self.rtc.memory(b"")


def for_board():
    """A Mark where the port keeps RTC memory across resets (ESP32), else None."""
    try:
        import machine
        rtc = machine.RTC()
    except (ImportError, AttributeError):
        return None
    if not hasattr(rtc, "memory"):
        return None
    return Mark(rtc)
