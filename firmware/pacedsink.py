# The jitter buffer played in software: a ring (the config's `jitter` bytes, allocated once at
# start) between the network and an inner sink (a file, so the bytes can be checked, or nothing),
# drained at the item's rate (meta "rate", bytes per second) times `speed` against the player's
# clock, as a DAC drains its buffer. It stands in for a board's I2S or VS1053 output, whose write
# blocks at the rate instead. An item without a rate goes straight to the inner sink.
#
# Playback starts when the ring is full (or the item's last byte is in), and again so after an
# underrun: a time the ring ran dry before the item's last byte came. underruns counts them,
# underrun_ms adds up how long each lasted (from the byte the ring ran out at to the restart, in
# ms of the clock). write() waits while the ring has no room, as a DAC's write blocks; writes
# carry at most a quarter of the ring (chunk: fetch reads no more at once), so the ring stays at
# least three quarters full while the network keeps up.
#
# Nothing is allocated per chunk: played bytes go to the inner sink a block (a 16th of the ring)
# at a time through views made once, and a write lands in the ring in one slice assignment (two
# views of the caller's bytes where it wraps round the ring's end). Positions count bytes of the
# item: wpos written, cpos played (consumed), opos handed on (whole blocks, so opos <= cpos).
from compat import const, ticks_diff
from sinks import Sink

BLOCKS = const(16)


class PacedSink(Sink):
    def __init__(self, ring, inner, speed, clock, sleep_ms):
        self.ring = ring
        self.cap = len(ring)            # a multiple of BLOCKS (devconfig)
        self.blk = self.cap // BLOCKS
        self.chunk = self.cap // 4 & ~15
        mv = memoryview(ring)
        self.mv = mv
        self.views = [mv[i * self.blk:(i + 1) * self.blk] for i in range(BLOCKS)]
        self.inner = inner
        self.speed = speed
        self.clock = clock
        self.sleep_ms = sleep_ms
        self.bps = 0
        self._reset()

    def _reset(self):
        self.wpos = self.cpos = self.opos = 0
        self.playing = False
        self.done = False
        self.frac = 0       # thousandths of a byte played, carried between plays
        self.gap = -1       # while dry: ms of silence up to dry_t; -1: not dry
        self.dry_t = 0
        self.t = 0

    def begin(self, meta, hasher, buf, resume):
        self._reset()
        rate = meta.get("rate")
        self.bps = int(rate * self.speed) if rate else 0
        self.per_ms, self.rem = divmod(self.bps, 1000)
        self.underruns = 0 if self.bps else -1
        self.underrun_ms = 0
        return self.inner.begin(meta, hasher, buf, resume)

    def low(self):
        """Under half full, or not playing (filling before the item starts or after an
        underrun): a slow source is heard now."""
        return not self.playing or self.wpos - self.cpos < self.cap // 2

    def _start(self, now):
        self._undry()
        self.playing = True
        self.t = now

    def _play(self, now):
        """Consume what the clock says has played since the last look; hand on whole blocks."""
        if not self.playing:
            return
        el = ticks_diff(now, self.t)
        if el <= 0:
            return
        self.t = now
        x = el * self.rem + self.frac
        due = el * self.per_ms + x // 1000
        self.frac = x % 1000
        fill = self.wpos - self.cpos
        if due >= fill:
            if not self.done and due > fill:
                self.underruns += 1
                self.playing = False
                self.gap = el - fill * 1000 // self.bps  # silent since it ran out
                self.dry_t = now
            due = fill
        self.cpos += due
        blk = self.blk
        while self.cpos - self.opos >= blk:
            self.inner.write(self.views[self.opos % self.cap // blk])
            self.opos += blk

    def write(self, mv):
        if not self.bps:
            self.inner.write(mv)
            return
        n = len(mv)
        while True:
            now = self.clock()
            self._play(now)
            room = self.cap - (self.wpos - self.opos)
            if n <= room:
                break
            if not self.playing:
                self._start(now)  # as full as it gets
            self.sleep_ms((n - room) * 1000 // self.bps + 1)
        w = self.wpos % self.cap
        k = self.cap - w
        if n <= k:
            self.ring[w:w + n] = mv
        else:  # round the ring's end
            self.ring[w:] = mv[:k]
            self.ring[:n - k] = mv[k:]
        self.wpos += n

    def restart(self):
        self._undry()
        self._reset()
        self.inner.restart()

    def _undry(self):
        """An underrun in progress ends now (playback restarts, or the item is over)."""
        if self.gap >= 0:
            self.underrun_ms += self.gap + ticks_diff(self.clock(), self.dry_t)
            self.gap = -1

    def end(self, ok):
        if self.bps and ok:
            self.done = True
            now = self.clock()
            self._play(now)
            if not self.playing:
                self._start(now)
            while self.cpos < self.wpos:
                self.sleep_ms((self.wpos - self.cpos) * 1000 // self.bps + 1)
                self._play(self.clock())
            n = self.wpos - self.opos  # short of a block, within one
            if n:
                o = self.opos % self.cap
                self.inner.write(self.mv[o:o + n])
        else:
            self._undry()
        self._reset()
        self.inner.end(ok)

    def close(self):
        self.inner.close()
