# An HLS presentation played as one item (issue 15): opener(meta, key) is fetch's opener for an
# item with "stream": "hls"; the stream it opens yields the audio elementary stream of the
# segments in order (tsdemux.py), decrypted in place when they are AES-128 (key: from the meta
# server; a playlist's key URI is never fetched).
#
# Paths: the playlist it is opened at (a master's variants of the first one's BANDWIDTH, in
# order: redundant streams; a media playlist: one path), then the item's later src, expanded only
# when the ones before failed. A segment that fails (a 4xx/5xx, a stall, a drop, a bad TS packet
# or padding, a body cut short) is fetched at the same media sequence number from the next path,
# the ES bytes it already gave being dropped from the retry; when every path failed for it the
# last error is raised (fetch then opens the next src with the bytes it holds: on demand, the
# stream resumes at the segment it was in; live, at the live edge).
#
# Bounds: a playlist line 256 bytes, a body 64 KiB (and 1 MiB scanned when the lines of segments
# before the one needed are counted too), 8 variants, 16 segments kept from the one needed next
# (a long playlist is read again when they run out, its read stopped once they are kept). Each
# one broken is an error that moves to the next path. Buffers (8 TS packets of segment bytes,
# the line, a spill for a short read) are allocated once per item, in opener().
from binascii import unhexlify

from compat import const, sleep_ms as _sleep_ms, ticks_diff, ticks_ms
from cryptolib import aes
from httpconn import BadResponse, HTTPError, Status, Timeout, reason
from tsdemux import PKT, TS, Demux

MAX_LINE = const(256)
MAX_BODY = const(65536)
MAX_SCAN = const(1048576)
MAX_VARIANTS = const(8)
MAX_SEGS = const(16)
LIVE_START = const(3)   # segments from the end a live presentation starts at
STALL = const(3)        # target durations a live playlist may stand still
WBUF = const(1504)      # 8 TS packets, 94 AES blocks


class Unplayable(BadResponse):
    """What no path can change (a live item without dur): raised at once."""


def _ms(text):
    """'9.97' (seconds, up to a ',') -> 9970 ms."""
    i = text.find(b",")
    if i >= 0:
        text = text[:i]
    try:
        v = float(text)
    except ValueError:
        raise BadResponse("playlist number")
    if v < 0 or v > 86400:
        raise BadResponse("playlist number")
    return int(v * 1000 + 0.5)


def _attr(line, name):
    """The value of attribute name (b"IV=") of a tag line, quotes removed; None if absent."""
    i = line.find(name)
    while i > 0 and line[i - 1] not in b",:":
        i = line.find(name, i + 1)
    if i < 0:
        return None
    i += len(name)
    if line[i:i + 1] == b'"':
        j = line.find(b'"', i + 1)
        return line[i + 1:j] if j > 0 else line[i + 1:]
    j = line.find(b",", i)
    return line[i:j] if j >= 0 else line[i:]


def resolve(base, uri):
    """uri (text) of a playlist at base, as an absolute http(s) URL."""
    if uri.startswith("http://") or uri.startswith("https://"):
        return uri
    i = uri.find(":")
    if i > 0:
        for c in uri[:i]:
            if not (c.isalpha() or c.isdigit() or c in "+.-"):
                break
        else:
            raise BadResponse("unsupported url")  # another scheme
    j = base.find("?")
    if j >= 0:
        base = base[:j]
    if uri.startswith("//"):
        return base[:base.find(":") + 1] + uri
    if uri.startswith("/"):
        j = base.find("/", base.find("//") + 2)
        return (base[:j] if j >= 0 else base) + uri
    return base[:base.rfind("/") + 1] + uri


