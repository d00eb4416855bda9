# The player of a device with storage (config `cache`, devconfig.py): store-ahead and offline
# (DESIGN.md; PROTOCOL.md "Horizon", "Batched reports").
#
# It asks the meta server for a horizon (the next `horizon` items of its program, gzipped,
# inflated into a buffer of HORIZON_MAX bytes and kept in <cache>/ahead.json) and plays those
# items in order. The filler (filler.py) keeps the items ahead in the cache (cache.py) in the
# paced sink's spare time; an item in the cache plays from it, its sources following as
# alternates. Reports go into the report queue (reportq.py) at each item's boundary and are sent
# as batches of `batch`, and all of them before a new horizon is asked for: positions move only
# on reports, so the new horizon starts where the device is.
#
# When the meta server cannot be reached the device is offline: it plays on from the cache in
# program order (round again when the horizon is the whole program), queues its reports, and
# tries the server again after a backoff (OFFLINE and ONLINE lines). An item not in the cache is
# held (nothing plays) until it can be had; a secure item offline cannot have its key and is
# reported failed ("offline: no key").
import gc
import json

from cache import CACHE_SRC, Cache, Stored
from compat import ticks_diff
from devlog import log
from fetch import open_range
from filler import BoundedClient, Filler
from httpconn import BadResponse, HTTPError, reason
from metaclient import MAX_META, MetaClient, MetaError, TooMany, check_next, read_into
from player import Player
from reportq import ReportQueue

HORIZON_MAX = 8192      # bytes of a horizon's JSON (PROTOCOL.md: the server's limit)
AHEAD = "ahead.json"
QUEUE = "reports.q"


class Away(HTTPError):
    """The meta server cannot be reached now: the device is offline."""


class AheadMeta(MetaClient):
    """The calls only a device with a cache makes (kept out of metaclient.py, which every
    device loads)."""

    def horizon(self, k, gzblob, blob, gzip=True):
        """The next k items (PROTOCOL.md "Horizon"): (n, gzipped), the answer read into gzblob
        when it came gzipped (asked for with gzip), else into blob, [0:n] of it; (0, False)
        for 204."""
        headers = {"Authorization": "Bearer %s" % self.token}
        if gzip:
            headers["Accept-Encoding"] = "gzip"
        resp = self.http.request("GET", "%s/horizon?k=%d" % (self.base, k), headers=headers)
        if resp.status == 204:
            resp.close()
            return 0, False
        if resp.status != 200:
            self._error(resp, resp.status, resp.read_all(MAX_META))
        gz = "gzip" in resp.headers.get("content-encoding", "")
        return read_into(resp, gzblob if gz else blob, "horizon"), gz

    def reports(self, body):
        """A batch (PROTOCOL.md "Batched reports"), body the JSON bytes of it."""
        return self._call("POST", "/reports", body=body)


def inflate(data, out):
    """The gzip stream data inflated into out (1 KiB window, PROTOCOL.md "Horizon"): its
    length. More than out holds, or not gzip, is a BadResponse."""
    try:
        import deflate
        import io
    except ImportError:
        deflate = None
    try:
        if deflate is None:  # CPython
            import zlib  # type: ignore  # (the boards' stubs have none)
            z = zlib.decompressobj(31)
            got = z.decompress(bytes(data), len(out))
            if z.unconsumed_tail or not z.eof:
                raise BadResponse("horizon over %d bytes" % len(out))
            out[:len(got)] = got
            return len(got)
        d = deflate.DeflateIO(io.BytesIO(data), deflate.GZIP, 10)
        mv = memoryview(out)
        n = 0
        while n < len(out):
            r = d.readinto(mv[n:])
            if not r:
                return n
            n += r
        if d.read(1):
            raise BadResponse("horizon over %d bytes" % len(out))
        return n
    except (OSError, ValueError) as e:  # zlib.error is an Exception: caught below
        raise BadResponse("horizon: bad gzip (%s)" % e)
    except Exception as e:
        if isinstance(e, (HTTPError, MemoryError)):  # out of memory is not a bad answer
            raise
        raise BadResponse("horizon: bad gzip")


