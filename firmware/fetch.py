# Fetch one item with failover (PROTOCOL.md "File servers", DESIGN.md flow 4): src[0], then each
# alternate; after a mid-stream failure the next source is asked for the bytes from the one
# reached. Three parts: Progress (how far the item is, and the one way to start it over), its
# byte loop take() (one source's body through the one caller-owned buffer into the sink,
# allocating nothing per full chunk), and fetch(), the loop over sources.
#
# A source too slow to play from is abandoned as one that failed ("slow"), the next resuming at
# the byte reached: with an alternate left, a source that delivered fewer than rate x sink.speed
# bytes per second over a window of the read timeout (time spent in the sink and hashing not
# counted) while, at the window's end, the sink's buffer is under its low-water mark
# (sink.low(); a sink without a buffer is always low) is too slow. An item without a rate is not
# judged.
#
# The item, as far as fetching goes (the compact document, PROTOCOL.md "Next item"):
#   id, pos   what FAIL lines and the report name
#   src       its sources, primary first; opener(client, url, have) opens one at byte `have`
#             (open_range: GET with Range; a playlist of segments would be another opener)
#   size      bytes to fetch; absent (a live stream): until the source's body ends
#   sha256    of the stored bytes; absent: not checked (then not `verified`)
#   sec       a secure item: the caller passes its secure.Decryptor as dec
#   rate      its playback rate, bytes per second; absent: not known (played unpaced, never slow)
# What the bytes become (played at a rate, decoded, shown for a duration) is the sink's.
#
# A secure item passes through a Decryptor, which works on whole 16-byte blocks: the bytes of a
# block not yet complete stay at the front of the buffer (`carry`) and the next read lands after
# them.
#
# One sha256 per byte: a secure item is checked by the original's (the Decryptor's, against
# sec.plain_sha256), not by its stored bytes' as well. With the key, IV and piece the meta server
# sent (the key answer carries a tag), CBC decryption maps stored bytes of the item's size one to
# one onto originals, so stored bytes altered anywhere outside the withheld piece give another
# original and the original's sha256 catches them, as it catches a wrong piece or key, which the
# stored bytes' cannot. It is also the only hash that can follow what the sink holds: after a
# reboot the sink feeds the original bytes it kept into it (begin()), the stored ones are gone; a
# failover mid-item carries it on to the next source, whose bytes may differ from the first's
# and are caught the same way at the end. The stored bytes at the withheld piece's place are
# never used (the piece replaces them): what a source holds there is not checked. The stored
# sha256 still names the item in the cache, whose filler checks it when it fills an entry.
import hashlib

from compat import hexlify, ticks_diff, ticks_ms
from httpconn import BadResponse, Dropped, HTTPError, SecureError, Slow, Status, reason


class Result:
    def __init__(self):
        self.status = "failed"
        self.bytes = 0
        self.src = None
        self.errors = []      # [url, reason] per source failure, in order
        self.failovers = 0
        self.resumed = 0
        self.verified = 0
        self.ms = 0
        self.underruns = -1   # times the sink ran dry mid-item; -1: the sink does not count
        self.underrun_ms = 0
        self.parts = []       # [url, bytes] of each source that delivered bytes, in order


def open_range(client, url, have):
    """GET url from byte `have` on: (response, leading bytes to skip). A 200 answer to a Range
    request is the whole file: the bytes already held are skipped."""
    resp = client.request("GET", url, range_from=have if have else None)
    st = resp.status
    if st == 200:
        return resp, have
    if st == 206 and have:
        cr = resp.headers.get("content-range", "")  # "bytes <start>-<end>/<size>"
        if cr.startswith("bytes %d-" % have):
            return resp, 0
        resp.close()
        raise BadResponse("content-range")
    resp.close()
    raise Status(st)


