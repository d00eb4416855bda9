# Secure items: unwrapping the key answer, and streaming with splice + in-place CBC decryption,
# across short reads, failovers at any byte, corruption and a reboot; both interpreters.
import gc
import hashlib
import os

import httpclient
import sinks
from compat import hexlify
from cryptolib import aes
from fakesock import FakeSock, Opener, response
from fetch import SecureError, fetch
from hmacsha256 import hmac_sha256
from secure import Decryptor, unwrap

A = ("127.0.0.1", 8101)
B = ("127.0.0.1", 8104)
UA = "http://127.0.0.1:8101/m/s.bin"
UB = "http://127.0.0.1:8104/mirror/s.bin"
KEY = bytes(range(1, 17))
IV = bytes(range(40, 56))
PLAIN = bytes((i * 7 + 3) % 251 for i in range(1201))
SECRET = "00112233445566778899aabbccddeeff"


def sha(data):
    h = hashlib.sha256()
    h.update(data)
    return hexlify(h.digest())


def pkcs7(data):
    p = 16 - len(data) % 16
    return data + bytes([p]) * p


def encrypt(data, key=KEY, iv=IV):
    buf = bytearray(pkcs7(data))
    aes(key, 2, iv).encrypt(buf, buf)
    return bytes(buf)


def prepared(enc=True, off=200, ln=300):
    """(stored bytes, piece, meta) as tools/media.py would prepare them."""
    full = encrypt(PLAIN) if enc else PLAIN
    piece = full[off:off + ln]
    stored = full[:off] + bytes(ln) + full[off + ln:]
    meta = {"id": 7, "pos": 0, "size": len(stored), "sha256": sha(stored), "src": [UA, UB],
            "sec": {"enc": 1 if enc else 0, "plain": len(PLAIN), "plain_sha256": sha(PLAIN),
                    "piece": [off if ln else 0, ln]}}
    return stored, piece, meta


class RecSink(sinks.Sink):
    def __init__(self):
        self.data = bytearray()
        self.restarts = 0

    def write(self, mv):
        self.data.extend(mv)

    def restart(self):
        self.restarts += 1
        self.data = bytearray()


def run(table, meta, piece, enc=True, bufsize=64, sink=None, resume=False):
    c = httpclient.HTTPClient(1.0, 1.0, opener=Opener(table))
    sink = sink or RecSink()
    dec = Decryptor(meta, KEY if enc else bytes(16), IV if enc else bytes(16), memoryview(piece))
    events = []
    res = fetch(c, meta, sink, bytearray(bufsize), lambda t, p: events.append((t, dict(p))), resume, dec)
    return res, sink, events


def whole(stored, step=0):
    return FakeSock(response(200, stored, ["Content-Length: %d" % len(stored)]), step)


def part(stored, start):
    return FakeSock(response(206, stored[start:], [
        "Content-Length: %d" % (len(stored) - start),
        "Content-Range: bytes %d-%d/%d" % (start, len(stored) - 1, len(stored))]))


def test_encrypted_with_piece_decrypts_byte_identical_through_short_reads():
    stored, piece, meta = prepared()
    for step in (0, 1, 15, 33, 100):
        gc.collect()
        res, sink, _ = run({A: [whole(stored, step)]}, meta, piece)
        assert (res.status, res.verified, res.bytes) == ("played", 1, len(stored)), step
        assert bytes(sink.data) == PLAIN, step


def test_encrypted_only_and_piece_only():
    stored, piece, meta = prepared(ln=0)
    res, sink, _ = run({A: [whole(stored, 37)]}, meta, piece)
    assert res.verified and bytes(sink.data) == PLAIN
    stored, piece, meta = prepared(enc=False, off=700, ln=400)
    res, sink, _ = run({A: [whole(stored, 37)]}, meta, piece, enc=False)
    assert res.verified and bytes(sink.data) == PLAIN


def test_a_drop_mid_block_resumes_at_the_block_boundary_on_the_next_source():
    stored, piece, meta = prepared()
    res = sink = events = None
    for cut_at in (301, 320, 999):
        res = sink = events = None  # the last run's sink and result go before the next run
        gc.collect()
        cut = FakeSock(response(200, stored[:cut_at], ["Content-Length: %d" % len(stored)]), 29)
        at = cut_at - cut_at % 16
        rest = part(stored, at)
        res, sink, events = run({A: [cut], B: [rest]}, meta, piece)
        assert ("Range: bytes=%d-\r\n" % at).encode() in rest.sent, cut_at
        assert res.errors == [[UA, "dropped at %d" % at]] and events[0][1]["at"] == at
        assert res.status == "played" and res.resumed == 1 and bytes(sink.data) == PLAIN
        assert sink.restarts == 0


