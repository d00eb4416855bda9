# Fake sockets for firmware tests, for both interpreters: canned response bytes served from
# io.BytesIO, optionally at most `step` bytes per read (short reads), recording what was sent.
import io
import sys

MP = sys.implementation.name == "micropython"


class FakeSock:
    def __init__(self, data, step=0):
        self.f = io.BytesIO(data)
        self.step = step
        self.sent = bytearray()
        self.closed = False

    def readinto(self, buf, n=-1):
        if n < 0:
            n = len(buf)
        if self.step and n > self.step:
            n = self.step
        if MP:
            return self.f.readinto(buf, n)
        return self.f.readinto(memoryview(buf)[:n])

    recv_into = readinto

    def write(self, data):
        self.sent.extend(data)
        return len(data)

    send = write

    def close(self):
        self.closed = True


class Opener:
    """HTTPClient opener: hands out prepared sockets per (host, port), in order."""

    def __init__(self, table):
        self.table = table  # {(host, port): [FakeSock or Exception, ...]}
        self.opened = []

    def __call__(self, host, port, timeout_ms):
        socks = self.table.get((host, port))
        if not socks:
            import httpclient
            raise httpclient.Refused("refused")
        s = socks.pop(0)
        if isinstance(s, Exception):
            raise s
        self.opened.append((host, port))
        return s


def response(status, body=b"", headers=(), reason="OK"):
    head = "HTTP/1.1 %d %s\r\n" % (status, reason)
    for h in headers:
        head += h + "\r\n"
    return head.encode() + b"\r\n" + body
