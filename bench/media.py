"""The files the benchmarks stream: random bytes (incompressible), and an AES-CBC copy."""
import os

from bench import mprun
from tools.filehash import size_and_sha256

KEY = "00112233445566778899aabbccddeeff"
IV = "0f0e0d0c0b0a09080706050403020100"


class File:
    def __init__(self, path):
        self.path = path
        self.name = os.path.basename(path)
        self.size, self.sha256 = size_and_sha256(path)


def random_file(directory, name, size):
    """A file of ``size`` random bytes (written once; kept when it exists with that size)."""
    os.makedirs(directory, exist_ok=True)
    path = os.path.join(directory, name)
    if not (os.path.exists(path) and os.path.getsize(path) == size):
        with open(path + ".part", "wb") as f:
            left = size
            while left:
                k = min(left, 1 << 20)
                f.write(os.urandom(k))
                left -= k
        os.replace(path + ".part", path)
    return File(path)


def encrypted_copy(plain, name):
    """``plain`` with PKCS#7 padding (a whole block of 16 × 0x10: its size is a multiple of 16),
    encrypted with AES-128-CBC (KEY, IV) by micropython's cryptolib, as a secure item is stored.
    Returns (File, hex of the last plaintext block, which a correct decryption ends with)."""
    if plain.size % 16:
        raise ValueError("%s: size must be a multiple of 16" % plain.path)
    out = os.path.join(os.path.dirname(plain.path), name)
    padded = out + ".padded"
    with open(plain.path, "rb") as src, open(padded, "wb") as dst:
        for block in iter(lambda: src.read(1 << 20), b""):
            dst.write(block)
        dst.write(bytes([16]) * 16)
    mprun.run([mprun.script("encrypt.py"), padded, out, KEY, IV])
    os.remove(padded)
    return File(out), "10" * 16