class Progress:
    """One item on its way into the sink: the bytes held, their hash, a secure item's state.
    The player keeps one for every item (item() sets it up): its attributes are allocated once,
    not per item in a heap that streaming has fragmented."""

    def __init__(self, clock=ticks_ms, window=2000):
        self.clock = clock
        self.window = window  # ms over which a source's bytes are counted (the read timeout)
        self.need = 0         # bytes a source must deliver per window; 0: not judged
        self.item(None, None)

    def item(self, meta, sink, dec=None):
        self.meta = meta
        self.sink = sink
        self.dec = dec
        self.restart(False)

    def restart(self, drop=True):
        """Drop everything held of the item: the next byte the sink gets is byte 0 again."""
        if drop:
            self.sink.restart()
            if self.dec is not None:
                self.dec.reset()
        self.have = 0
        self.carry = 0
        # of the stored bytes; None when they are not checked: a secure item, whose original's
        # sha256 the Decryptor keeps (above)
        self.hasher = hashlib.sha256() if self.meta is not None and self.dec is None else None

    def begin(self, buf, resume):
        """The sink's begin(): the bytes it already holds (a reboot mid-item), from which the
        fetch continues."""
        dec = self.dec
        have = self.sink.begin(self.meta, dec.plain if dec else self.hasher, buf, resume)
        if dec is not None and have:  # the sink holds original bytes
            have = dec.resume_at(have) if have < dec.plain_size else self.meta["size"]
        self.have = have
        if have < 0:
            self.restart()
        return self.have

    def intact(self):
        """True unless a hash says the bytes held are not the item's."""
        if self.dec is not None and not self.dec.verified():
            return False
        want = self.meta.get("sha256")
        return self.hasher is None or not want \
            or hexlify(self.hasher.digest()) == want.lower()

    def take(self, resp, skip, buf, after, judge=False):
        """The byte loop: resp's body into the sink through buf until the item is complete (a
        live one: until the body ends), after dropping `skip` leading bytes; after[k]: buf from
        byte k on (None until needed), for a read behind k carried bytes. A failing source raises
        an HTTPError; judge: a source too slow to play from raises Slow (another is left).
        Once the bytes read with the head are used up, an HTTP body of known length is read
        straight from its socket (resp.raw()): a chunk costs the socket's readinto, the hash's
        update and the sink's write, with no Python call between fetch and the socket."""
        mv = full = memoryview(buf)
        blen = len(buf)
        sink = self.sink
        if 0 < sink.chunk < blen:
            blen = sink.chunk  # reads no longer than the sink takes at once (a multiple of 16)
            full = mv[:blen]
        write = sink.write
        dec = self.dec
        blk = dec.blk if dec is not None else 1
        # short reads: a slice costs a small allocation, so the last few are kept; a network often
        # repeats a few short sizes (a segment's worth; with blocks carried over, a short cycle)
        short_n = [0, 0, 0, 0]
        short_v = [None, None, None, None]
        short_i = 0
        size = self.meta.get("size", -1)  # -1: unknown (live)
        hasher = self.hasher
        clock = self.clock
        need = self.need if judge else 0
        if need:
            window = self.window
            t_w = clock()  # the window's start; got: bytes since; busy: ms not the source's
            got = busy = 0
        read = resp.readinto
        raw = getattr(resp, "raw", None) if size >= 0 else None
        conn = None  # set once reading straight from the socket; k: the bytes read so from it
        k = 0
        have = self.have
        carry = self.carry
        try:
            while size < 0 or have < size:
                if raw is not None:
                    c = raw(skip + size - have)
                    if c is None:
                        raw = None
                    elif c:
                        raw = None
                        conn = c
                        read = c.rd
                        k = skip + size - have
                n = blen - carry
                if skip:
                    if n > skip:
                        n = skip
                elif size >= 0 and n > size - have:
                    n = size - have
                if carry:
                    into = after[carry]
                    if into is None:  # made once per item and carry, as a carry first occurs
                        into = after[carry] = mv[carry:]
                else:
                    into = buf
                try:
                    n = read(into, n)
                except (OSError, ValueError) as e:
                    if conn is None:
                        raise
                    raise conn.error(e)
                if n is None:  # straight from a socket that has nothing yet
                    conn.wait_read()
                    continue
                if n == 0:
                    if size < 0:
                        return
                    raise Dropped("closed")
                if need:
                    now = clock()
                    got += n
                    if ticks_diff(now, t_w) - busy >= window:
                        if got < need and sink.low():
                            raise Slow("slow")
                        t_w = now
                        got = busy = 0
                if skip:
                    skip -= n
                    continue
                total = carry + n
                m = total - total % blk if blk > 1 else total
                if m:
                    if m == blen:
                        view = full
                    else:
                        view = None
                        for i in range(4):
                            if short_n[i] == m:
                                view = short_v[i]
                                break
                        if view is None:
                            view = short_v[short_i] = mv[:m]
                            short_n[short_i] = m
                            short_i = (short_i + 1) & 3
                    if dec is None:
                        if hasher is not None:
                            hasher.update(view)
                        write(view)
                    else:
                        dec.feed(view, have - carry, sink)
                    if need:  # hashing and the sink's time are not the source's
                        busy += ticks_diff(clock(), now)
                    if total > m:
                        for i in range(total - m):  # at most 15 bytes of an unfinished block
                            buf[i] = buf[m + i]
                carry = total - m
                have += n
        finally:
            self.have = have
            self.carry = carry
        if conn is not None:
            resp.took(k)


