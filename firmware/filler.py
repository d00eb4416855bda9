# Fills the store-ahead cache (cache.py) with the items ahead, in the order they will play, in
# the time the player has to spare: the paced sink calls idle(ms) where it would sleep waiting
# for room in its ring, so every wait of the filler (connect, a read) is bounded by that time
# and playback never waits for it. A sink without that hook (an unpaced one) gets fill_one()
# between items instead.
#
# It has its own connection (http, an HTTPClient) and buffer (the config's cache chunk), and
# works item by item: each source in turn, a failed source's successor asked for the bytes from
# the one reached (Range), as fetch.py does. A source that gives no byte for the read timeout
# (counted in the filler's own time) has failed ("timeout"); a sha256 that differs at the end
# starts the entry over from the next source. An entry whose sources all failed is tried again
# after retry_ms; the player then plays that item from the network as usual. Entries not needed
# before the one being filled are evicted to make room; when the next item cannot fit the
# filler waits. An out-of-memory error in the filler drops only the entry it was filling.
import gc
import hashlib

from cache import CACHE_SRC
from compat import const, hexlify, ticks_diff
from fetch import open_range
from httpclient import HTTPClient
from httpconn import HTTPError, Timeout, reason

MIN_MS = const(5)     # an idle time shorter than this is slept, not worked in


class BoundedClient(HTTPClient):
    """The filler's HTTP client: its waits bounded anew before each step."""

    def timeouts(self, connect_ms, read_ms):
        """Bound the waits of what follows, on the connection held too."""
        self.cto = connect_ms
        self.rto = read_ms
        for c in (self.idle, self.lent_to):
            if c is not None:
                c.tmo = read_ms


class Filler:
    def __init__(self, cache, http, buf, clock, sleep_ms, emit, stall_ms, connect_ms,
                 retry_ms=30000):
        self.cache = cache
        self.http = http
        self.buf = buf
        self.mv = memoryview(buf)
        self.clock = clock
        self.sleep_ms = sleep_ms
        self.emit = emit
        self.stall_ms = stall_ms
        self.connect_ms = connect_ms
        self.retry_ms = retry_ms
        self.plan = ()        # the items ahead, in the order they will play
        self.keep = ()        # shas never evicted: the entry playing
        self.later = {}       # sha -> ticks when every source of the entry last failed
        self.job = None       # the item being filled
        self.f = None
        self.resp = None

    def set_plan(self, items, keep):
        self.plan = items
        self.keep = keep
        if self.job is not None and self.job not in items:
            self._stop()

    def _next(self):
        now = self.clock()
        for it in self.plan:
            sha = it["sha256"]
            if self.cache.has(sha):
                if self.cache.size[sha] == it["size"]:
                    continue
                self.cache.drop(sha)  # not the item's bytes: filled again
            t = self.later.get(sha)
            if t is not None and ticks_diff(now, t) < self.retry_ms:
                continue
            return it
        return None

    def _start(self):
        """The next entry to fill becomes the job; False when there is none, or no room."""
        it = self._next()
        if it is None:
            return False
        keep = list(self.keep)
        for x in self.plan:  # the entries that play before it stay
            if x is it:
                break
            keep.append(x["sha256"])
        if not self.cache.room(it["size"], keep):
            return False
        self.job = it
        self.f = self.cache.part(it["sha256"])
        self.si = 0            # its source
        self.have = 0
        self.skip = 0          # leading bytes to drop (a server that ignored Range)
        self.hasher = hashlib.sha256()
        self.waited = 0        # ms of the filler's time without a byte from this source
        self.errors = []
        return True

    def _stop(self, ok=False):
        """The job ends: committed when ok, else its .part removed."""
        it = self.job
        self.job = None
        self._close()
        if self.f is not None:
            self.f.close()
            self.f = None
        if it is None:
            return
        sha = it["sha256"]
        if ok:
            src = it["src"][self.si]
            self.cache.commit(sha, it["size"], src, self.errors)
            self.later.pop(sha, None)
            self.emit("CACHED", (("id", it["id"]), ("bytes", it["size"]), ("src", src),
                                 ("failovers", self.si)))
        else:
            self.cache.abandon(sha)

    def _close(self):
        if self.resp is not None:
            self.resp.close()
            self.resp = None

    def _failed(self, why, over=False):
        """The job's source failed: the next one goes on from the byte reached (from 0: over)."""
        it = self.job
        self._close()
        self.errors.append([it["src"][self.si], why])
        self.si += 1
        self.waited = 0
        if over or self.si >= len(it["src"]):
            self.f.close()
            self.f = self.cache.part(it["sha256"])
            self.have = 0
            self.hasher = hashlib.sha256()
        if self.si >= len(it["src"]):
            self.later[it["sha256"]] = self.clock()
            self.emit("FAIL", (("id", it["id"]), ("src", CACHE_SRC), ("why", "no source"),
                               ("at", 0)))
            self._stop()

    def idle(self, ms):
        """Work on the cache for at most about ms, then return (the rest is slept)."""
        t0 = self.clock()
        left = ms
        while left >= MIN_MS:
            try:
                if not self._step(left):
                    break
            except MemoryError:
                self._stop()
                gc.collect()
                break
            left = ms - ticks_diff(self.clock(), t0)
        if left > 0:
            self.sleep_ms(left)

    def fill_one(self):
        """Fill the next entry to its end (a sink that cannot lend its waits); False when none."""
        if self.job is None and not self._start():
            return False
        while self.job is not None:
            self._step(self.stall_ms)
        return True

    def _step(self, left):
        """One bounded piece of work; False when there is nothing to do."""
        if self.job is None and not self._start():
            return False
        it = self.job
        http = self.http
        if hasattr(http, "timeouts"):
            http.timeouts(min(left, self.connect_ms), min(left, self.stall_ms))
        t = self.clock()
        try:
            if self.resp is None:
                self.resp, self.skip = open_range(http, it["src"][self.si], self.have)
                return True
            n = self.skip or it["size"] - self.have
            if n > len(self.buf):
                n = len(self.buf)
            n = self.resp.readinto(self.buf, n)
            if not n:
                self._failed("dropped at %d" % self.have)
                return True
            self.waited = 0
            if self.skip:
                self.skip -= n
                return True
            view = self.buf if n == len(self.buf) else self.mv[:n]
            self.hasher.update(view)
            self.f.write(view)
            self.have += n
            if self.have >= it["size"]:
                self._close()
                if hexlify(self.hasher.digest()) == it["sha256"]:
                    self._stop(True)
                else:
                    self._failed("sha256", True)
        except Timeout:
            self._close()
            self.waited += ticks_diff(self.clock(), t)
            if self.waited >= self.stall_ms:
                self._failed("timeout")
        except HTTPError as e:
            why = reason(e)
            self._failed("dropped at %d" % self.have if why == "dropped" else why)
        return True
