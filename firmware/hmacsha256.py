# HMAC-SHA256 (RFC 2104): MicroPython has no hmac module.
import hashlib

_BLOCK = 64


def hmac_sha256(key, msg):
    if len(key) > _BLOCK:
        h = hashlib.sha256()
        h.update(key)
        key = h.digest()
    ipad = bytearray(_BLOCK)
    opad = bytearray(_BLOCK)
    for i in range(_BLOCK):
        k = key[i] if i < len(key) else 0
        ipad[i] = k ^ 0x36
        opad[i] = k ^ 0x5C
    inner = hashlib.sha256()
    inner.update(ipad)
    inner.update(msg)
    outer = hashlib.sha256()
    outer.update(opad)
    outer.update(inner.digest())
    return outer.digest()
