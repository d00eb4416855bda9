# The streaming loop allocates nothing per chunk (micropython only: CPython has no gc.mem_alloc).
import gc
import hashlib
import sys

import httpclient
import sinks
from compat import hexlify
from fetch import fetch

B = 1024


class PatternSock:
    """Serves a response head, then `size` body bytes of a pattern, copying without allocating."""

    def __init__(self, head, size, step=0):
        self.step = step
        self.head = head
        self.hpos = 0
        self.size = size
        self.pos = 0

    def readinto(self, buf, n=-1):
        if n < 0:
            n = len(buf)
        if self.hpos < len(self.head):
            k = len(self.head) - self.hpos
            if k > n:
                k = n
            h = self.hpos
            for i in range(k):
                buf[i] = self.head[h + i]
            self.hpos += k
            return k
        k = self.size - self.pos
        if k > n:
            k = n
        if self.step and k > self.step:
            k = self.step
        p = self.pos
        for i in range(k):
            buf[i] = (p + i) % 251
        self.pos += k
        return k

    recv_into = readinto

    def write(self, data):
        return len(data)

    send = write

    def close(self):
        pass


def _pattern_sha(size):
    h = hashlib.sha256()
    chunk = bytearray(B)
    p = 0
    while p < size:
        k = min(B, size - p)
        for i in range(k):
            chunk[i] = (p + i) % 251
        h.update(memoryview(chunk)[:k])
        p += k
    return hexlify(h.digest())


def _stream(nchunks, step=0):
    size = nchunks * B
    meta = {"id": 7, "pos": 0, "size": size, "sha256": _pattern_sha(size),
            "src": ["http://127.0.0.1:8101/m/p.bin"]}
    head = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % size
    sock = PatternSock(head, size, step)
    client = httpclient.HTTPClient(1.0, 1.0, opener=lambda h, p, t: sock)
    buf = bytearray(B)
    sink = sinks.NullSink()
    gc.collect()
    gc.disable()
    try:
        before = gc.mem_alloc()
        res = fetch(client, meta, sink, buf)
        used = gc.mem_alloc() - before
    finally:
        gc.enable()
    assert res.status == "played" and res.bytes == size, (res.status, res.errors)
    return used


def test_streaming_allocates_nothing_per_chunk():
    if sys.implementation.name != "micropython":
        return  # measured where it matters
    few = _stream(10)     # Content-Length 10240
    many = _stream(97)    # Content-Length 99328: same digit count, so same head allocations
    assert many == few, "streaming 87 more chunks allocated %d more bytes" % (many - few)


def test_repeated_short_reads_allocate_nothing_per_chunk():
    if sys.implementation.name != "micropython":
        return
    few = _stream(10, 300)   # every read 300 bytes of a 1024-byte buffer, the last one shorter
    many = _stream(97, 300)
    assert many == few, "short reads of 87 more chunks allocated %d more bytes" % (many - few)


def _stream_secure(nchunks, step=0):
    """The secure path: splice a piece and decrypt in place. The pattern is not a real
    ciphertext, so the item ends with a padding error: what is counted is the loop."""
    from secure import Decryptor
    size = nchunks * B
    meta = {"id": 7, "pos": 0, "size": size, "sha256": _pattern_sha(size),
            "src": ["http://127.0.0.1:8101/m/p.bin"],
            "sec": {"enc": 1, "plain": size - 16, "plain_sha256": "00" * 32, "piece": [100, 300]}}
    head = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % size
    sock = PatternSock(head, size, step)
    client = httpclient.HTTPClient(1.0, 1.0, opener=lambda h, p, t: sock)
    buf = bytearray(B)
    dec = Decryptor(meta, bytes(16), bytes(16), memoryview(bytearray(300)))
    sink = sinks.NullSink()
    gc.collect()
    gc.disable()
    try:
        before = gc.mem_alloc()
        res = fetch(client, meta, sink, buf, None, False, dec)
        used = gc.mem_alloc() - before
    finally:
        gc.enable()
    assert res.errors[0][1] == "bad response: padding", res.errors
    return used


def test_secure_streaming_allocates_nothing_per_chunk():
    if sys.implementation.name != "micropython":
        return
    few = _stream_secure(10)
    many = _stream_secure(97)
    assert many == few, "decrypting 87 more chunks allocated %d more bytes" % (many - few)
    few = _stream_secure(10, 300)    # short reads: blocks carried over between reads
    many = _stream_secure(97, 300)
    assert many == few, "short reads of 87 more chunks allocated %d more bytes" % (many - few)
