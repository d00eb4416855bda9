# Encrypts a file with AES-128-CBC (no padding: its size is a multiple of 16), for the secure
# streaming benchmark; run under micropython, whose cryptolib is what the device decrypts with:
#   micropython encrypt.py IN OUT KEYHEX IVHEX
import sys

import cryptolib
from binascii import unhexlify


def main(argv):
    aes = cryptolib.aes(unhexlify(argv[3]), 2, unhexlify(argv[4]))
    buf = bytearray(4096)
    mv = memoryview(buf)
    with open(argv[1], "rb") as src, open(argv[2], "wb") as dst:
        while True:
            n = src.readinto(buf)
            if not n:
                break
            if n % 16:
                raise ValueError("size is not a multiple of 16")
            part = mv if n == len(buf) else mv[:n]
            aes.encrypt(part, part)
            dst.write(part)
    return 0


sys.exit(main(sys.argv))
