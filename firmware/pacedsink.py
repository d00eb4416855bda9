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
# Gapless: end(True) does not wait for the ring to play out. The item's tail plays on (at its own
# rate) while the player reports it and fetches the next, whose bytes go in behind it: the ring
# keeps the boundary (the next item starts at a block boundary of the ring; the rate changes
# there; the inner sink ends one item and begins the next when the boundary is played). gap_ms
# is, for the item after a boundary, how long the sink had nothing between the last byte of the
# item before and its own first (0: gapless); -1 when no item played before it (the first, or
# after close()). At most one item's tail waits in the ring: an item that ends before the one
# before it has played out waits for it. close() plays the ring out.
#
# Nothing is allocated per chunk: played bytes go to the inner sink a block (a 16th of the ring)
# at a time through views made once, and a write lands in the ring in one slice assignment (two
# views of the caller's bytes where it wraps round the ring's end). Positions count bytes through
# the ring (moved back by whole rings so they stay small): wpos written, cpos played (consumed),
# opos handed on (whole blocks, so opos <= cpos); start: the current item's byte 0; pend: the end
# of the item before it while that plays out (-1: none).
from compat import const, ticks_diff
from sinks import Sink

BLOCKS = const(16)


class PacedSink(Sink):
    gap_ms = -1
    # idle(ms): called instead of sleeping where the ring has no room, with how long the ring
    # takes to fall to half full (at least the wait): the store-ahead filler works then
    idle = None

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
        self.bps = self.pbps = 0  # the current item's pace; the one playing out before it
        self.meta = None          # the current item, until the inner sink has begun it
        self.cur = False          # an item begun and not yet ended (else: abandoned at begin)
        self.edge = False         # silent at a boundary: the item before has played out
        self._empty()

    def _zero(self):
        self.wpos = self.cpos = self.opos = self.start = 0
        self.frac = 0       # thousandths of a byte played, carried between plays

    def _empty(self):
        self._zero()
        self.pend = -1
        self.playing = False
        self.gap = -1       # while dry: ms of silence up to dry_t; -1: not dry
        self.dry_t = 0
        self.t = 0

    def begin(self, meta, hasher, buf, resume):
        if self.cur:
            self.end(False)  # the item before was abandoned (an error in the player)
        rate = meta.get("rate")
        # a stream (a live mount, HLS) comes at the rate it plays: never faster than real time
        bps = int(rate * (1 if meta.get("stream") else self.speed)) if rate else 0
        if not bps or resume:
            self._drain()   # the ring plays out first: unpaced, or the inner sink holds bytes
        self._play(self.clock())
        if not bps:
            self.edge = False   # no boundary to measure
            self.gap = -1
        if self.pend < 0:
            self._zero()    # the ring is empty (silent since a boundary, perhaps)
        else:  # behind the tail of the item before, from the next block of the ring
            back = self.opos - self.opos % self.cap
            self.opos -= back
            self.cpos -= back
            self.pend -= back
            self.wpos = self.start = (self.pend + self.blk - 1) // self.blk * self.blk
        self.bps = bps
        self.underruns = 0 if bps else -1
        self.underrun_ms = 0
        self.gap_ms = -1
        self.cur = True
        if self.pend >= 0:
            self.meta = meta  # the inner sink begins it when the boundary is played
            return 0
        return self.inner.begin(meta, hasher, buf, resume)

    def low(self):
        """Under half full, or not playing (filling before the item starts or after an
        underrun): a slow source is heard now."""
        return not self.playing or self.wpos - self.cpos < self.cap // 2

    def _start(self, now):
        if self.gap >= 0:
            ms = self.gap + ticks_diff(now, self.dry_t)
            if self.edge:
                self.gap_ms = ms
                self.edge = False
            else:
                self.underrun_ms += ms
            self.gap = -1
        self.playing = True
        self.t = now

    def _dry(self, now, ms):
        """Nothing to play since ms before now."""
        self.playing = False
        self.gap = ms
        self.dry_t = now

    def _due(self, el, bps):
        x = el * (bps % 1000) + self.frac
        self.frac = x % 1000
        return el * (bps // 1000) + x // 1000

    def _play(self, now):
        """Consume what the clock says has played since the last look; hand on whole blocks;
        cross a boundary (the rate changes there)."""
        if not self.playing:
            return
        el = ticks_diff(now, self.t)
        if el <= 0:
            return
        self.t = now
        if self.pend >= 0:
            left = self.pend - self.cpos
            ms = (left * 1000 - self.frac + self.pbps - 1) // self.pbps  # to its last byte
            if ms > el:
                self.cpos += self._due(el, self.pbps)
                self._hand(self.cpos)
                return
            el -= ms
            self._cross()
            if self.wpos == self.start:  # nothing of the next item yet: silent from its end
                self.edge = True
                self._dry(now, el)
                return
            self.gap_ms = 0
        due = self._due(el, self.bps)
        fill = self.wpos - self.cpos
        if due > fill:  # ran dry before the item's last byte came
            self.underruns += 1
            self._dry(now, el - fill * 1000 // self.bps)
            due = fill
        self.cpos += due
        self._hand(self.cpos)

    def _hand(self, top):
        blk = self.blk
        while top - self.opos >= blk:
            self.inner.write(self.views[self.opos % self.cap // blk])
            self.opos += blk

    def _cross(self):
        """The item before has played its last byte: the inner sink ends it (after its last
        bytes, short of a block) and begins the current one."""
        pend = self.pend
        self._hand(pend)
        n = pend - self.opos
        if n:
            o = self.opos % self.cap
            self.inner.write(self.mv[o:o + n])
        self.inner.end(True)
        self.pend = -1
        self.frac = 0
        self.cpos = self.opos = self.start
        if self.meta is not None:
            self.inner.begin(self.meta, None, None, False)
        self.meta = None

    def _drain(self):
        """Play until the item before the current one has played out."""
        while self.pend >= 0:
            self._play(self.clock())
            if self.pend >= 0:
                self.sleep_ms((self.pend - self.cpos) * 1000 // self.pbps + 1)

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
            bps = self.pbps if self.pend >= 0 else self.bps
            ms = (n - room) * 1000 // bps + 1
            if self.idle is None:
                self.sleep_ms(ms)
            else:
                spare = (self.wpos - self.cpos - self.cap // 2) * 1000 // bps
                self.idle(spare if spare > ms else ms)
        w = self.wpos % self.cap
        k = self.cap - w
        if n <= k:
            self.ring[w:w + n] = mv
        else:  # round the ring's end
            self.ring[w:] = mv[:k]
            self.ring[:n - k] = mv[k:]
        self.wpos += n

    def restart(self):
        if self.pend >= 0:   # not yet in the inner sink: only the ring holds it
            self.wpos = self.start
            return
        self._undry()
        edge, gap, dry_t = self.edge, self.gap, self.dry_t
        self._empty()
        if edge:  # still silent since the boundary
            self.gap, self.dry_t = gap, dry_t
        self.inner.restart()

    def _undry(self):
        """An underrun in progress ends now (the item is restarted or abandoned)."""
        if self.gap >= 0 and not self.edge:
            self.underrun_ms += self.gap + ticks_diff(self.clock(), self.dry_t)
            self.gap = -1

    def end(self, ok):
        self.cur = False
        if not self.bps:
            self.inner.end(ok)
            return
        now = self.clock()
        self._play(now)
        if ok:
            self._drain()  # at most one tail waits in the ring
            if self.wpos == self.start:  # an empty item: nothing to play
                self.inner.end(True)
                return
            if not self.playing:
                self._start(self.clock())
            self.pend = self.wpos
            self.pbps = self.bps
            # the next item's byte 0: the next block of the ring
            self.start = self.wpos = (self.pend + self.blk - 1) // self.blk * self.blk
            return
        if self.pend >= 0:
            self.wpos = self.start   # dropped before it reached the inner sink
            self.meta = None
            return
        if not self.edge and (self.playing or self.gap >= 0):  # it had started: silent from now
            self._undry()
            self.edge = True
            self._dry(now, 0)
        edge, gap, dry_t = self.edge, self.gap, self.dry_t
        self._empty()
        self.gap, self.dry_t = gap, dry_t
        self.edge = edge
        self.inner.end(False)

    def close(self):
        """Play the ring out; then nothing plays before the next item (no boundary)."""
        try:
            if self.cur:
                self.end(False)
            self._drain()
        finally:  # (the inner sink's storage may fail: the device plays on)
            self._empty()
            self.edge = False
            self.inner.close()