class Stream:
    """What fetch reads: readinto(buf, n) gives 1..n bytes of the audio ES, 0 at the end."""
    status = 200

    def __init__(self, meta, key, sleep_ms, clock, emit):
        self.meta = meta
        self.key = key
        self.sleep_ms = sleep_ms
        self.clock = clock
        self.emit = emit
        self.wbuf = bytearray(WBUF)
        self.wmv = memoryview(self.wbuf)
        self.lbuf = bytearray(MAX_LINE + 2)
        self.lmv = memoryview(self.lbuf)
        self.spill = bytearray(PKT)
        self.demux = Demux(self._out)
        self.client = None
        self.resp = None
        self.done = True
        # where an on-demand item's current segment starts, for a fetch's next src
        self.mark_seq = -1
        self.mark_es = 0
        self.mark_ms = 0
        self.played_ms = 0

    # -- opening (fetch's opener) -------------------------------------------------------------

    def start(self, client, url, have):
        self.close()
        self.client = client
        self.done = False
        self.have = have
        src = self.meta["src"]
        self.more = src.index(url) + 1 if url in src else len(src)
        self.paths = []
        self.pi = 0
        self.tried = 0
        self.seq = -1          # the next segment's media sequence number; -1: not chosen yet
        self.k0 = -1           # first kept segment's sequence number; -1: none
        self.stale = True      # the current path's playlist is to be (re)loaded
        self.live = False
        self.last_adv = -1     # a live playlist's last segment when it last advanced
        self.es0 = 0           # ES offset in the item of the current segment's start
        self.drop = self.drop0 = self.seg_es = 0
        self.sp = self.se = 0
        self.f = self.q = self.e = 0
        self.eos = False
        self.cipher = None
        self.kid = None
        self._expand(url)

    def _expand(self, url):
        """url's paths added: a master's variants, or url itself (then loaded, the current)."""
        self.pi = len(self.paths)
        self.stale = True
        if not self._load(url, True):
            self.paths.append(url)

    # -- playlists ------------------------------------------------------------------------------

    def _line(self, resp):
        """The next line of the playlist's body (bytes, no line end); None at its end."""
        lb = self.lbuf
        while True:
            i = lb.find(b"\n", self.lp, self.le)
            if i >= 0:
                end = i - 1 if i > self.lp and lb[i - 1] == 13 else i
                if end - self.lp > MAX_LINE:
                    break
                line = bytes(self.lmv[self.lp:end])
                self.lp = i + 1
                return line
            if self.le - self.lp > MAX_LINE:
                break
            if self.leof:
                if self.lp < self.le:
                    line = bytes(self.lmv[self.lp:self.le])
                    self.lp = self.le
                    return line
                return None
            if self.lp:
                k = self.le - self.lp
                lb[0:k] = self.lmv[self.lp:self.le]
                self.lp = 0
                self.le = k
            r = resp.readinto(self.lmv[self.le:], len(lb) - self.le)
            if r == 0:
                self.leof = True
            self.scan += r
            if self.scan > MAX_SCAN:
                raise BadResponse("playlist too large")
            self.le += r
        raise BadResponse("playlist line too long")

    def _load(self, url, top):
        """GET a playlist. A master (only when top): its variants become paths, True. A media
        playlist: its segments from self.seq on kept (-1: the window a start needs), False."""
        resp = self.client.request("GET", url)
        try:
            if resp.status != 200:
                raise Status(resp.status)
            self.lp = self.le = self.scan = 0
            self.leof = False
            if self._line(resp) != b"#EXTM3U":
                raise BadResponse("not a playlist")
            return self._parse(resp, url, top)
        finally:
            resp.close()

    def _parse(self, resp, url, top):
        want = self.seq
        body = 0
        bw = None       # a master's first variant's BANDWIDTH
        inf = False     # an EXT-X-STREAM-INF of that BANDWIDTH waits for its URI
        cur = 0         # the next segment's sequence number
        first = -1      # the playlist's first segment's
        dur = -1        # its EXTINF ms
        iv = None       # the key's IV (None: the sequence number)
        enc = False
        vod = False
        seen = False
        stopped = False
        k0 = -1
        durs, uris, ivs = [], [], []
        self.endlist = False
        self.target = 10000
        while True:
            line = self._line(resp)
            if line is None:
                break
            if not (seen and 0 <= want and cur < want):  # lines of segments skipped: scanned
                body += len(line) + 1
                if body > MAX_BODY:
                    raise BadResponse("playlist too large")
            if not line:
                continue
            if line[0] == 35:  # "#"
                if line.startswith(b"#EXTINF:"):
                    dur = _ms(line[8:])
                    seen = True
                elif line.startswith(b"#EXT-X-STREAM-INF:"):
                    if not top:
                        raise BadResponse("variant is a master playlist")
                    b = _attr(line, b"BANDWIDTH=")
                    if bw is None:
                        bw = b
                    inf = b == bw
                elif line.startswith(b"#EXT-X-TARGETDURATION:"):
                    self.target = _ms(line[22:])
                elif line.startswith(b"#EXT-X-MEDIA-SEQUENCE:"):
                    try:
                        cur = int(line[22:])
                    except ValueError:
                        raise BadResponse("playlist number")
                elif line.startswith(b"#EXT-X-KEY:"):
                    enc, iv = self._key(line)
                elif line.startswith(b"#EXT-X-ENDLIST"):
                    self.endlist = True
                elif line.startswith(b"#EXT-X-PLAYLIST-TYPE:VOD"):
                    vod = True
                    if want < 0 and not seen:
                        want = self._vod_start(cur)
                continue
            if inf:  # a variant's URI
                inf = False
                if len(self.paths) < self.pi + MAX_VARIANTS:
                    self.paths.append(resolve(url, line.decode()))
                continue
            if bw is not None:
                continue
            seen = True
            if first < 0:
                first = cur
            if want < 0 or cur >= want:
                if len(uris) == MAX_SEGS:
                    if want >= 0:  # the window is full and more follow: read no further
                        stopped = True
                        break
                    durs.pop(0)  # a start's window: the last ones
                    uris.pop(0)
                    ivs.pop(0)
                    k0 += 1
                if not uris:
                    k0 = cur
                durs.append(dur if dur > 0 else 0)
                uris.append(line)
                ivs.append(iv if enc else False)
            cur += 1
            dur = -1
        if bw is not None:
            if len(self.paths) == self.pi:
                raise BadResponse("master without variants")
            return True
        self.last = cur - 1       # the last segment's number (as far as read)
        self.full = stopped
        self.k0 = k0
        self.durs, self.uris, self.ivs = durs, uris, ivs
        self.url = url
        self.stale = False
        self.t_load = self.clock()
        if self.seq < 0 and k0 >= 0:
            if self.endlist or vod:
                s = want if want >= 0 else self._vod_start(first)
                if s < k0:  # before a start's window (the last segments): read again from s
                    self.stale = True
            else:
                self.live = True
                if "dur" not in self.meta:
                    raise Unplayable("live hls without dur")
                s = self.last - LIVE_START + 1
                if s < k0:
                    s = k0
                self.drop = self.drop0 = 0
            self.seq = s
        return False

    def _key(self, line):
        """An EXT-X-KEY line: (encrypted, IV or None)."""
        kid = (_attr(line, b"METHOD="), _attr(line, b"URI="))
        if self.kid is None:
            self.kid = kid
        elif kid != self.kid:
            raise BadResponse("key rotation")
        if kid[0] == b"NONE":
            return False, None
        if kid[0] != b"AES-128":
            raise BadResponse("key method %s" % (kid[0] or b"?").decode())
        if self.key is None:
            raise BadResponse("no key for AES-128 segments")
        iv = _attr(line, b"IV=")
        if iv is not None:
            if len(iv) != 34 or iv[:2] not in (b"0x", b"0X"):
                raise BadResponse("bad IV")
            try:
                iv = unhexlify(iv[2:])
            except ValueError:
                raise BadResponse("bad IV")
        return True, iv

    def _vod_start(self, first):
        """On demand: the segment to start at, given the playlist's first; sets the ES bytes to
        drop (fetch's bytes held, less where that segment starts in the item)."""
        self.live = False
        h = self.have
        if h and 0 <= first <= self.mark_seq and self.mark_es <= h:
            self.drop = self.drop0 = h - self.mark_es
            self.es0 = self.mark_es
            self.played_ms = self.mark_ms
            return self.mark_seq
        self.drop = self.drop0 = h
        self.es0 = 0
        self.played_ms = 0
        return first

    def _ensure(self):
        """The current path's playlist holds self.seq; False: the item has ended."""
        while True:
            if self.stale:
                self._load(self.paths[self.pi], False)
                if self.stale:
                    continue
            k0, seq = self.k0, self.seq
            if k0 >= 0:
                if k0 <= seq < k0 + len(self.uris):
                    return True
                if seq < k0:  # slid out of a live window: on at the oldest present
                    if self.emit:
                        self.emit("HLS", (("skipped", k0 - seq),))
                    self.seq = k0
                    self.drop = self.drop0 = 0
                    continue
            self.stale = True
            if k0 >= 0 and self.full:  # more follow those kept
                continue
            if self.endlist:
                return False
            if not self.live:
                raise BadResponse("playlist without segments")
            # live: reload until the playlist reaches seq, at most a target duration apart
            now = self.clock()
            if self.last > self.last_adv:
                self.last_adv = self.last
                self.t_adv = now
            elif ticks_diff(now, self.t_adv) >= STALL * self.target:
                raise Timeout("playlist stalled")
            w = self.target // 2 - ticks_diff(now, self.t_load)
            if w > 0:
                self.sleep_ms(w)

    # -- paths ----------------------------------------------------------------------------------

    def _fail(self, e):
        """The current path failed for self.seq: on to the next (raises when none is left)."""
        if isinstance(e, Unplayable):
            raise e
        if self.emit:
            self.emit("HLS", (("seq", self.seq), ("path", self.pi), ("url", self.paths[self.pi]),
                              ("why", reason(e))))
        self._drop_segment()
        self.tried += 1
        self.stale = True
        self.kid = None
        self.last_adv = -1
        while self.tried >= len(self.paths):
            if self.more >= len(self.meta["src"]):
                raise e
            url = self.meta["src"][self.more]
            self.more += 1
            try:
                self._expand(url)
                return
            except HTTPError as e2:
                if isinstance(e2, Unplayable):
                    raise
                e = e2
                self.tried += 1
                self.paths.append(url)  # a path that failed
        self.pi = (self.pi + 1) % len(self.paths)

    def _drop_segment(self):
        if self.resp is not None:
            self.resp.close()
            self.resp = None
        self.f = self.q = self.e = 0
        self.eos = False
        self.demux.reset()
        # the ES bytes the failed try gave are not given again
        self.drop = self.drop0 if self.drop0 > self.seg_es else self.seg_es
        self.seg_es = 0

    # -- segments -------------------------------------------------------------------------------

    def _open_seg(self):
        if not self._ensure():
            return False
        i = self.seq - self.k0
        if not self.live and self.mark_seq != self.seq:
            self.mark_seq, self.mark_es, self.mark_ms = self.seq, self.es0, self.played_ms
        resp = self.client.request("GET", resolve(self.url, self.uris[i].decode()))
        if resp.status != 200:
            resp.close()
            raise Status(resp.status)
        self.resp = resp
        self.seg_ms = self.durs[i]
        iv = self.ivs[i]
        self.cipher = None
        if iv is not False:
            if iv is None:
                iv = self.seq.to_bytes(16, "big")
            self.cipher = aes(self.key, 2, iv)
        self.demux.reset()
        self.drop0 = self.drop
        self.seg_es = 0
        return True

    def _end_seg(self):
        self.demux.end()
        self.resp = None
        self.played_ms += self.seg_ms
        self.es0 += self.seg_es
        self.seg_es = 0
        self.drop0 = self.drop
        self.seq += 1
        self.tried = 0
        self.f = self.q = self.e = 0
        self.eos = False
        d = self.meta.get("dur")
        if d is not None and self.played_ms >= d:
            self.done = True

    def _pump(self):
        """One step of the segment: ES into the caller's buffer (maybe none)."""
        if self.resp is None and not self.eos:
            if not self._open_seg():
                self.done = True
                return
        f, q = self.f, self.q
        dm = self.demux
        if q > f:
            if not dm.mode:
                dm.begin(self.wbuf[f])
            if dm.mode == TS:  # whole packets, no more than the room takes
                k = (q - f) // PKT
                r = (self.room - self.got) // 184
                if k > r:
                    k = r if r else 1
                if k:
                    dm.feed(self.wmv, f, f + k * PKT)
                    self.f = f + k * PKT
                    return
            else:
                k = self.room - self.got
                if k > q - f:
                    k = q - f
                dm.feed(self.wmv, f, f + k)
                self.f = f + k
                return
        if self.eos:
            if q > f:
                dm.feed(self.wmv, f, q)  # less than a packet: end() refuses it
            self._end_seg()
            return
        # more of the segment: what is left moves to the front, the read lands behind it
        e = self.e
        if f:
            self.wbuf[0:e - f] = self.wmv[f:e]
            e -= f
            q -= f
            self.f = 0
        resp = self.resp
        r = resp.readinto(self.wmv[e:], WBUF - e)
        e += r
        if r == 0 or resp.done:
            self.eos = True
            self.resp = None
        c = self.cipher
        if c is None:
            q = e
        else:
            m = (e - q) - (e - q) % 16
            if self.eos:
                if (e - q) % 16 or e - q < 16:
                    raise BadResponse("segment not whole blocks")
            elif m == e - q:
                m -= 16  # the last block waits until the segment's end is known
            if m > 0:
                v = self.wmv[q:q + m]
                c.decrypt(v, v)
                q += m
            if self.eos:
                p = self.wbuf[q - 1]
                if p < 1 or p > 16:
                    raise BadResponse("padding")
                for j in range(q - p, q):
                    if self.wbuf[j] != p:
                        raise BadResponse("padding")
                q -= p
                e = q
        self.q, self.e = q, e

    def _out(self, v):
        """The demuxer's output: dropped while bytes given before are owed, then into the
        caller's buffer, the rest (a read shorter than a packet's payload) into the spill."""
        n = len(v)
        self.seg_es += n
        d = self.drop
        if d:
            if d >= n:
                self.drop = d - n
                return
            self.drop = 0
            v = v[d:]
            n -= d
        k = self.room - self.got
        if k > n:
            k = n
        if k:
            self.dst[self.got:self.got + k] = v if k == n else v[:k]
            self.got += k
        if k < n:
            self.spill[self.se:self.se + n - k] = v[k:]
            self.se += n - k

    def readinto(self, buf, n=-1):
        if n < 0:
            n = len(buf)
        if self.sp < self.se:
            k = self.se - self.sp
            if k > n:
                k = n
            buf[0:k] = self.spill[self.sp:self.sp + k]
            self.sp += k
            if self.sp == self.se:
                self.sp = self.se = 0
            return k
        self.dst = buf
        self.room = n
        self.got = 0
        while not self.got and not self.done:
            try:
                self._pump()
            except HTTPError as e:
                self._fail(e)
        self.dst = None
        return self.got

    def close(self):
        if self.resp is not None:
            self.resp.close()
            self.resp = None
        self.done = True


def opener(meta, key=None, sleep_ms=_sleep_ms, clock=ticks_ms, emit=None):
    """fetch's opener for an HLS item: open(client, url, have) -> (stream, bytes to skip: 0).
    The stream and its buffers are made once, here, and reused for each src fetch opens."""
    s = Stream(meta, key, sleep_ms, clock, emit)

    def open_hls(client, url, have):
        s.start(client, url, have)  # its playlist failing: fetch's FAIL, and on to the next src
        return s, 0

    return open_hls