class AheadPlayer(Player):
    Meta = AheadMeta

    def __init__(self, cfg, buf, keybuf=None, ring=None, transport=None, **parts):
        super().__init__(cfg, buf, keybuf, ring, transport=transport, **parts)
        c = cfg["cache"]
        self.hbuf = bytearray(HORIZON_MAX)
        self.cache = Cache(c["dir"], c["bytes"])
        self.queue = ReportQueue(self.cache.path(QUEUE), c["queue"], self.state.get("qoff") or 0)
        self.k = c["horizon"]
        self.batch = c["batch"]
        self.seq = self.state.get("seq") or 0
        self.items = []       # the horizon
        self.whole = False    # it holds the whole program
        self.ai = self.state.get("ai") or 0   # the next of its items to play
        self.stale = True     # a new horizon is due (at start: from the server when it answers)
        self.online = True
        self.since = 0        # offline: when the server last failed
        self.wait = 0         # ms from then before it is tried again
        self.selected = cfg["program"] is None
        self.gzip = True      # horizons asked for gzipped (until one is larger than buf)
        http = (transport or BoundedClient)(cfg["connect_timeout"], cfg["read_timeout"],
                                            tls=self.tls)
        self.fill = Filler(self.cache, http, bytearray(c["chunk"]), self.clock, self.sleep_ms,
                           self.emit, int(cfg["read_timeout"] * 1000),
                           int(cfg["connect_timeout"] * 1000))
        self.paced = hasattr(self.sink, "idle")
        if self.paced:
            self.sink.idle = self.fill.idle
        self._load_ahead()

    # -- the meta server, one try at a time ------------------------------------------------

    def due(self):
        return self.online or ticks_diff(self.clock(), self.since) >= self.wait

    def offline(self, why, at_least=0.0):
        self.wait = self.backoff_ms(at_least)
        self.since = self.clock()
        self.stale = True  # back online: every report delivered, then a new horizon
        if self.online:
            self.online = False
            self.emit("OFFLINE", (("why", why), ("queued", self.queue.count)))
        raise Away("offline")

    def once(self, fn, args=()):
        """fn(*args), a meta server call, tried once (a 401 logs in and tries again): Away when
        the server cannot be reached, answers 5xx or 429 (the device is then offline until its
        backoff has passed); another error status raises its MetaError."""
        if not self.due():
            raise Away("offline")
        try:
            if self.meta.token is None:
                self._login()
            try:
                r = fn(*args)
            except MetaError as e:
                if e.status != 401:
                    raise
                log("I", "token refused, logging in again")
                self.meta.token = None
                self._login()
                r = fn(*args)
        except TooMany as e:
            self.offline("429", e.retry_after)
        except MetaError as e:
            if e.status < 500:
                raise
            self.offline(str(e.status))
        except BadResponse:
            raise
        except HTTPError as e:
            self.offline(reason(e))
        self.failures = 0
        if not self.online:
            self.online = True
            self.emit("ONLINE", (("queued", self.queue.count),))
        return r

    def call(self, fn, args=()):
        return self.once(fn, args)

    def _login(self):
        program = self.meta.login().get("program")
        self.state.save(token=self.meta.token)
        self.emit("LOGIN", (("device", self.cfg["device"]), ("program", program)))

    def select_program(self):
        pass  # at the first horizon the server answers (the device may start offline)

    def wait_due(self):
        """Sleep until the server is tried again (the filler works meanwhile)."""
        left = self.wait - ticks_diff(self.clock(), self.since)
        if left > 0:
            self.idle(left)

    def idle(self, ms):
        if self.paced:
            self.fill.idle(ms)
        else:
            self.sleep_ms(ms)

    # -- reports and horizons ---------------------------------------------------------------

    def deliver(self):
        """Send the queued reports, a batch at a time: all of them when a new horizon is due
        or the run is over, else only whole batches. False when some are left."""
        final = self.due_horizon() or (self.cfg["items"] and self.done >= self.cfg["items"])
        q = self.queue
        while q.count and (final or q.count >= self.batch):
            body, marks = q.head(self.batch)
            if body is None:
                break
            try:
                ans = self.once(self.meta.reports, (body,))
                applied = ans.get("applied") if ans else None
                if not isinstance(applied, int) or not 0 < applied <= len(marks):
                    raise BadResponse("applied")
            except Away:
                if final and self.cfg["items"] and self.done >= self.cfg["items"]:
                    self.wait_due()
                return False
            except (MetaError, BadResponse) as e:  # it answered: no retry makes that better
                log("W", "reports refused: %s" % (e,))
                q.lost += len(marks)
                applied = len(marks)
            body = None
            q.taken(marks[applied - 1])
            self.state.save(qoff=q.off)
        return not q.count

    def due_horizon(self):
        """A new horizon is asked for as its last item is about to play (it then starts with
        that item), so the items after it are filled while it plays."""
        return self.stale or self.ai >= len(self.items) - 1

    def refresh(self):
        """A new horizon from the server (the reports all delivered before)."""
        if not self.selected:
            try:
                got = self.once(self.meta.select, (self.cfg["program"],)).get("selected")
                self.emit("PROGRAM", (("program", got),))
            except MetaError as e:
                log("E", "program %s not selected: %s" % (self.cfg["program"], e.status))
            self.selected = True
        try:
            # gzipped it is read into the stream buffer first: one larger than that is asked
            # for again as plain JSON (at most 8192 bytes, what hbuf holds)
            n, gz = self.once(self.meta.horizon, (self.k, self.buf, self.hbuf, self.gzip))
        except BadResponse as e:
            if not self.gzip or not str(e.args[0] if e.args else "").startswith("horizon over"):
                raise
            self.gzip = False
            n, gz = self.once(self.meta.horizon, (self.k, self.buf, self.hbuf, False))
        if gz:
            n = inflate(memoryview(self.buf)[:n], self.hbuf)
        data = bytes(memoryview(self.hbuf)[:n]) if n else b"{}"
        try:
            self._use(data)
        except BadResponse:
            data = None
            self._load_ahead()  # the horizon before plays on (ahead.json still holds it)
            raise
        self.cache.save(AHEAD, data)
        self.ai = 0
        self.stale = False
        self.state.save(ai=0)
        self.emit("HORIZON", (("items", len(self.items)), ("whole", self.whole)))

    def _use(self, data):
        """The horizon's JSON (or b"{}": nothing to play) as the items to play."""
        self.items = []  # the one before is freed first: ahead.json has it
        try:
            doc = json.loads(data)
        except ValueError:  # (UnicodeError too)
            raise BadResponse("horizon: not JSON")
        data = None
        if not isinstance(doc, dict):
            raise BadResponse("horizon: not an object")
        items = doc.get("items", [])
        if not isinstance(items, list):
            raise BadResponse("horizon: items")
        for it in items:
            if not isinstance(it, dict) or not isinstance(it.get("id"), int) \
                    or not isinstance(it.get("pos"), int):
                raise BadResponse("horizon: an item without its id and pos")
            try:
                check_next(it)
                if it.get("stream") is None:
                    it["sha256"] = it["sha256"].lower()
            except BadResponse as e:
                it["bad"] = reason(e)  # reported failed when its turn comes
        self.items = items
        self.whole = bool(items) and doc.get("n") == len(items)
        gc.collect()

    def _load_ahead(self):
        data = self.cache.load(AHEAD)
        if data:
            try:
                self._use(data)
            except (ValueError, BadResponse) as e:
                log("W", "%s not used: %s" % (AHEAD, e))
                self.items = []

    # -- the player's hooks ---------------------------------------------------------------

    def take(self):
        if self.due_horizon() and self.deliver():
            try:
                self.refresh()
            except Away:
                pass
            except BadResponse as e:  # a horizon that cannot be used: play on from the cache
                log("W", "horizon not used: %s" % (e.args[0] if e.args else e))
                try:
                    self.offline(reason(e))
                except Away:
                    pass
        if self.ai >= len(self.items):
            if not (self.whole and self.items):
                return None, None
            self.ai = 0  # offline, the whole program played: round again
        item = self.items[self.ai]
        plan = self.items[self.ai + 1:]
        if self.whole:
            plan += self.items[:self.ai + 1]
        # streams are not stored ahead: they are played live, online
        self.fill.set_plan([x for x in plan if not x.get("bad") and not x.get("stream")],
                           (item.get("sha256"),))
        plan = None
        if not self.paced:  # a sink that cannot lend its waits: one entry ahead per item
            self.fill.fill_one()
        if item.get("bad"):
            return item, self.failed(item, "meta", item["bad"])
        if item.get("stream") and not self.online:
            return item, self.failed(item, "stream", "offline: a stream plays only online")
        return item, None

    def hold(self):
        if not self.online:
            self.wait_due()
            return
        log("I", "nothing to play")
        self.stale = True
        self.idle(int(self.cfg["idle_wait"] * 1000))

    def sources(self, item):
        if item.get("stream"):
            return Player.sources(self, item)
        sha = item["sha256"]
        if self.cache.has(sha) and self.cache.size[sha] != item["size"]:
            self.cache.drop(sha)  # not the item's bytes (a card that lost some): filled again
        if self.cache.has(sha):
            meta = {}
            for k in item:
                meta[k] = item[k]
            meta["src"] = [CACHE_SRC + sha] + (item["src"] if self.online else [])
            return meta, self.open_src
        if not self.online:
            log("I", "item %d not in the cache: held while offline" % item["id"])
            return None, None
        return item, open_range

    def open_src(self, client, url, have):
        if url.startswith(CACHE_SRC):
            return Stored(self.cache.path(url[len(CACHE_SRC):]), have), 0
        return open_range(client, url, have)

    def secure(self, item):
        if not self.online and not self.due():
            return None, "offline: no key"
        dec, why = Player.secure(self, item)
        if dec is None and not self.online:
            why = "offline: no key"
        return dec, why

    def owed(self):
        return self.queue.count > 0

    def report(self, item, res):
        """Queue the item's report (on flash, with the reasons its sources failed) at its
        boundary; the next item is then the one after it."""
        src, errors = res.src, res.errors
        sha = item.get("sha256")
        if src is not None and src.startswith(CACHE_SRC):
            src, errors = self.cache.origin(sha)
            errors = errors + res.errors
        for e in res.errors:
            if e[0].startswith(CACHE_SRC):  # a bad entry: it goes, the sources fill it again
                self.cache.drop(sha)
                break
        doc = {"seq": self.seq, "id": item["id"], "pos": item.get("pos"), "status": res.status,
               "src": src, "bytes": res.bytes, "ms": res.ms}
        errs = [e for e in errors if not e[0].startswith(CACHE_SRC)]
        if errs:
            doc["errors"] = errs[-32:]
        if res.underruns > 0:
            doc["underruns"] = res.underruns
            doc["underrun_ms"] = res.underrun_ms
        if self.streams is not None and item.get("stream"):
            self.streams.mounts(doc, item, res)
        self.queue.add(doc)
        doc = errs = errors = None
        self.seq += 1
        self.ai += 1
        if self.ai >= len(self.items):
            self.stale = True
        self.state.save(seq=self.seq, ai=self.ai, qoff=self.queue.off, report=None, id=None,
                        pos=None)
        return True

    def close(self):
        try:
            self.fill.set_plan((), ())
            self.fill.http.close()
            c, q = self.cache, self.queue
            self.emit("STORE", (("entries", len(c.size)), ("bytes", c.used()),
                                ("writes", c.writes + q.writes + self.state.saves),
                                ("written", c.written + q.written), ("queued", q.count),
                                ("lost", q.lost)))
        finally:
            Player.close(self)
