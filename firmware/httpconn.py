# The connection half of the HTTP client: errors, URL splitting, connect with a timeout, and a
# connection that reads lines (bounded) and raw bytes. Sockets are non-blocking and every wait is
# a poll with a timeout, so a read returns what is there (short reads on both interpreters) and
# never blocks for more than the body holds on a kept-alive connection.
import errno
import select
import socket

from compat import MICROPYTHON, const, sock_reader, sock_write

MAX_LINE = const(512)       # status line and each header line (PROTOCOL.md, device limits)
MAX_HEADERS = const(32)
MAX_CHUNK_LINE = const(32)

_EINPROGRESS = (errno.EINPROGRESS, errno.EAGAIN, 119)  # 119: EINPROGRESS on lwIP ports
_POLL_BAD = select.POLLERR | select.POLLHUP


class HTTPError(Exception):
    pass


class Refused(HTTPError):
    pass


class Timeout(HTTPError):
    pass


class Dropped(HTTPError):
    """The connection closed or reset before the response's end."""


class BadResponse(HTTPError):
    pass


class Slow(HTTPError):
    """A source delivering too slowly to play from (fetch.py)."""


class Status(HTTPError):
    """An error status: .status (a file server's, or the meta server's: MetaError)."""

    def __init__(self, status, msg=""):
        super().__init__("%d %s" % (status, msg))
        self.status = status
        self.msg = msg


class SecureError(BadResponse):
    """A secure item's key answer or bytes are wrong (secure.py): like a sha256 mismatch, what the
    sink holds of the item is dropped."""


def reason(e):
    """The short text a report, a FAIL or a BACKOFF line gives for an HTTPError (PROTOCOL.md
    "Report"): the status number, refused, timeout, dropped, slow or "bad response: ..."."""
    if isinstance(e, Status):
        return str(e.status)
    if isinstance(e, Refused):
        return "refused"
    if isinstance(e, Timeout):
        return "timeout"
    if isinstance(e, Dropped):
        return "dropped"
    if isinstance(e, Slow):
        return "slow"
    return "bad response: %s" % (e.args[0] if e.args else "error")


def split_url(url):
    """'http[s]://host[:port]/path' -> (host, port, path, tls)."""
    if url.startswith("http://"):
        tls = False
        rest = url[7:]
    elif url.startswith("https://"):
        tls = True
        rest = url[8:]
    else:
        raise BadResponse("unsupported url")
    i = rest.find("/")
    if i < 0:
        hostport, path = rest, "/"
    else:
        hostport, path = rest[:i], rest[i:]
    port = 443 if tls else 80
    i = hostport.rfind(":")
    if i >= 0:
        try:
            port = int(hostport[i + 1:])
        except ValueError:
            raise BadResponse("bad port in url")
        hostport = hostport[:i]
    if not hostport:
        raise BadResponse("no host in url")
    return hostport, port, path, tls


def _poll_once(poller, ms):
    if MICROPYTHON:
        for ev in poller.ipoll(ms):  # ipoll reuses its tuple: no allocation per wait
            return ev[1]
        return 0
    evs = poller.poll(ms)
    return evs[0][1] if evs else 0


def connect(host, port, timeout_ms):
    try:
        ai = socket.getaddrinfo(host, port, 0, socket.SOCK_STREAM)[0]
    except OSError:
        raise Refused("unresolved")
    s = socket.socket(ai[0], socket.SOCK_STREAM)
    try:
        s.setblocking(False)
        try:
            s.connect(ai[-1])
        except OSError as e:
            if e.args[0] not in _EINPROGRESS:
                raise Refused(str(e.args[0]))
        p = select.poll()
        p.register(s, select.POLLOUT)
        ev = _poll_once(p, timeout_ms)
        if not ev:
            raise Timeout("connect")
        if ev & _POLL_BAD:
            raise Refused("refused")
    except BaseException:
        s.close()
        raise
    return s


