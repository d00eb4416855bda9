# The device's main loop: log in, ask for the next item, fetch it with failover, report, repeat.
# Config keys: see devconfig.py. The player is handed its collaborators (main() and Player()):
# the HTTP transport (a factory: httpclient.HTTPClient, or cpytransport's over adafruit_requests),
# the sink (else make_sink from the config), the event output and the sleep (a board passes
# supervise.Supervisor's, which feed the watchdog and wait for Wi-Fi) and the clock, so no
# module rebinds names inside another.
import gc
import json
import os

import httpclient
from compat import backoff_ms, random_fraction, sleep_ms, ticks_ms
from devlog import emit, log
from fetch import Progress, Result, fetch, open_range
from httpconn import BadResponse, HTTPError, reason
from metaclient import MetaClient, MetaError, TooMany
from sinks import make_sink

BAD_TRIES = 3  # answers in a row that arrive but cannot be used, before the call gives up


class State:
    """A small JSON file so a restarted device continues: token, current item, its undelivered
    report."""

    def __init__(self, path):
        self.path = path
        self.d = {}
        self.saves = 0  # files written, for a device that counts its flash writes
        if path:
            try:
                with open(path) as f:
                    d = json.load(f)
                if isinstance(d, dict):
                    self.d = d
            except (OSError, ValueError):
                pass

    def get(self, k):
        return self.d.get(k)

    def save(self, **kw):
        self.d.update(kw)
        if not self.path:
            return
        tmp = self.path + ".tmp"
        try:
            with _private(tmp) as f:
                json.dump(self.d, f)
            os.rename(tmp, self.path)
            self.saves += 1
        except (OSError, MemoryError) as e:   # a hint for a restart: the device plays on
            log("W", "state not saved: %r" % (e,))


def _private(path):
    """path opened for writing, readable by its owner only where files have modes (a Pi under
    CPython: the state holds the device's token); a board's flash has none."""
    flags = getattr(os, "O_CREAT", None)
    if flags is None:
        return open(path, "w")
    return os.fdopen(os.open(path, os.O_WRONLY | os.O_TRUNC | flags, 0o600), "w")