def test_a_200_answer_to_the_range_skips_what_is_held():
    stored, piece, meta = prepared()
    cut = FakeSock(response(200, stored[:700], ["Content-Length: %d" % len(stored)]))
    res, sink, _ = run({A: [cut], B: [whole(stored, 50)]}, meta, piece)
    assert res.status == "played" and bytes(sink.data) == PLAIN


def test_altered_ciphertext_on_one_server_is_detected_and_the_next_source_used():
    stored, piece, meta = prepared()
    bad = stored[:1000] + bytes([stored[1000] ^ 1]) + stored[1001:]
    second = whole(stored)
    res, sink, events = run({A: [whole(bad)], B: [second]}, meta, piece)
    assert res.errors == [[UA, "sha256"]] and sink.restarts == 1
    assert b"Range" not in second.sent
    assert res.status == "played" and bytes(sink.data) == PLAIN


def test_a_wrong_piece_fails_every_source():
    stored, piece, meta = prepared()
    res, sink, _ = run({A: [whole(stored)], B: [whole(stored)]}, meta, bytes(len(piece)))
    assert res.status == "failed" and res.verified == 0
    assert [e[0] for e in res.errors] == [UA, UB]


def test_after_a_reboot_the_sink_resumes_from_16_bytes_earlier_for_the_iv():
    stored, piece, meta = prepared()
    d = "/tmp/fw-test-secure-%s" % hexlify(os.urandom(4))
    fs = sinks.FileSink(d)
    with open(d + "/7", "wb") as f:
        f.write(PLAIN[:512])
    rest = part(stored, 496)
    res, _, _ = run({A: [rest]}, meta, piece, sink=fs, resume=True)
    assert b"Range: bytes=496-\r\n" in rest.sent
    assert res.status == "played" and res.resumed == 1 and res.verified == 1
    with open(d + "/7", "rb") as f:
        assert f.read() == PLAIN
    # held bytes not on a block boundary: start over
    with open(d + "/7", "wb") as f:
        f.write(PLAIN[:500])
    first = whole(stored)
    res, _, _ = run({A: [first]}, meta, piece, sink=fs, resume=True)
    assert b"Range" not in first.sent and res.verified == 1
    with open(d + "/7", "rb") as f:
        assert f.read() == PLAIN
    os.remove(d + "/7")
    os.rmdir(d)


def wrap(secret, nonce, key, iv, piece):
    """The server's side of a key answer (PROTOCOL.md), here with the firmware's own primitives."""
    k = hmac_sha256(secret.encode(), ("wrap\x00%s\x00" % nonce).encode())
    wiv = bytes(range(16))
    body = bytearray(pkcs7(key + iv + piece))
    aes(k[:16], 2, wiv).encrypt(body, body)
    msg = wiv + bytes(body)
    return msg + hmac_sha256(k[16:], msg)


def test_unwrap_checks_the_tag_then_decrypts_in_place():
    nonce = "ab" * 16
    piece = bytes(range(200))
    answer = wrap(SECRET, nonce, KEY, IV, piece)
    blob = bytearray(512)
    blob[:len(answer)] = answer
    n = unwrap(SECRET, nonce, blob, len(answer))
    assert n == 32 + len(piece)
    assert bytes(blob[16:32]) == KEY and bytes(blob[32:48]) == IV and bytes(blob[48:16 + n]) == piece
    for bad_secret, bad_nonce, flip in ((SECRET, "cd" * 16, 0), ("ff" * 16, nonce, 0), (SECRET, nonce, 1)):
        blob = bytearray(answer)
        blob[20] ^= flip
        try:
            unwrap(bad_secret, bad_nonce, blob, len(blob))
            assert False, "accepted a forged answer"
        except SecureError:
            pass
    try:
        unwrap(SECRET, nonce, bytearray(50), 50)
        assert False, "accepted a short answer"
    except SecureError:
        pass
