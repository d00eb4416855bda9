# MicroPython's `cryptolib` for CPython, on the `cryptography` package (no such shim is on PyPI).
# firmware/device.py puts this folder on sys.path only under CPython; MicroPython has its own
# built-in cryptolib, which a file of the same name on its path would shadow.
#   aes(key, mode, iv=None)   mode 1: ECB, 2: CBC (MicroPython has no CTR)
#   .encrypt(in_buf, out_buf=None) / .decrypt(in_buf, out_buf=None)
#     in_buf: a multiple of 16 bytes; out_buf: None (returns bytes) or a writable buffer of
#     the same length, which may be in_buf itself. A CBC object chains across calls.
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

MODE_ECB = 1
MODE_CBC = 2


class aes:  # noqa: N801 - the name MicroPython uses
    def __init__(self, key, mode, iv=None):
        key = bytes(key)
        if len(key) not in (16, 24, 32):
            raise ValueError("key must be 16, 24 or 32 bytes")
        if mode == MODE_ECB:
            algo = modes.ECB()
        elif mode == MODE_CBC:
            iv = bytes(iv) if iv is not None else bytes(16)
            if len(iv) != 16:
                raise ValueError("IV must be 16 bytes")
            algo = modes.CBC(iv)
        else:
            raise ValueError("mode must be 1 (ECB) or 2 (CBC)")
        cipher = Cipher(algorithms.AES(key), algo)
        self._enc = cipher.encryptor()
        self._dec = cipher.decryptor()
        self._used = None

    def _run(self, ctx, which, in_buf, out_buf):
        if self._used not in (None, which):
            raise ValueError("can't encrypt & decrypt")
        self._used = which
        data = bytes(in_buf)
        if len(data) % 16:
            raise ValueError("input must be a multiple of 16 bytes")
        out = ctx.update(data)
        if out_buf is None:
            return out
        if len(out_buf) < len(out):
            raise ValueError("output buffer too small")
        memoryview(out_buf)[:len(out)] = out
        return None

    def encrypt(self, in_buf, out_buf=None):
        return self._run(self._enc, "e", in_buf, out_buf)

    def decrypt(self, in_buf, out_buf=None):
        return self._run(self._dec, "d", in_buf, out_buf)