class Player:
    Meta = MetaClient   # the meta server's calls this player makes (AheadPlayer: more)

    def __init__(self, cfg, buf, keybuf=None, ring=None, transport=None, sink=None, emit=emit,
                 sleep_ms=sleep_ms, clock=ticks_ms):
        self.cfg = cfg
        self.buf = buf  # cfg["buffer"] bytes, allocated early by device.py
        self.keybuf = keybuf  # cfg["key_buffer"] bytes for secure items' keys, or None
        # ring: cfg["jitter"] bytes (or None), the paced sink's; allocated early by device.py
        self.emit = emit
        self.sleep_ms = sleep_ms
        self.clock = clock
        tls = None
        if cfg.get("ca"):
            import tlswrap  # only devices that speak TLS load ssl
            tls = tlswrap.TLS(cfg["ca"])
        self.transport = transport or httpclient.HTTPClient
        self.http = self.transport(cfg["connect_timeout"], cfg["read_timeout"], tls=tls)
        self.meta = self.Meta(self.http, cfg["server"], cfg["device"], cfg["secret"])
        self.sink = sink if sink is not None else make_sink(cfg["sink"], ring, clock, sleep_ms)
        self.state = State(cfg["state"])
        self.meta.token = self.state.get("token")
        self.tls = tls
        self.failures = 0  # consecutive, for the backoff
        self.pending = None  # the report of the item just played, until it is delivered
        self.done = 0  # items played (their ITEM line out; the report may still be kept)
        self.prog = Progress(clock, int(cfg["read_timeout"] * 1000))
        self.streams = None   # streams.Streams, made at the first stream item
        self.skey = None   # the key of the HLS stream playing (its segments'), else None

    def backoff_ms(self, at_least=0.0):
        """The next wait after a failure (exponential, full jitter; at least at_least seconds,
        a 429's Retry-After), counting the failure."""
        ms = backoff_ms(self.failures, int(self.cfg["backoff_base"] * 1000),
                        int(self.cfg["backoff_cap"] * 1000))
        if ms < at_least * 1000:
            ms = int((at_least + random_fraction()) * 1000)
        self.failures += 1
        return ms

    def backoff(self, why, at_least=0.0):
        ms = self.backoff_ms(at_least)
        self.emit("BACKOFF", (("why", why), ("s", round(ms / 1000, 2))))
        self.sleep_ms(ms)

    def retry(self, fn, args=(), tag="", auth=True, failed=None):
        """fn(*args), a meta server call, until it answers: a 401 logs in again, a 429 backs off
        at least its Retry-After, a 5xx or a network failure backs off. Another 4xx raises the
        MetaError, except for login (auth False), which backs off on every status. tag: before
        BACKOFF's why; failed(*args) is called before each backoff. BAD_TRIES answers in a row
        that cannot be used (BadResponse) raise the last: no backoff makes them good."""
        bad = 0
        while True:
            if auth and self.meta.token is None:
                self.login()
            wait = 0.0
            try:
                r = fn(*args)
                self.failures = 0
                return r
            except MetaError as e:
                why = str(e.status)
                if auth and e.status == 401:
                    log("I", "token refused, logging in again")
                    self.meta.token = None
                    continue
                if e.status == 401:
                    log("E", "login refused (401): the device id %r or its secret is wrong"
                        % self.cfg["device"])
                if isinstance(e, TooMany):
                    wait = e.retry_after
                elif auth and e.status < 500:
                    raise
            except HTTPError as e:
                why = reason(e)
                if isinstance(e, BadResponse):
                    bad += 1
                    if bad >= BAD_TRIES:
                        raise
            if failed is not None:
                failed(*args)
            self.backoff(tag + why, wait)

    def login(self):
        program = self.retry(self.meta.login, auth=False).get("program")
        self.state.save(token=self.meta.token)
        self.emit("LOGIN", (("device", self.cfg["device"]), ("program", program)))

    def report(self, item, res):
        """Deliver the item's report. It is kept until the meta server takes it: a power cut
        or an out-of-memory error before then must not make the device play the item again."""
        doc = {"id": item["id"], "pos": item.get("pos"), "status": res.status, "src": res.src,
               "bytes": res.bytes, "ms": res.ms, "errors": res.errors}
        if res.underruns >= 0:
            doc["underruns"] = res.underruns
            doc["underrun_ms"] = res.underrun_ms
        if self.streams is not None and item.get("stream"):
            self.streams.mounts(doc, item, res)
        self.pending = doc
        return self.deliver()

    def deliver(self):
        """Send the kept report, backing off while the meta server is away, until it is taken
        or refused: asking for the next item before would hand out the same item again. It is
        written to the state file (flash on a board) only when the first try fails."""
        doc = self.pending or self.state.get("report")
        if doc is None:
            return False
        delivered = False
        try:
            self.retry(self.meta.report, (doc,), "report ", failed=self.keep)
            delivered = True
        except (MetaError, BadResponse) as e:   # it answered: no retry makes that better
            log("W", "report of item %s refused: %s" % (doc.get("id"), e))
        self.pending = None
        self.state.save(report=None, id=None, pos=None)
        return delivered

    def keep(self, doc):
        if self.state.get("report") is None:
            self.state.save(report=doc)

    def take(self):
        """(item, res): the next item to play, and a failed Result when it cannot be played
        (its meta data); (None, None) when there is nothing to play."""
        try:
            return self.retry(self.meta.next), None
        except BadResponse as e:
            if getattr(e, "item", None) is None:
                raise
            # an item no device can play (its meta data): reported failed, so the program
            # moves on instead of handing it out for ever
            item = {"id": e.item[0], "pos": e.item[1]}
            return item, self.failed(item, "meta", reason(e))

    def sources(self, item):
        """(what fetch streams, its opener): the item and its sources as the meta server gave
        them; (None, None) when it cannot be played now. A stream's are streams.py's."""
        if item.get("stream"):
            if self.streams is None:
                from streams import Streams  # loaded at the first stream item
                self.streams = Streams(self)
            return self.streams.sources(item)
        return item, open_range

    def hold(self):
        """Nothing to play now: wait before asking again."""
        log("I", "nothing to play")
        self.sleep_ms(int(self.cfg["idle_wait"] * 1000))

    def owed(self):
        """True while a report of an item played is not delivered."""
        return self.pending is not None

    def play_one(self):
        """Next, fetch, ITEM line, report. False when there was nothing to play."""
        self.deliver()   # one kept from before a restart or an error
        item, res = self.take()
        if item is None:
            self.hold()
            return False
        dec = None
        stream = item.get("stream")
        if res is None:
            # a stream is played from where it is now: nothing of it is resumed
            resume = not stream and self.state.get("id") == item["id"] \
                and self.state.get("pos") == item.get("pos")
            self.state.save(id=item["id"], pos=item.get("pos"))
            gc.collect()
            if item.get("sec") is not None:
                dec, why = self.secure(item)
                if dec is None:
                    res = self.failed(item, "key", why)
        if res is None:
            self.skey = dec if stream else None   # an HLS stream's opener takes it
            meta, opener = self.sources(item)
            if meta is None:
                self.hold()
                return False
            res = fetch(self.http, meta, self.sink, self.buf, self.emit, resume,
                        None if stream else dec, self.clock, opener, self.prog)
            meta = opener = self.skey = None
        sec = 1 if dec else 0
        dec = None   # the cipher state, before the line and the report need memory
        gc.collect()
        # the ITEM line first: an out-of-memory error while reporting leaves the report kept
        # (delivered before the next item), and the line must not be lost with it
        for _ in range(2):
            try:
                ev = [("id", item["id"]), ("pos", item.get("pos")), ("status", res.status),
                      ("title", item.get("title", "")), ("bytes", res.bytes), ("src", res.src),
                      ("failovers", res.failovers), ("resumed", res.resumed), ("ms", res.ms),
                      ("verified", res.verified), ("secure", sec)]
                if res.underruns >= 0:
                    ev += (("underruns", res.underruns), ("underrun_ms", res.underrun_ms))
                    gap = getattr(self.sink, "gap_ms", -1)  # one that plays items back to back
                    if gap >= 0:
                        ev.append(("gap_ms", gap))
                self.emit("ITEM", ev)
                break
            except MemoryError:
                ev = None
                gc.collect()
        ev = None
        self.done += 1
        # the report holds the reasons the sources failed: an out-of-memory error before it is
        # kept would lose them and hand the item out again
        for _ in range(2):
            try:
                self.report(item, res)
                return True
            except MemoryError:
                gc.collect()
        self.report(item, res)
        return True

    def failed(self, item, src, why):
        """The result of an item that cannot be fetched at all (its key, its meta data)."""
        res = Result()
        res.errors.append([src, why])
        self.emit("FAIL", (("id", item["id"]), ("src", src), ("why", why), ("at", 0)))
        return res

    def secure(self, item):
        """(Decryptor, None) for a secure item (an HLS stream: (its segments' key, None)), or
        (None, why) when its key cannot be had."""
        if not self.keybuf:
            return None, "no key buffer"
        from secure import Decryptor, unwrap  # loaded at start where key_buffer is set
        try:
            nonce, n = self.call(self.meta.media_key, (item["id"], self.keybuf))
            ln = unwrap(self.cfg["secret"], nonce, self.keybuf, n)
            kb = memoryview(self.keybuf)
            if item.get("stream"):  # an HLS stream's: the AES-128 key of its segments
                return bytes(kb[16:32]), None
            return Decryptor(item, bytes(kb[16:32]), bytes(kb[32:48]), kb[48:16 + ln]), None
        except HTTPError as e:  # a MetaError (its status) or a SecureError
            return None, reason(e)
        except (KeyError, TypeError, ValueError):
            return None, "bad response: sec"

    def call(self, fn, args=()):
        """A call that must be answered before the item plays (a secure item's key)."""
        return self.retry(fn, args)

    def select_program(self):
        """The configured program, chosen once per start (the server keeps the choice); a
        token saved from an earlier run skips login, so this is not tied to logging in."""
        want = self.cfg["program"]
        if want is None:
            return
        try:
            got = self.retry(self.meta.select, (want,)).get("selected")
            self.emit("PROGRAM", (("program", got),))
        except MetaError as e:
            log("E", "program %s not selected: %s" % (want, e.status))

    def run(self):
        items = self.cfg["items"]
        try:
            self.select_program()
            while items == 0 or self.done < items or self.owed():
                try:
                    if items and self.done >= items:
                        self.deliver()  # the last item's report, kept by an error after its line
                    else:
                        self.play_one()
                except HTTPError as e:  # a MetaError, or answers that cannot be used
                    self.backoff(reason(e))
                except MemoryError:
                    self.http.close()
                    gc.collect()
                    self.backoff("out of memory")
                except OSError as e:  # the sink's storage, most likely: keep the device alive
                    log("E", "item aborted: %r" % (e,))
                    self.sink.close()
                    self.backoff("os error")
                gc.collect()
        finally:
            self.close()
        self.emit("DONE", (("items", self.done),))
        return 0

    def close(self):
        self.http.close()
        self.sink.close()
        if self.streams is not None:
            self.streams.close()


def main(cfg, buf, keybuf=None, ring=None, **parts):
    """Run the device with a checked config (devconfig.py), its stream buffer, key buffer and
    jitter ring; parts: Player's collaborators (transport, sink, emit, sleep_ms, clock) where
    not the default."""
    try:
        if cfg.get("cache"):
            from aheadplayer import AheadPlayer as Player_  # only a device with a cache
        else:
            Player_ = Player
        player = Player_(cfg, buf, keybuf, ring, **parts)
    except (ValueError, OSError) as e:  # the sink's settings
        log("E", "config: %s" % e)
        return 2
    return player.run()
