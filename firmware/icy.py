# A live item's source (PROTOCOL.md "Live items"): an Icecast or Shoutcast mount, asked for its
# in-band titles (Icy-MetaData: 1). Live(on_title).open is fetch's opener for it: the stream is
# played from where the mount is now (a live stream cannot be resumed at a byte: `have` is
# ignored), and IcyStream hands fetch the audio bytes with the metadata blocks taken out: after
# every icy-metaint audio bytes come one length byte L and 16*L bytes of text,
# "StreamTitle='...';StreamUrl='...';", of which the first MAX_META are kept (the rest are read
# and dropped: a block is at most 4080 bytes) and the title is cut to TITLE_CHARS.
from compat import const
from httpconn import BadResponse, Dropped, Status

MAX_META = const(256)
TITLE_CHARS = const(64)
MAX_METAINT = const(1 << 20)   # audio bytes between blocks (Icecast sends 16000)
HEADERS = {"Icy-MetaData": "1"}


def title_of(meta):
    """The StreamTitle of a metadata block's text (bytes), or None when it has none."""
    i = meta.find(b"StreamTitle='")
    if i < 0:
        return None
    i += 13
    j = meta.find(b"';", i)
    if j < 0:  # cut by MAX_META, or ended without ';'
        j = len(meta)
        while j > i and meta[j - 1] in (0, 39):   # NUL padding, a quote
            j -= 1
    raw = meta[i:j]
    try:
        t = raw.decode()
    except UnicodeError:  # Shoutcast titles are often Latin-1: keep what is plain ASCII
        t = "".join(chr(b) if 32 <= b < 127 else "?" for b in raw)
    t = "".join(c if c >= " " and c != "\x7f" else " " for c in t)
    return t[:TITLE_CHARS]


class IcyStream:
    """A mount's answer as fetch reads it: readinto gives audio bytes only."""

    def __init__(self, resp, metaint, mbuf, on_title):
        self.resp = resp
        self.status = resp.status
        self.metaint = metaint  # 0: the mount sends no metadata
        self.left = metaint     # audio bytes before the next block
        self.mbuf = mbuf
        self.on_title = on_title
        self.title = None

    @property
    def done(self):
        return self.resp.done

    def close(self):
        self.resp.close()

    def readinto(self, buf, n=-1):
        if n < 0:
            n = len(buf)
        if self.metaint:
            if not self.left:
                self._block()
                self.left = self.metaint
            if n > self.left:
                n = self.left
        got = self.resp.readinto(buf, n)
        self.left -= got
        return got

    def _read(self, into, n):
        got = self.resp.readinto(into, n)
        if not got:
            raise Dropped("closed")  # a stream that ends inside a block has dropped
        return got

    def _block(self):
        mv = memoryview(self.mbuf)
        self._read(mv, 1)
        left = self.mbuf[0] * 16
        if not left:
            return   # no change of title
        kept = 0
        keep = MAX_META - 16   # the last 16 bytes take what is read and dropped
        while left:
            if kept < keep:
                k = self._read(mv[kept:], min(left, keep - kept))
                kept += k
            else:
                k = self._read(mv[keep:], min(left, 16))
            left -= k
        t = title_of(bytes(mv[:kept]))
        if t is not None and t != self.title:
            self.title = t
            if self.on_title is not None:
                self.on_title(t)


class Live:
    """The opener of live items. on_title(text): a mount's new StreamTitle (or None)."""

    def __init__(self, on_title=None):
        self.mbuf = bytearray(MAX_META)
        self.on_title = on_title

    def open(self, client, url, have):
        resp = client.request("GET", url, headers=HEADERS)
        if resp.status != 200:
            resp.close()
            raise Status(resp.status)
        mi = resp.headers.get("icy-metaint")
        metaint = 0
        if mi is not None:
            mi = mi.strip()
            if not mi.isdigit() or len(mi) > 8 or not 0 < int(mi) <= MAX_METAINT:
                resp.close()
                raise BadResponse("bad icy-metaint")
            metaint = int(mi)
        return IcyStream(resp, metaint, self.mbuf, self.on_title), 0
