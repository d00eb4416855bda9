# Fetch one item with failover (PROTOCOL.md "File servers", DESIGN.md flow 4): src[0], then each
# alternate; after a mid-stream failure the next source is asked for the bytes from the one
# reached. One caller-owned buffer; the loop allocates nothing per full chunk. A secure item
# passes through a secure.Decryptor, which works on whole 16-byte blocks: the bytes of a block
# not yet complete stay at the front of the buffer (`carry`) and the next read lands after them.
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


class _Corrupt(Exception):
    pass


class SecureError(Exception):
    """Raised by a Decryptor (secure.py defines it as this one, so that fetch need not import
    secure and cryptolib for plain items)."""


def _content_range_start(value):
    # "bytes <start>-<end>/<size>"
    if not value or not value.startswith("bytes "):
        return -1
    i = value.find("-")
    try:
        return int(value[6:i])
    except ValueError:
        return -1


def fetch(client, meta, sink, buf, emit=None, resume=False, dec=None):
    """Stream meta's sources into sink; returns a Result. dec: a secure.Decryptor or None."""
    t0 = ticks_ms()
    res = Result()
    size = meta["size"]
    want_hash = meta["sha256"].lower()
    mv = memoryview(buf)
    blen = len(buf)
    blk = 1
    after = None  # after[k]: buf from byte k on, for a read behind k carried bytes
    if dec is not None:
        blk = dec.blk
        if blk > 1:
            after = [mv[k:] for k in range(blk)]
    hasher = hashlib.sha256()
    check_stored = True
    have = sink.begin(meta, dec.plain if dec else hasher, buf, resume)
    if dec is not None and have:
        # the sink holds original bytes: what they were stored as cannot be hashed again, so
        # this run checks only the original's sha256
        check_stored = False
        have = dec.resume_at(have) if have < dec.plain_size else size
        if have < 0:
            sink.restart()
            dec.reset()
            have = 0
            check_stored = True
    if have:
        res.resumed = 1
    # short reads: a slice costs a small allocation, so the last few are kept; a network often
    # repeats a few short sizes (a segment's worth; with blocks carried over, a short cycle)
    short_n = [0, 0, 0, 0]
    short_v = [None, None, None, None]
    short_i = 0
    srcs = meta["src"]
    if have == size and size:
        # the sink already holds it all (a reboot before the report): nothing left to fetch,
        # and no source served it in this run (src stays None rather than guessing one)
        if (dec.verified() if dec else hexlify(hasher.digest()) == want_hash):
            res.status, res.verified = "played", 1
            srcs = ()
        else:
            sink.restart()
            have = 0
            hasher = hashlib.sha256()
            check_stored = True
            if dec:
                dec.reset()
    carry = 0
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
                raise _SourceFailed("dropped")
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
                n = size - have
                if skip:
                    n = skip
                if n > blen - carry:
                    n = blen - carry
                try:
                    n = resp.readinto(after[carry] if carry else buf, n)
                except httpclient.Dropped:
                    raise _SourceFailed("dropped")
                if n == 0:
                    raise _SourceFailed("dropped")
                if skip:
                    skip -= n
                    continue
                total = carry + n
                m = total - total % blk if blk > 1 else total
                if m:
                    if m == blen:
                        view = mv
                    else:
                        view = None
                        for k in range(4):
                            if short_n[k] == m:
                                view = short_v[k]
                                break
                        if view is None:
                            view = short_v[short_i] = mv[:m]
                            short_n[short_i] = m
                            short_i = (short_i + 1) & 3
                    hasher.update(view)
                    if dec is None:
                        sink.write(view)
                    else:
                        dec.feed(view, have - carry, sink)
                    for k in range(total - m):  # at most 15 bytes of an unfinished block
                        buf[k] = buf[m + k]
                carry = total - m
                have += n
            if not resp.done:
                resp.close()  # the body holds more than size: do not reuse the connection
            if (check_stored and hexlify(hasher.digest()) != want_hash) \
                    or (dec is not None and not dec.verified()):
                raise _Corrupt()
            res.status = "played"
            res.src = url
            res.verified = 1
            break
        except _Corrupt:
            why = "sha256"
            at = have
        except SecureError as e:
            why = "bad response: %s" % e.args[0]
            at = have
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
        if at >= 0:
            # bad bytes were already written: the next source starts the item over
            sink.restart()
            have = 0
            hasher = hashlib.sha256()
            check_stored = True
            if dec is not None:
                dec.reset()
        elif carry:
            have -= carry  # an unfinished block is fetched again from the next source
        carry = 0
        if why == "dropped":
            why = "dropped at %d" % have
        res.errors.append([url, why])
        if emit:
            emit("FAIL", (("id", meta["id"]), ("src", url), ("why", why),
                          ("at", have if at < 0 else at)))
    sink.end(res.status == "played")
    res.bytes = have
    res.ms = ticks_diff(ticks_ms(), t0)
    return res
