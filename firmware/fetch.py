# Fetch one item with failover (PROTOCOL.md "File servers", DESIGN.md flow 4): src[0], then each
# alternate; after a mid-stream failure the next source is asked for the bytes from the one
# reached. One caller-owned buffer; the loop allocates nothing per full chunk.
import hashlib

import httpclient
from compat import hexlify, ticks_diff, ticks_ms


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


class _SourceFailed(Exception):
    pass


def _content_range_start(value):
    # "bytes <start>-<end>/<size>"
    if not value or not value.startswith("bytes "):
        return -1
    i = value.find("-")
    try:
        return int(value[6:i])
    except ValueError:
        return -1


def fetch(client, meta, sink, buf, emit=None, resume=False):
    """Stream meta's sources into sink; returns a Result."""
    t0 = ticks_ms()
    res = Result()
    size = meta["size"]
    want_hash = meta["sha256"].lower()
    mv = memoryview(buf)
    blen = len(buf)
    hasher = hashlib.sha256()
    have = sink.begin(meta, hasher, buf, resume)
    if have:
        res.resumed = 1
    short_n = 0
    short_view = None
    srcs = meta["src"]
    if have == size and size:
        # the sink already holds it all (a reboot before the report): nothing left to fetch,
        # and no source served it in this run (src stays None rather than guessing one)
        if hexlify(hasher.digest()) == want_hash:
            res.status, res.verified = "played", 1
            srcs = ()
        else:
            sink.restart()
            have = 0
            hasher = hashlib.sha256()
    for i in range(len(srcs)):
        url = srcs[i]
        if i:
            res.failovers += 1
        resp = None
        at = -1
        try:
            try:
                resp = client.request("GET", url, range_from=have if have else None)
            except httpclient.Dropped:
                raise _SourceFailed("dropped at %d" % have)
            skip = 0
            if resp.status == 200:
                skip = have  # whole file: skip what we already hold
            elif resp.status == 206 and have:
                if _content_range_start(resp.headers.get("content-range")) != have:
                    raise _SourceFailed("bad response: content-range")
                res.resumed = 1
            else:
                raise _SourceFailed(str(resp.status))
            while have < size:
                n = size - have + skip
                if n > blen:
                    n = blen
                try:
                    n = resp.readinto(buf, n)
                except httpclient.Dropped:
                    raise _SourceFailed("dropped at %d" % have)
                if n == 0:
                    raise _SourceFailed("dropped at %d" % have)
                if skip:
                    if n <= skip:
                        skip -= n
                        continue
                    view = mv[skip:n]
                    skip = 0
                elif n == blen:
                    view = mv
                else:
                    # short read: a slice costs a small allocation, so keep the last one; a
                    # network often repeats the same short size (a segment's worth)
                    if n != short_n:
                        short_view = mv[:n]
                        short_n = n
                    view = short_view
                hasher.update(view)
                sink.write(view)
                have += len(view)
            if not resp.done:
                resp.close()  # the body holds more than size: do not reuse the connection
            if hexlify(hasher.digest()) != want_hash:
                # bad bytes were already written: the next source starts the item over
                at = have
                sink.restart()
                have = 0
                hasher = hashlib.sha256()
                raise _SourceFailed("sha256")
            res.status = "played"
            res.src = url
            res.verified = 1
            break
        except _SourceFailed as e:
            why = e.args[0]
        except httpclient.Refused:
            why = "refused"
        except httpclient.Timeout:
            why = "timeout"
        except httpclient.BadResponse as e:
            why = "bad response: %s" % e.args[0]
        except httpclient.HTTPError as e:
            why = "bad response: %s" % (e.args[0] if e.args else "error")
        if resp is not None:
            resp.close()
        res.errors.append([url, why])
        if emit:
            emit("FAIL", (("id", meta["id"]), ("src", url), ("why", why),
                          ("at", have if at < 0 else at)))
    sink.end(res.status == "played")
    res.bytes = have
    res.ms = ticks_diff(ticks_ms(), t0)
    return res
