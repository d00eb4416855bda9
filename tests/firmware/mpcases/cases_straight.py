# A body read straight from its socket (fetch's byte loop once the bytes read with the head are
# used: Response.raw), over real loopback sockets and fake ones; and a secure item checked by its
# original's sha256 alone. Both interpreters; nothing here is timed.
import gc
import hashlib

import httpclient
import httpconn
import sinks
from compat import hexlify
from cryptolib import aes
from fakesock import FakeSock, Opener, response
from fetch import fetch
from loopback import listener
from secure import Decryptor

A = ("127.0.0.1", 8101)
B = ("127.0.0.1", 8104)
UA = "http://127.0.0.1:8101/m/a.bin"
UB = "http://127.0.0.1:8104/mirror/a.bin"
BODY = bytes(range(251)) * 40  # 10040 bytes
HEAP = "128K"  # the body, its copies in fake sockets and the sinks, beside the firmware


def sha(data):
    h = hashlib.sha256()
    h.update(data)
    return hexlify(h.digest())


class RecSink(sinks.Sink):
    """Keeps what it is given in one buffer allocated up front (no growing in a small heap)."""

    def __init__(self, size=len(BODY)):
        self.buf = bytearray(size)
        self.n = 0
        self.restarts = 0

    def write(self, mv):
        self.buf[self.n:self.n + len(mv)] = mv
        self.n += len(mv)

    def restart(self):
        self.restarts += 1
        self.n = 0

    @property
    def data(self):
        return self.buf[:self.n]


class PairOpener:
    """HTTPClient opener: A is a real loopback connection whose server side has `sent` queued
    (then nothing more, or closed when `close`); B a FakeSock."""

    def __init__(self, sent, close, b):
        self.sent = sent
        self.close = close
        self.b = b
        self.srv = None
        self.cli = None

    def __call__(self, host, port, timeout_ms):
        if (host, port) == B:
            return self.b
        lst, p = listener()
        try:
            self.cli = httpconn.connect("127.0.0.1", p, 1000)
            self.srv, _ = lst.accept()
        finally:
            lst.close()
        self.srv.setblocking(True)
        mv = memoryview(self.sent)
        off = 0
        while off < len(self.sent):  # the kernel's buffers hold it all (under 64 KiB)
            off += self.srv.send(mv[off:])
        if self.close:
            self.srv.close()
            self.srv = None
        return self.cli

    def done(self):
        if self.srv is not None:
            self.srv.close()


