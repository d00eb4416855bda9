# The device's main loop: log in, ask for the next item, fetch it with failover, report, repeat.
# Config keys: see devconfig.py.
import gc
import json
import os

import httpclient
from compat import random_fraction, sleep_ms
from devlog import emit, log
from fetch import Result, SecureError, fetch
from metaclient import MetaClient, MetaError, TooMany, Unauthorized
from secure import Decryptor, unwrap
from sinks import make_sink


class State:
    """A small JSON file so a restarted device continues: token, current item, bytes held."""

    def __init__(self, path):
        self.path = path
        self.d = {}
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
    def __init__(self, cfg, buf, keybuf=None):
        self.cfg = cfg
        self.buf = buf  # cfg["buffer"] bytes, allocated early by device.py
        self.keybuf = keybuf  # cfg["key_buffer"] bytes for secure items' keys, or None
        tls = None
        if cfg.get("ca"):
            import tlswrap  # only devices that speak TLS load ssl
            tls = tlswrap.TLS(cfg["ca"])
        self.http = httpclient.HTTPClient(cfg["connect_timeout"], cfg["read_timeout"], tls=tls)
        self.meta = MetaClient(self.http, cfg["server"], cfg["device"], cfg["secret"])
        self.sink = make_sink(cfg["sink"])
        self.state = State(cfg["state"])
        self.meta.token = self.state.get("token")
        self.failures = 0  # consecutive, for the backoff
        self.pending = None  # the report of the item just played, until it is delivered

    def backoff(self, why, at_least=0.0):
        cap = min(self.cfg["backoff_cap"], self.cfg["backoff_base"] * (1 << min(self.failures, 16)))
        s = random_fraction() * cap  # full jitter: devices rebooting together spread out
        if s < at_least:
            s = at_least + random_fraction()
        self.failures += 1
        emit("BACKOFF", (("why", why), ("s", round(s, 2))))
        sleep_ms(int(s * 1000))

    def login(self):
        while True:
            try:
                program = self.meta.login().get("program")
                self.failures = 0
                self.state.save(token=self.meta.token)
                emit("LOGIN", (("device", self.cfg["device"]), ("program", program)))
                return
            except TooMany as e:
                self.backoff("429", e.retry_after)
            except MetaError as e:
                self.backoff(str(e.status))
            except httpclient.HTTPError as e:
                self.backoff(_why(e))

    def call(self, fn, *args):
        """A meta server call; logs in again on 401, backs off while the server is away."""
        while True:
            if self.meta.token is None:
                self.login()
            try:
                r = fn(*args)
                self.failures = 0
                return r
            except Unauthorized:
                log("I", "token refused, logging in again")
                self.meta.token = None
            except TooMany as e:
                self.backoff("429", e.retry_after)
            except MetaError as e:
                if e.status < 500:
                    raise
                self.backoff(str(e.status))
            except httpclient.HTTPError as e:
                self.backoff(_why(e))

    def report(self, item, res):
        """Deliver the item's report. It is kept until the meta server takes it: a power cut
        or an out-of-memory error before then must not make the device play the item again."""
        self.pending = {"id": item["id"], "pos": item.get("pos"), "status": res.status,
                        "src": res.src, "bytes": res.bytes, "ms": res.ms, "errors": res.errors}
        return self.deliver()

    def deliver(self):
        """Send the kept report, backing off while the meta server is away, until it is taken
        or refused: asking for the next item before would hand out the same item again. It is
        written to the state file (flash on a board) only when the first try fails."""
        doc = self.pending or self.state.get("report")
        if doc is None:
            return False
        delivered = False
        while True:
            if self.meta.token is None:
                self.login()
            try:
                self.meta.report(doc)
                self.failures = 0
                delivered = True
                break
            except Unauthorized:
                self.meta.token = None
                continue
            except TooMany as e:
                self.keep(doc)
                self.backoff("report 429", e.retry_after)
            except MetaError as e:
                if e.status < 500:
                    log("W", "report of item %s refused: %s" % (doc.get("id"), e))
                    break
                self.keep(doc)
                self.backoff("report %d" % e.status)
            except httpclient.HTTPError as e:
                self.keep(doc)
                self.backoff("report " + _why(e))
        self.pending = None
        self.state.save(report=None, id=None, pos=None)
        return delivered

    def keep(self, doc):
        if self.state.get("report") is None:
            self.state.save(report=doc)

    def play_one(self):
        """Next, fetch, report. False when there was nothing to play."""
        self.deliver()   # one kept from before a restart or an error
        item = self.call(self.meta.next)
        if item is None:
            log("I", "nothing to play")
            sleep_ms(int(self.cfg["idle_wait"] * 1000))
            return False
        resume = self.state.get("id") == item["id"] and self.state.get("pos") == item.get("pos")
        self.state.save(id=item["id"], pos=item.get("pos"))
        gc.collect()
        dec = None
        res = None
        if item.get("sec") is not None:
            dec, why = self.secure(item)
            if dec is None:
                res = Result()
                res.errors.append(["key", why])
                emit("FAIL", (("id", item["id"]), ("src", "key"), ("why", why), ("at", 0)))
        if res is None:
            res = fetch(self.http, item, self.sink, self.buf, emit, resume, dec)
        secure = 1 if dec else 0
        dec = None   # the cipher state, before the line and the report need memory
        gc.collect()
        # the ITEM line first: an out-of-memory error while reporting leaves the report kept
        # (delivered before the next item), and the line must not be lost with it
        for _ in range(2):
            try:
                emit("ITEM", (("id", item["id"]), ("pos", item.get("pos")), ("status", res.status),
                              ("title", item.get("title", "")), ("bytes", res.bytes),
                              ("src", res.src), ("failovers", res.failovers),
                              ("resumed", res.resumed), ("ms", res.ms),
                              ("verified", res.verified), ("secure", secure)))
                break
            except MemoryError:
                gc.collect()
        self.report(item, res)
        return True

    def secure(self, item):
        """(Decryptor, None) for a secure item, or (None, why) when its key cannot be had."""
        if not self.keybuf:
            return None, "no key buffer"
        try:
            nonce, n = self.call(self.meta.media_key, item["id"], self.keybuf)
            ln = unwrap(self.cfg["secret"], nonce, self.keybuf, n)
            kb = memoryview(self.keybuf)
            return Decryptor(item, bytes(kb[16:32]), bytes(kb[32:48]), kb[48:16 + ln]), None
        except MetaError as e:
            return None, str(e.status)
        except SecureError as e:
            return None, "bad response: %s" % e.args[0]
        except (KeyError, TypeError, ValueError):
            return None, "bad response: sec"

    def select_program(self):
        """The configured program, chosen once per start (the server keeps the choice); a
        token saved from an earlier run skips login, so this is not tied to logging in."""
        want = self.cfg["program"]
        if want is None:
            return
        try:
            emit("PROGRAM", (("program", self.call(self.meta.select, want).get("selected")),))
        except MetaError as e:
            log("E", "program %s not selected: %s" % (want, e.status))

    def run(self):
        items = self.cfg["items"]
        done = 0
        try:
            self.select_program()
            while items == 0 or done < items:
                try:
                    if self.play_one():
                        done += 1
                except MetaError as e:
                    self.backoff(str(e.status))
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
            self.http.close()
            self.sink.close()
        emit("DONE", (("items", done),))
        return 0


def _why(e):
    if isinstance(e, httpclient.Refused):
        return "refused"
    if isinstance(e, httpclient.Timeout):
        return "timeout"
    if isinstance(e, httpclient.Dropped):
        return "dropped"
    return "bad response: %s" % (e.args[0] if e.args else "error")


def main(cfg, buf, keybuf=None):
    """Run the device with a checked config (devconfig.py), its stream buffer and key buffer."""
    try:
        player = Player(cfg, buf, keybuf)
    except (ValueError, OSError) as e:  # the sink's settings
        log("E", "config: %s" % e)
        return 2
    return player.run()
