# Secure items (PROTOCOL.md "Secure items"): unwrap what the meta server sends for one item (its
# AES-128 key and IV, and the withheld piece), then turn stored bytes into the original as they
# stream: splice the piece in, decrypt in place (CBC chains across chunks), strip the padding at
# the end, hash the original. Everything works inside buffers allocated once.
import hashlib

from compat import hexlify
from cryptolib import aes
from httpconn import SecureError
from hmacsha256 import hmac_sha256

_CBC = 2


def unwrap(secret, nonce, blob, n):
    """blob[0:n] is wiv(16) | AES-CBC(k_enc, wiv, key|iv|piece|pad) | tag(32). Checks the tag,
    decrypts in place; returns the length of key|iv|piece, now at blob[16:]."""
    if n < 16 + 48 + 32 or (n - 48) % 16:
        raise SecureError("key answer of %d bytes" % n)
    k = hmac_sha256(secret.encode(), ("wrap\x00%s\x00" % nonce).encode())
    mv = memoryview(blob)
    body = mv[:n - 32]
    tag = hmac_sha256(k[16:], body)
    bad = 0
    for i in range(32):
        bad |= tag[i] ^ blob[n - 32 + i]
    if bad:
        raise SecureError("key answer not from the server (tag)")
    ct = mv[16:n - 32]
    aes(k[:16], _CBC, bytes(mv[:16])).decrypt(ct, ct)
    p = blob[n - 33]
    if p < 1 or p > 16:
        raise SecureError("key answer padding")
    return n - 48 - p


class Decryptor:
    """Stored bytes → original. meta["sec"]: {"enc": 0|1, "plain": size, "plain_sha256": hex,
    "piece": [offset, length]}; key, iv: 16 bytes each; piece: a memoryview of the withheld bytes."""

    def __init__(self, meta, key, iv, piece):
        sec = meta["sec"]
        self.enc = sec.get("enc", 1)
        self.blk = 16 if self.enc else 1
        self.size = meta["size"]          # stored size
        self.plain_size = sec["plain"]
        self.plain_sha256 = sec["plain_sha256"]
        off, ln = sec.get("piece", (0, 0))
        if ln != len(piece) or off < 0 or off + ln > self.size:
            raise SecureError("withheld piece does not fit")
        self.po = off
        self.pe = off + ln
        self.piece = piece
        self.key = key
        self.iv = iv
        self.reset()

    def reset(self):
        """Back to byte 0 of the item."""
        self.aes = aes(self.key, _CBC, self.iv) if self.enc else None
        self.plain = hashlib.sha256()
        self.iv_pending = False

    def resume_at(self, held):
        """The sink holds `held` original bytes (hashed into self.plain by its begin()): the stored
        offset to fetch from, or -1 when the item must start over. In CBC the block before the
        resume point is the IV, so the fetch starts 16 bytes earlier (feed() takes it as the IV)."""
        if not self.enc:
            return held
        if held % 16 or held > self.plain_size:
            return -1
        if held == 0:
            return 0
        self.iv_pending = True
        return held - 16

    def feed(self, view, base, sink):
        """view: stored bytes at stored offset `base` (a multiple of self.blk bytes, in place)."""
        m = len(view)
        if self.pe > self.po and base < self.pe and base + m > self.po:
            a = self.po if self.po > base else base
            b = self.pe if self.pe < base + m else base + m
            view[a - base:b - base] = self.piece[a - self.po:b - self.po]
        if not self.enc:
            self.plain.update(view)
            sink.write(view)
            return
        if self.iv_pending:
            self.iv_pending = False
            self.aes = aes(self.key, _CBC, bytes(view[:16]))
            if m == 16:
                return
            view = view[16:]
            m -= 16
            base += 16
        self.aes.decrypt(view, view)
        if base + m == self.size:  # the last block holds the padding
            p = view[m - 1]
            if p < 1 or p > 16 or base + m - p != self.plain_size:
                raise SecureError("padding")
            for i in range(m - p, m):
                if view[i] != p:
                    raise SecureError("padding")
            view = view[:m - p]
        self.plain.update(view)
        sink.write(view)

    def verified(self):
        return hexlify(self.plain.digest()) == self.plain_sha256
