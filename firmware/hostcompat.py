# compat.py's names where the interpreter lacks MicroPython's own (CPython on a Pi and in the
# tests, CircuitPython): kept apart so that a MicroPython board, which never imports this module,
# does not hold these functions in its heap beside the ones it uses.
import time


def ticks_ms():
    return int(time.monotonic() * 1000)


def ticks_diff(a, b):
    return a - b


def sleep_ms(ms):
    time.sleep(ms / 1000)


from ssl import SSLWantReadError, SSLWantWriteError

_WOULD_BLOCK = (BlockingIOError, SSLWantReadError, SSLWantWriteError)


def sock_readinto(sock, buf, n):
    """Up to n bytes into buf[0:n]; None when a non-blocking socket has none yet, 0 at EOF."""
    try:
        return sock.recv_into(buf, n)
    except _WOULD_BLOCK:
        return None


def sock_write(sock, data):
    try:
        return sock.send(data)
    except _WOULD_BLOCK:
        return None
