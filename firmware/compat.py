# Small bridges between MicroPython and CPython, so every other module is written once. What
# only CPython and CircuitPython need is in hostcompat.py, which MicroPython never loads.
import sys
import time

MICROPYTHON = sys.implementation.name == "micropython"

try:
    from micropython import const
except ImportError:
    def const(x):
        return x

if hasattr(time, "ticks_ms"):
    ticks_ms = time.ticks_ms
    ticks_diff = time.ticks_diff
    sleep_ms = time.sleep_ms
else:
    from hostcompat import sleep_ms, ticks_diff, ticks_ms

try:
    from os import urandom
except ImportError:  # some ports keep it elsewhere
    from uos import urandom

from binascii import hexlify as _hexlify


def hexlify(data):
    """Lower-case hex text of bytes (MicroPython's sha256 has no hexdigest)."""
    return _hexlify(data).decode()


def random_fraction():
    """Uniform in [0, 1), from getrandbits which every port has."""
    import random
    return random.getrandbits(24) / 16777216


def backoff_ms(failures, base_ms, cap_ms):
    """Exponential backoff with full jitter, uniform in [0, min(cap, base * 2^failures)) ms:
    devices that failed together (a power cut, a lost access point) come back spread out."""
    return int(random_fraction() * min(cap_ms, base_ms << min(failures, 16)))


# sock_reader(sock): the callable that reads up to n bytes into buf[0:n], None when a
# non-blocking socket has none yet, 0 at EOF. MicroPython's socket.readinto(buf, n) is that
# already (no Python call in between); CPython's recv_into raises instead of returning None.
if MICROPYTHON:
    def sock_reader(sock):
        return sock.readinto

    def sock_write(sock, data):
        return sock.write(data)
else:
    from hostcompat import sock_readinto, sock_write

    def sock_reader(sock):
        return lambda buf, n: sock_readinto(sock, buf, n)


def flush():
    try:
        sys.stdout.flush()
    except AttributeError:
        pass