class Conn:
    """One TCP connection with a small line buffer for status and header lines."""

    def __init__(self, sock, host, port, read_timeout_ms, line_buf=None, tls=False):
        self.sock = sock
        # rd(buf, n): 1..n bytes into buf[0:n], None when none are there yet (then wait_read()),
        # 0 at EOF; a read error goes through error(). Bound once: fetch's byte loop calls it
        # straight, with no Python call between it and the socket
        self.rd = sock_reader(sock)
        self.host = host
        self.port = port
        self.tls = tls
        self.tmo = read_timeout_ms
        # a full line plus its CRLF; HTTPClient lends its own, so connections do not each
        # allocate one in a heap that streaming has fragmented
        self.hbuf = line_buf or bytearray(MAX_LINE + 2)
        self.hmv = memoryview(self.hbuf)
        self.hpos = 0
        self.hend = 0
        self.poller = None

    def _wait(self, flag):
        if self.poller is None:
            self.poller = select.poll()
            self.poller.register(self.sock, select.POLLIN)
        self.poller.modify(self.sock, flag)
        if not _poll_once(self.poller, self.tmo):
            raise Timeout("read" if flag == select.POLLIN else "write")

    def _failed(self, e):
        """A TLS failure (bad certificate, handshake) as a BadResponse naming it; else None.
        MicroPython raises ValueError with mbedtls's message, CPython an ssl.SSLError."""
        if self.tls and (isinstance(e, ValueError) or type(e).__name__.startswith("SSL")):
            msg = e.args[-1] if e.args else "handshake"
            return BadResponse("tls: %s" % (str(msg).strip()[:80] or "handshake"))
        return None

    def wait_read(self):
        """Wait for a byte to read, at most the read timeout (then Timeout)."""
        self._wait(select.POLLIN)

    def error(self, e):
        """The HTTPError for an OSError or ValueError a read raised."""
        bad = self._failed(e)
        if bad is not None:
            return bad
        if e.args and e.args[0] == errno.ETIMEDOUT:
            return Timeout("read")
        return Dropped("reset")

    def _raw_readinto(self, buf, n):
        while True:
            try:
                r = self.rd(buf, n)
            except (OSError, ValueError) as e:
                raise self.error(e)
            if r is not None:
                return r
            self._wait(select.POLLIN)

    def readinto(self, buf, n):
        """Read 1..n bytes into buf[0:n]; 0 at EOF. Bytes already in the line buffer come first."""
        if self.hpos < self.hend:
            k = self.hend - self.hpos
            if k > n:
                k = n
            buf[0:k] = self.hmv[self.hpos:self.hpos + k]
            self.hpos += k
            return k
        return self._raw_readinto(buf, n)

    def readline(self, limit):
        """One line without its CRLF, as bytes; longer than limit is a BadResponse."""
        hbuf = self.hbuf
        while True:
            i = hbuf.find(b"\n", self.hpos, self.hend)
            if i >= 0:
                end = i
                if end > self.hpos and hbuf[end - 1] == 13:
                    end -= 1
                if end - self.hpos > limit:
                    break
                line = bytes(self.hmv[self.hpos:end])
                self.hpos = i + 1
                return line
            if self.hend - self.hpos > limit + 1:
                break
            if self.hpos:
                k = self.hend - self.hpos
                hbuf[0:k] = self.hmv[self.hpos:self.hend]
                self.hpos = 0
                self.hend = k
            r = self._raw_readinto(self.hmv[self.hend:], len(hbuf) - self.hend)
            if r == 0:
                raise Dropped("closed")
            self.hend += r
        raise BadResponse("chunk size line too long" if limit == MAX_CHUNK_LINE
                          else "header line too long")

    def write(self, data):
        mv = memoryview(data)
        off = 0
        while off < len(data):
            try:
                n = sock_write(self.sock, mv[off:])
            except (OSError, ValueError) as e:
                bad = self._failed(e)
                if bad is not None:
                    raise bad
                raise Dropped("reset")
            if n is None:
                self._wait(select.POLLOUT)
            else:
                off += n

    def close(self):
        if self.sock is not None:
            self.sock.close()
            self.sock = None
