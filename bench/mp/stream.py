# Device-side streaming benchmark, run under micropython (or CPython for the client only):
#   micropython -X heapsize=64K stream.py FIRMWARE_DIR MODE URL SIZE SHA256 REPS BUF [KEY IV TAIL]
# MODE: client (firmware httpclient + fetch, sha256 checked), client_aes (the same through the
# firmware's secure.Decryptor; extra args KEY IV PLAIN_SIZE PLAIN_SHA256), bare (socket.readinto + sha256),
# requests (micropython-lib requests, r.raw.readinto + sha256), bare_aes (readinto + sha256 of
# the stored bytes + in-place AES-CBC decrypt), bare_aes2 (the same plus a sha256 of the
# decrypted bytes). Prints "RUN <us> <bytes> <ok>" per repetition,
# each a new request; ok is 1 when the sha256 (and for bare_aes the last plaintext block) matched.
import gc
import hashlib
import sys
import time

from binascii import hexlify, unhexlify


def head_end(buf, n):
    i = bytes(buf[:n]).find(b"\r\n\r\n")
    if i < 0:
        raise ValueError("no end of head in the first %d bytes" % n)
    if not bytes(buf[:12]).startswith(b"HTTP/1.1 200"):
        raise ValueError("not 200: %r" % bytes(buf[:12]))
    return i + 4


def split(url):
    rest = url[7:]
    i = rest.find("/")
    host, port = rest[:i].split(":")
    return host, int(port), rest[i:]


def _open(url, buf):
    import socket
    host, port, path = split(url)
    s = socket.socket()
    s.connect(socket.getaddrinfo(host, port)[0][-1])
    s.write(b"GET %s HTTP/1.1\r\nHost: %s:%d\r\nConnection: close\r\n\r\n" % (path, host, port))
    n = s.readinto(buf)  # blocking: fills buf (head and the first body bytes) or ends at EOF
    return s, n, head_end(buf, n)


def bare(url, size, buf):
    """The limit: blocking socket.readinto into one buffer, sha256 of each chunk."""
    mv = memoryview(buf)
    blen = len(buf)
    h = hashlib.sha256()
    s, n, start = _open(url, buf)
    h.update(mv[start:n])
    have = n - start
    while have < size:
        n = s.readinto(buf)
        if not n:
            break
        h.update(mv if n == blen else mv[:n])
        have += n
    s.close()
    return have, h.digest(), None


def bare_aes(url, size, buf, aes, h2=None):
    """The same with AES-CBC decryption in place; sha256 over the stored (encrypted) bytes.
    Only whole 16-byte blocks are decrypted: the few bytes the head leaves over are moved to
    the front, after which every read fills the buffer with whole blocks. h2: a second sha256,
    of the decrypted bytes (what the client does for a secure item)."""
    mv = memoryview(buf)
    blen = len(buf)
    h = hashlib.sha256()
    s, n, start = _open(url, buf)
    h.update(mv[start:n])
    have = n - start
    w = have & ~15
    aes.decrypt(mv[start:start + w], mv[start:start + w])
    if h2 is not None:
        h2.update(mv[start:start + w])
    last = bytes(mv[start + w - 16:start + w]) if w else b""
    rem = have - w
    buf[0:rem] = mv[start + w:n]
    while have < size:
        n = s.readinto(mv[rem:]) if rem else s.readinto(buf)
        if not n:
            break
        h.update(mv[rem:rem + n] if rem or n != blen else mv)
        have += n
        k = rem + n
        w = k & ~15
        part = mv if w == blen else mv[:w]
        aes.decrypt(part, part)
        if h2 is not None:
            h2.update(part)
        rem = k - w
        if rem:
            buf[0:rem] = mv[w:k]
        elif have >= size:
            last = bytes(mv[w - 16:w])
    s.close()
    return have, h.digest(), last


def via_requests(url, size, buf):
    import requests
    r = requests.get(url)
    if r.status_code != 200:
        raise ValueError("status %d" % r.status_code)
    mv = memoryview(buf)
    blen = len(buf)
    h = hashlib.sha256()
    have = 0
    while have < size:
        n = r.raw.readinto(buf)
        if not n:
            break
        h.update(mv if n == blen else mv[:n])
        have += n
    r.close()
    return have, h.digest(), None


def main(argv):
    fw, mode, url, size, want, reps, blen = argv[1:8]
    size, reps = int(size), int(reps)
    gc.collect()
    buf = bytearray(int(blen))
    sys.path.insert(0, fw)
    client = sink = None
    if mode in ("client", "client_aes"):
        import httpclient
        import sinks
        from fetch import fetch
        client = httpclient.HTTPClient(2.0, 2.0)
        sink = sinks.NullSink()
    for _ in range(reps):
        gc.collect()
        aes = None
        if mode in ("bare_aes", "bare_aes2"):
            import cryptolib
            aes = cryptolib.aes(unhexlify(argv[8]), 2, unhexlify(argv[9]))
        t0 = time.ticks_us()
        if mode == "client":
            meta = {"id": 1, "pos": 0, "size": size, "sha256": want, "src": [url]}
            res = fetch(client, meta, sink, buf)
            have, ok = res.bytes, res.status == "played" and res.verified
        elif mode == "client_aes":
            meta = {"id": 1, "pos": 0, "size": size, "sha256": want, "src": [url],
                    "sec": {"enc": 1, "plain": int(argv[10]), "plain_sha256": argv[11],
                            "piece": [0, 0]}}
            try:
                import secure
            except ImportError:
                print("UNSUPPORTED no secure module")
                return 0
            dec = secure.Decryptor(meta, unhexlify(argv[8]), unhexlify(argv[9]), memoryview(b""))
            res = fetch(client, meta, sink, buf, dec=dec)
            have, ok = res.bytes, res.status == "played" and res.verified
        elif mode == "requests":
            have, digest, last = via_requests(url, size, buf)
            ok = hexlify(digest).decode() == want
        elif mode == "bare":
            have, digest, last = bare(url, size, buf)
            ok = hexlify(digest).decode() == want
        elif mode in ("bare_aes", "bare_aes2"):
            have, digest, last = bare_aes(url, size, buf, aes,
                                          hashlib.sha256() if mode == "bare_aes2" else None)
            ok = hexlify(digest).decode() == want and hexlify(last).decode() == argv[10]
        else:
            raise ValueError("unknown mode %s" % mode)
        us = time.ticks_diff(time.ticks_us(), t0)
        print("RUN %d %d %d" % (us, have, 1 if ok else 0))
    return 0


sys.exit(main(sys.argv))