def fetch(client, meta, sink, buf, emit=None, resume=False, dec=None, clock=ticks_ms,
          opener=open_range, prog=None):
    """Stream meta's sources into sink; returns a Result. dec: a secure.Decryptor or None;
    emit(tag, pairs): FAIL lines; clock: ticks in ms; opener: how a source is opened; prog:
    a Progress to reuse."""
    t0 = clock()
    res = Result()
    if prog is None:
        prog = Progress()
    prog.item(meta, sink, dec)
    rate = meta.get("rate")
    # a stream arrives at the rate it plays: its sources are judged by their stalls alone
    prog.need = int(rate * sink.speed * prog.window // 1000) if rate and "stream" not in meta else 0
    after = None
    if dec is not None and dec.blk > 1:  # its views made as needed, once per item
        after = [None] * dec.blk
    if prog.begin(buf, resume):
        res.resumed = 1
    srcs = meta["src"]
    if prog.have and prog.have == meta.get("size"):
        # the sink already holds it all (a reboot before the report): nothing left to fetch,
        # and no source served it in this run (src stays None rather than guessing one)
        if prog.intact():
            res.status, res.verified = "played", 1
            srcs = ()
        else:
            prog.restart()
    for i in range(len(srcs)):
        url = srcs[i]
        if i:
            res.failovers += 1
        resp = None
        over = True  # the bytes written are bad: the next source starts the item over
        start = prog.have
        try:
            resp, skip = opener(client, url, prog.have)
            if prog.have and not skip:
                res.resumed = 1
            prog.take(resp, skip, buf, after, i < len(srcs) - 1)
            if not resp.done:
                resp.close()  # the body holds more than size: do not reuse the connection
            if prog.have > start:
                res.parts.append([url, prog.have - start])
            if prog.intact():
                res.status, res.src = "played", url
                res.verified = 1 if dec is not None or meta.get("sha256") else 0
                break
            why = "sha256"
        except HTTPError as e:
            why = reason(e)
            over = isinstance(e, SecureError)
        if resp is not None:
            resp.close()
        at = prog.have
        if at > start and not (res.parts and res.parts[-1][0] is url):
            res.parts.append([url, at - start])
        if over:
            prog.restart()
        else:
            at -= prog.carry  # an unfinished block is fetched again from the next source
            prog.have = at
            prog.carry = 0
            if why == "dropped":
                why = "dropped at %d" % at
        res.errors.append([url, why])
        if emit:
            emit("FAIL", (("id", meta["id"]), ("src", url), ("why", why), ("at", at)))
    sink.end(res.status == "played")
    res.underruns = sink.underruns
    res.underrun_ms = sink.underrun_ms
    res.bytes = prog.have
    res.ms = ticks_diff(clock(), t0)
    prog.item(None, None)  # nothing of the item kept until the next
    return res
