# Real loopback sockets for firmware cases, for both interpreters.
import socket


def listener(backlog=4):
    """A listening socket on a free port, and the port (MicroPython has no getsockname)."""
    import random
    for _ in range(50):
        port = 20000 + random.getrandbits(14)
        s = socket.socket()
        try:
            s.bind(socket.getaddrinfo("127.0.0.1", port)[0][-1])
        except OSError:
            s.close()
            continue
        s.listen(backlog)
        return s, port
    raise AssertionError("no free port")
