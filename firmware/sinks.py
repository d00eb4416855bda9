# Where fetched bytes go. A board's sink (I2S DAC, hardware decoder) subclasses Sink.
#   begin(meta, hasher, buf, resume) -> bytes of this item already held (and fed into hasher);
#                                      buf is the stream buffer, free for the sink to use here
#   write(mv)       the next bytes of the item, in order (mv is only valid during the call)
#   restart()       drop everything held of this item: the next write is byte 0 again
#   end(ok)         the item is finished (ok: all bytes received and sha256 matched); a sink
#                   with a buffer may still be playing its tail (gapless: the next item's bytes
#                   go in behind it); close() plays it out
#   low()           True while the sink's buffer is under its low-water mark (or not playing, or
#                   it has none): a source too slow to play from matters now (fetch.py's rule)
#   speed           the sink plays speed x the item's rate (a paced sink's factor; 1 otherwise)
#   chunk           the most bytes a write() should carry (a multiple of 16), 0: any; fetch reads
#                   no more at once
#   underruns, underrun_ms   after end(): times the buffer ran dry mid-item and for how long;
#                   underruns -1: not counted (this sink has no buffer of its own to watch)
#   gap_ms          (optional) after end(): ms the sink had nothing between the item before's last
#                   byte and this one's first (0: gapless); -1 or absent: not measured
# meta is the item (fetch.py): a live stream has no size and end() comes when its source ends; an
# item that is not audio (an image) carries what its sink needs, such as how long to show it.
# The pace is the sink's: write() returns once the bytes are taken (an I2S write blocks while the
# DMA buffers are full; pacedsink.py drains its ring at the item's rate).
import os


class Sink:
    speed = 1
    chunk = 0
    underruns = -1
    underrun_ms = 0

    def low(self):
        return True

    def begin(self, meta, hasher, buf, resume):
        return 0

    def write(self, mv):
        pass

    def restart(self):
        pass

    def end(self, ok):
        pass

    def close(self):
        pass


NullSink = Sink   # the base takes the bytes and does nothing: a class of its own costs heap


class FileSink(Sink):
    """Writes each item to <dir>/<media id>; can resume an item it partly holds."""

    def __init__(self, directory):
        self.dir = directory.rstrip("/")
        self.f = None
        self.path = None
        try:
            os.mkdir(self.dir)
        except OSError:
            pass  # it may exist already
        try:
            if not os.stat(self.dir)[0] & 0x4000:  # S_IFDIR
                raise OSError
        except OSError:
            raise ValueError("sink dir %s cannot be created" % self.dir)

    def begin(self, meta, hasher, buf, resume):
        self.close()
        self.path = "%s/%s" % (self.dir, meta["id"])
        held = 0
        if resume:
            held = self._rehash(hasher, buf, meta.get("size", 0))
        self.f = open(self.path, "ab" if held else "wb")
        return held

    def _rehash(self, hasher, buf, size):
        try:
            held = os.stat(self.path)[6]
        except OSError:
            return 0
        if held <= 0 or held > size:
            return 0
        mv = memoryview(buf)
        got = 0
        with open(self.path, "rb") as f:
            while got < held:
                n = f.readinto(buf)
                if not n:
                    break
                if n > held - got:
                    n = held - got
                hasher.update(mv[:n])
                got += n
        return got

    def write(self, mv):
        self.f.write(mv)

    def restart(self):
        self.f.close()
        self.f = open(self.path, "wb")

    def end(self, ok):
        self.close()
        if not ok and self.path:
            try:
                os.remove(self.path)
            except OSError:
                pass

    def close(self):
        if self.f is not None:
            self.f.close()
            self.f = None


def make_sink(cfg, ring=None, clock=None, sleep_ms=None):
    """A sink from the config's "sink" object: {"type": "null"}, {"type": "file", "dir": ...},
    {"type": "paced", "speed": 8, "dir": ...} (its ring: the `jitter` bytes allocated at start;
    clock and sleep_ms: the player's), or a board sink of hw/boardsinks.py."""
    kind = cfg.get("type", "null") if cfg else "null"
    if kind == "null":
        return NullSink()
    if kind == "file":
        if not isinstance(cfg.get("dir"), str):
            raise ValueError("sink.dir must be a path")
        return FileSink(cfg["dir"])
    if kind == "paced":
        import pacedsink  # only a device that paces in software loads it
        if ring is None:
            raise ValueError("a paced sink needs jitter (the bytes of its ring)")
        inner = FileSink(cfg["dir"]) if cfg.get("dir") else NullSink()
        return pacedsink.PacedSink(ring, inner, cfg.get("speed", 1), clock, sleep_ms)
    try:
        import boardsinks  # hw/: I2S, VS1053, pipe; copied next to these modules on a board
    except ImportError:
        if kind == "board":
            raise ValueError("sink type board needs the board's modules (hw/): on the desktop, "
                             "python -m simulator.console CONFIG plays it into a paced sink")
        raise ValueError("unknown sink type: %s" % kind)
    return boardsinks.make_sink(cfg)
