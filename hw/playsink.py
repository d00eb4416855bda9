# What every board sink shares (firmware/sinks.py interface): how far playback is in the item,
# so a reset resumes output at that byte (resumemark); buttons (next: the rest of the item is
# fetched and checked but not played; pause: output waits); the display; feeding the watchdog
# with every chunk. Subclasses implement start(meta), out(mv, at) and stop(ok).
import watchdog
from compat import const, sleep_ms
from sinks import Sink

MARK_EVERY = const(65536)  # bytes between marks: at most this much is played twice after a reset


class PlaySink(Sink):
    def __init__(self, mark=None, buttons=None, display=None):
        self.mark = mark
        self.buttons = buttons
        self.display = display
        self.meta = {}  # type: dict
        self.started = False
        self.pos = 0        # bytes of the item received so far
        self.skip_to = 0    # bytes before this were played already (before a reset or a restart)
        self.next_mark = MARK_EVERY
        self.muted = False

    def begin(self, meta, hasher, buf, resume):
        self.meta = meta
        self.started = True
        self.pos = 0
        self.muted = False
        self.skip_to = 0
        if self.mark is not None:
            if resume:
                self.skip_to = self.mark.held(meta["id"], meta.get("pos"))
            else:
                self.mark.clear()
        self.next_mark = self.skip_to + MARK_EVERY
        if self.display is not None:
            self.display.show(meta.get("title", ""), meta.get("by", ""))
        self.start(meta, buf)
        # the whole item is fetched again (the sha256 covers every byte); output resumes at skip_to
        return 0

    def show_title(self, text):
        """A live stream's new title (ICY StreamTitle): the display's second line."""
        if self.display is not None:
            self.display.show(self.meta.get("title", ""), text)

    def write(self, mv):
        watchdog.feed()
        at = self.pos
        self.pos = at + len(mv)
        if self.buttons is not None:
            self._buttons()
        if not self.muted:
            self.out(mv, at)
        if self.mark is not None and self.pos >= self.next_mark:
            self.mark.save(self.meta["id"], self.meta.get("pos"), self.pos)
            self.next_mark = self.pos + MARK_EVERY

    def _buttons(self):
        b = self.buttons
        if b.take("next"):
            self.muted = True
            self.stop(False)
        if b.take("pause"):
            if self.display is not None:
                self.display.status("paused")
            while not b.take("pause"):
                watchdog.feed()
                if b.take("next"):
                    self.muted = True
                    self.stop(False)
                    break
                sleep_ms(50)
            if self.display is not None:
                self.display.status("")

    def restart(self):
        # the next source starts the item over: what was played stays played
        if self.pos > self.skip_to:
            self.skip_to = self.pos
        self.pos = 0
        self.start(self.meta, None)

    def end(self, ok):
        if not self.muted:
            self.stop(ok)
        if self.mark is not None:
            self.mark.clear()
        self.started = False

    def audible(self, mv, at, lo, hi):
        """The part of mv (item bytes at..at+len) inside [lo, hi) and not played already; mv
        itself when all of it is (no allocation), None when none is."""
        if self.skip_to > lo:
            lo = self.skip_to
        end = at + len(mv)
        if end <= lo or at >= hi:
            return None
        if at >= lo and end <= hi:
            return mv
        a = lo - at if lo > at else 0
        b = hi - at if hi < end else len(mv)
        return mv[a:b]

    # for subclasses
    def start(self, meta, buf):
        pass

    def out(self, mv, at):
        pass

    def stop(self, ok):
        pass