def _head(n):
    return ("HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % n).encode()


def _rest_from(at):
    return FakeSock(response(206, BODY[at:], [
        "Content-Length: %d" % (len(BODY) - at),
        "Content-Range: bytes %d-%d/%d" % (at, len(BODY) - 1, len(BODY))]))


def _fetch(opener, read_timeout=0.2):
    c = httpclient.HTTPClient(1.0, read_timeout, opener=opener)
    meta = {"id": 5, "pos": 0, "size": len(BODY), "sha256": sha(BODY), "src": [UA, UB]}
    sink = RecSink()
    events = []
    try:
        res = fetch(c, meta, sink, bytearray(4096), lambda t, p: events.append((t, dict(p))))
    finally:
        opener.done()
    return res, sink, events


def test_a_stall_read_straight_from_the_socket_times_out_and_the_next_source_resumes():
    # 6000 of 10040 body bytes, then nothing: most of them are read straight from the socket
    # (the head's read holds a few hundred), and the stall is one on that path
    rest = _rest_from(6000)
    opener = PairOpener(_head(len(BODY)) + BODY[:6000], False, rest)
    res, sink, events = _fetch(opener)
    assert res.errors == [[UA, "timeout"]], res.errors
    assert events[0][1]["at"] == 6000
    assert b"Range: bytes=6000-\r\n" in rest.sent
    assert (res.status, res.verified, res.resumed) == ("played", 1, 1)
    assert bytes(sink.data) == BODY and sink.restarts == 0


def test_a_body_closed_early_on_the_socket_is_dropped_at_the_byte_reached():
    rest = _rest_from(4500)
    opener = PairOpener(_head(len(BODY)) + BODY[:4500], True, rest)
    res, sink, events = _fetch(opener)
    assert res.errors == [[UA, "dropped at 4500"]], res.errors
    assert res.status == "played" and res.verified == 1 and bytes(sink.data) == BODY


def test_raw_waits_for_the_bytes_read_with_the_head_and_refuses_what_it_cannot_read_straight():
    def answer(data):
        c = httpclient.HTTPClient(1.0, 1.0, opener=Opener({A: [FakeSock(data)]}))
        return c.request("GET", UA)
    resp = answer(response(200, BODY[:1000], ["Content-Length: 1000"]))
    assert resp.raw(1000) == 0   # body bytes came with the head: they go first
    buf = bytearray(2000)
    n = resp.readinto(buf)
    assert 0 < n < 1000 and bytes(buf[:n]) == BODY[:n]
    assert resp.raw(1000 - n) is resp.conn
    assert resp.raw(1001 - n) is None   # more than the body holds
    chunked = answer(response(200, b"3\r\nabc\r\n0\r\n\r\n", ["Transfer-Encoding: chunked"]))
    assert chunked.raw(1) is None
    to_close = answer(b"HTTP/1.1 200 OK\r\n\r\n" + BODY[:100])
    assert to_close.raw(1) is None


def test_a_body_read_straight_leaves_the_connection_kept_alive_for_the_next_item():
    one, two = BODY[:4500], BODY[4500:]
    sock = FakeSock(response(200, one, ["Content-Length: %d" % len(one)]) +
                    response(200, two, ["Content-Length: %d" % len(two)]))
    opener = Opener({A: [sock]})
    c = httpclient.HTTPClient(1.0, 1.0, opener=opener)
    for i, body in enumerate((one, two)):
        sink = RecSink()
        res = fetch(c, {"id": i, "pos": i, "size": len(body), "sha256": sha(body), "src": [UA]},
                    sink, bytearray(4096))
        assert res.status == "played" and res.verified == 1 and bytes(sink.data) == body
    assert opener.opened == [A]   # one connection for both


def test_a_body_longer_than_the_item_is_cut_at_its_size_and_the_connection_closed():
    sock = FakeSock(response(200, BODY + b"more", ["Content-Length: %d" % (len(BODY) + 4)]))
    c = httpclient.HTTPClient(1.0, 1.0, opener=Opener({A: [sock]}))
    sink = RecSink()
    res = fetch(c, {"id": 1, "pos": 0, "size": len(BODY), "sha256": sha(BODY), "src": [UA]},
                sink, bytearray(4096))
    assert res.status == "played" and bytes(sink.data) == BODY
    assert sock.closed and c.idle is None


# A secure item: one sha256 per byte, the original's (fetch.py says why)
KEY = bytes(range(1, 17))
IV = bytes(range(40, 56))
PLAIN = BODY[:5001]
OFF, LN = 2000, 500


def _secure():
    full = bytearray(PLAIN + bytes([16 - len(PLAIN) % 16]) * (16 - len(PLAIN) % 16))
    aes(KEY, 2, IV).encrypt(full, full)
    piece = bytes(full[OFF:OFF + LN])
    stored = bytes(full[:OFF]) + bytes(LN) + bytes(full[OFF + LN:])
    meta = {"id": 9, "pos": 0, "size": len(stored), "sha256": sha(stored), "src": [UA, UB],
            "sec": {"enc": 1, "plain": len(PLAIN), "plain_sha256": sha(PLAIN),
                    "piece": [OFF, LN]}}
    return stored, piece, meta


def _play_secure(first, stored, piece, meta, step=0):
    second = FakeSock(response(200, stored, ["Content-Length: %d" % len(stored)]))
    table = {A: [FakeSock(response(200, first, ["Content-Length: %d" % len(first)]), step)],
             B: [second]}
    c = httpclient.HTTPClient(1.0, 1.0, opener=Opener(table))
    sink = RecSink(len(PLAIN))
    res = fetch(c, meta, sink, bytearray(4096), None, False,
                Decryptor(meta, KEY, IV, memoryview(piece)))
    return res, sink


def test_altered_stored_bytes_of_a_secure_item_are_caught_in_any_block():
    stored, piece, meta = _secure()
    for at in (0, 15, 16, OFF - 1, OFF + LN, 4000, len(stored) - 17, len(stored) - 1):
        for step in (0, 700):
            gc.collect()
            bad = stored[:at] + bytes([stored[at] ^ 0x40]) + stored[at + 1:]
            res, sink = _play_secure(bad, stored, piece, meta, step)
            assert len(res.errors) == 1 and res.errors[0][0] == UA, (at, res.errors)
            assert res.errors[0][1] in ("sha256", "bad response: padding"), (at, res.errors)
            assert res.status == "played" and res.src == UB and bytes(sink.data) == PLAIN, at


def test_a_secure_item_is_checked_by_its_original_not_the_bytes_at_the_withheld_pieces_place():
    # the piece replaces those bytes before decryption: what a source holds there never plays
    stored, piece, meta = _secure()
    other = stored[:OFF] + b"\xff" * LN + stored[OFF + LN:]
    res, sink = _play_secure(other, stored, piece, meta)
    assert (res.status, res.src, res.verified, res.errors) == ("played", UA, 1, [])
    assert bytes(sink.data) == PLAIN
