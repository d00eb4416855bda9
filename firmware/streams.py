# Stream items (PROTOCOL.md "Live items"): a live mount (icy.py) or an HLS presentation (hls.py),
# loaded by the player at the first stream item it is handed; a device never handed one loads
# none of it. A live item plays dur ms at its rate: that many bytes, from the mounts in order (the
# next one from where the stream is when one stalls, drops or refuses; the primary again at the
# next item). A mount's new title is a TITLE line, shown on a display sink, and told to the meta
# server (POST /playing, at most every TITLE_EVERY_MS) over a second connection: the stream
# holds the player's.
from compat import const, ticks_diff
from devlog import log
from httpconn import BadResponse, HTTPError, reason

TITLE_EVERY_MS = const(10000)


def is_int(v, low=0):
    return isinstance(v, int) and not isinstance(v, bool) and v >= low


def check_stream(doc):
    """A stream item's own fields (PROTOCOL.md "Live items"): a live one plays dur ms at rate."""
    kind = doc.get("stream")
    if kind not in ("live", "hls"):
        raise BadResponse("bad meta data: stream")
    dur = doc.get("dur")
    rate = doc.get("rate")
    if (rate is not None and not is_int(rate, 1)) or (dur is not None and not is_int(dur, 1)) \
            or (kind == "live" and (rate is None or dur is None)):
        raise BadResponse("bad meta data: live")
    sec = doc.get("sec")
    if sec is not None and (kind != "hls" or not isinstance(sec, dict) or sec.get("hls") != 1):
        raise BadResponse("bad meta data: sec")


class Streams:
    def __init__(self, player):
        self.p = player
        self.live = None    # icy.Live, the live opener (its metadata buffer made once)
        self.side = None    # metaclient.MetaClient over its own connection, for titles
        self.item = None
        self.told = None    # ticks of the last title told
        self.last = None
        self.errs = []      # [url, why] of the HLS paths that failed a segment

    def sources(self, item):
        if item is not self.item:
            self.last = None   # the title told of this item (a mount after a failover repeats it)
        self.item = item
        if item["stream"] == "live":
            if self.live is None:
                from icy import Live
                self.live = Live(self.title)
            item["size"] = item["rate"] * item["dur"] // 1000   # what is played: dur at rate
            return item, self.live.open
        import hls
        p = self.p
        self.errs = []
        return item, hls.opener(item, p.skey, p.sleep_ms, p.clock, self.hls_line)

    def hls_line(self, tag, pairs):
        """An HLS line out; a path's failure also kept for the report (its first 8)."""
        self.p.emit(tag, pairs)
        if len(pairs) == 4 and len(self.errs) < 8:
            self.errs.append([pairs[2][1], pairs[3][1]])

    def title(self, t):
        p, item = self.p, self.item
        if t == self.last:
            return
        self.last = t
        p.emit("TITLE", (("id", item["id"]), ("title", t)))
        show = getattr(p.sink, "show_title", None)
        if show is not None:
            show(t)
        now = p.clock()
        if self.told is not None and ticks_diff(now, self.told) < TITLE_EVERY_MS:
            return
        self.told = now
        try:
            if self.side is None:
                from metaclient import MetaClient
                cfg = p.cfg
                http = p.transport(cfg["connect_timeout"], cfg["read_timeout"], tls=p.tls)
                self.side = MetaClient(http, cfg["server"], cfg["device"], cfg["secret"])
            self.side.token = p.meta.token
            self.side._call("POST", "/playing", {"id": item["id"], "title": t})
        except (HTTPError, OSError) as e:  # best effort: the stream plays on
            log("W", "title not told: %s" % reason(e))

    def mounts(self, doc, item, res):
        """A stream's report says what it played from, and for how long: [[url, ms], ...]; an
        HLS stream's, also the paths that failed a segment (in errors)."""
        if self.errs and item["stream"] == "hls":
            doc["errors"] = (doc.get("errors") or []) + self.errs
            self.errs = []
        rate = item.get("rate")
        if rate:
            doc["mounts"] = [[u, n * 1000 // rate] for u, n in res.parts]

    def close(self):
        if self.side is not None:
            self.side.http.close()
