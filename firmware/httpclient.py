# A small HTTP/1.1 client for devices: keep-alive, Content-Length, chunked and close-delimited
# bodies, Range, bounded redirects. Body bytes go straight into the caller's buffer:
# Response.readinto(buf, n) reads 1..n bytes into buf[0:n], allocating nothing.
# (Kept apart from httpconn.py so each compiles within a small heap.)
from compat import const
from httpconn import (MAX_CHUNK_LINE, MAX_HEADERS, MAX_LINE, BadResponse, Conn, Dropped,
                      HTTPError, Refused, Timeout, connect, split_url)

MAX_REDIRECTS = const(3)
# the response headers the device reads; the others (Server, Date, ETag, ...) are checked for
# form and dropped unkept, so that each response does not leave a dict of strings to collect
KEPT = ("content-length", "transfer-encoding", "connection", "content-range", "location",
        "retry-after", "content-encoding", "icy-metaint")


class Response:
    def __init__(self, client, conn, status, headers, keep, no_body):
        self.client = client
        self.conn = conn
        self.status = status
        self.headers = headers
        self.keep = keep
        self.chunked = False
        self.chunk_left = 0
        self.chunk_seen = False
        self.left = -1  # bytes of body still to read; -1: until the connection closes
        self.done = False
        te = headers.get("transfer-encoding")
        cl = headers.get("content-length")
        if no_body:
            self.left = 0
        elif te is not None and "chunked" in te.lower():
            self.chunked = True
        elif cl is not None:
            cl = cl.strip()
            if not cl.isdigit() or len(cl) > 12:
                raise BadResponse("bad content-length")
            self.left = int(cl)
        else:
            self.keep = False
        if self.left == 0:
            self._finish()

    def _finish(self):
        self.done = True
        conn, self.conn = self.conn, None
        if conn is not None:
            if self.keep:
                self.client._release(conn)
            else:
                conn.close()

    def close(self):
        """Give up on the rest of the body (the connection cannot be reused)."""
        if self.conn is not None:
            self.conn.close()
            self.conn = None
        self.done = True

    def _chunk_size(self):
        conn = self.conn
        if self.chunk_seen and conn.readline(MAX_CHUNK_LINE) != b"":
            raise BadResponse("bad chunk end")
        self.chunk_seen = True
        line = conn.readline(MAX_CHUNK_LINE)
        i = line.find(b";")
        if i >= 0:
            line = line[:i]
        line = line.strip()
        try:
            if not line or len(line) > 8:
                raise ValueError
            n = int(line, 16)
        except ValueError:
            raise BadResponse("bad chunk size")
        if n == 0:
            for _ in range(MAX_HEADERS + 1):  # trailers, then the empty line
                if conn.readline(MAX_LINE) == b"":
                    return 0
            raise BadResponse("too many trailers")
        return n

    def readinto(self, buf, n=-1):
        """Read 1..n (default len(buf)) body bytes into buf[0:]; 0 at the body's end."""
        if self.done:
            return 0
        if n < 0:
            n = len(buf)
        try:
            if self.chunked:
                if self.chunk_left == 0:
                    self.chunk_left = self._chunk_size()
                    if self.chunk_left == 0:
                        self._finish()
                        return 0
                if n > self.chunk_left:
                    n = self.chunk_left
                r = self.conn.readinto(buf, n)
                if r == 0:
                    raise Dropped("closed")
                self.chunk_left -= r
                return r
            if self.left < 0:
                r = self.conn.readinto(buf, n)
                if r == 0:
                    self._finish()
                return r
            if n > self.left:
                n = self.left
            r = self.conn.readinto(buf, n)
            if r == 0:
                raise Dropped("closed")
            self.left -= r
            if self.left == 0:
                self._finish()
            return r
        except HTTPError:
            self.close()
            raise

    def raw(self, k):
        """For reading the body's next k bytes straight from the socket (fetch's byte loop): its
        connection, whose rd() and wait_read() the caller uses and then took(k); 0 while bytes
        read with the head wait in the line buffer (readinto() first); None when not possible
        (chunked, the body shorter than k, or done)."""
        conn = self.conn
        if conn is None or self.chunked or self.left < k:
            return None
        return conn if conn.hpos >= conn.hend else 0

    def took(self, k):
        """k body bytes were read straight from the socket (raw())."""
        self.left -= k
        if self.left == 0:
            self._finish()

    def read_all(self, limit):
        """The whole body as bytes, refusing more than limit bytes."""
        if self.left > limit:
            self.close()
            raise BadResponse("body too large")
        out = bytearray(self.left if self.left > 0 else 256)
        mv = memoryview(out)
        got = 0
        while True:
            if got == len(out):
                if self.done:
                    break
                if got >= limit + 1:
                    self.close()
                    raise BadResponse("body too large")
                mv = None  # CPython refuses to resize an exported bytearray
                out.extend(bytes(min(len(out), limit + 1 - got)))
                mv = memoryview(out)
            r = self.readinto(mv[got:])
            if r == 0:
                break
            got += r
        if got > limit:
            raise BadResponse("body too large")
        if got == len(out):
            return out  # no copy: json.loads takes a bytearray
        return bytes(mv[:got])


class HTTPClient:
    """Keeps one idle connection for reuse (successive calls to the same host:port)."""

    def __init__(self, connect_timeout=2.0, read_timeout=2.0, opener=connect, tls=None):
        self.cto = int(connect_timeout * 1000)
        self.rto = int(read_timeout * 1000)
        self.opener = opener  # (host, port, timeout_ms) -> connected socket; tests pass fakes
        self.tls = tls        # tlswrap.TLS for https:// URLs, or None (then https is refused)
        self.idle = None
        self.line_buf = bytearray(MAX_LINE + 2)  # lent to one connection at a time
        self.lent_to = None

    def _release(self, conn):
        if self.idle is not None and self.idle is not conn:
            self.idle.close()
        self.idle = conn

    def close(self):
        if self.idle is not None:
            self.idle.close()
            self.idle = None

    def _conn(self, host, port, tls):
        conn = self.idle
        self.idle = None
        if conn is not None:
            if conn.host == host and conn.port == port and conn.tls == tls:
                return conn, True
            conn.close()
        if tls and self.tls is None:
            raise BadResponse("https needs a CA certificate (config: ca)")
        if self.lent_to is not None:
            self.lent_to.close()  # a response left unfinished: its connection cannot be reused
        sock = self.opener(host, port, self.cto)
        if tls:
            try:
                sock = self.tls.wrap(sock, host)  # the handshake happens on the first write/read
            except BaseException:
                sock.close()
                raise
        self.lent_to = Conn(sock, host, port, self.rto, self.line_buf, tls)
        return self.lent_to, False

    def request(self, method, url, body=None, headers=None, range_from=None):
        """Send one request, following up to MAX_REDIRECTS redirects; returns a Response.
        Credentials go only to the origin they belong to: a redirect to another origin drops
        the headers (Authorization) and is refused for a request with a body, and one from
        https to http is refused."""
        origin = None
        for _ in range(MAX_REDIRECTS + 1):
            host, port, path, tls = split_url(url)
            if origin is None:
                origin = (host, port, tls)
            elif (host, port, tls) != origin:
                if (origin[2] and not tls) or body is not None:
                    raise BadResponse("redirect to another origin")
                headers = None
            resp = self._send(method, host, port, path, tls, body, headers, range_from)
            if resp.status not in (301, 302, 303, 307, 308):
                return resp
            loc = resp.headers.get("location")
            resp.close()
            if not loc:
                raise BadResponse("redirect without location")
            if loc.startswith("/"):
                loc = "%s://%s:%d%s" % ("https" if tls else "http", host, port, loc)
            url = loc
            if resp.status == 303:
                method, body = "GET", None
        raise BadResponse("too many redirects")

    def _send(self, method, host, port, path, tls, body, headers, range_from):
        req = "%s %s HTTP/1.1\r\nHost: %s:%d\r\nConnection: keep-alive\r\n" % (method, path, host, port)
        if range_from is not None:
            req += "Range: bytes=%d-\r\n" % range_from
        if headers:
            for k in headers:
                req += "%s: %s\r\n" % (k, headers[k])
        if body is not None:
            if isinstance(body, str):
                body = body.encode()
            req += "Content-Length: %d\r\n" % len(body)
        req = (req + "\r\n").encode()
        while True:
            conn, reused = self._conn(host, port, tls)
            try:
                conn.write(req)
                if body:
                    conn.write(body)
                return self._head(conn, method)
            except Dropped:
                conn.close()
                if not reused:  # a kept-alive connection the server had closed: retry once, fresh
                    raise
            except BaseException:
                conn.close()
                raise

    def _head(self, conn, method):
        for _ in range(4):  # skip interim 1xx answers
            line = conn.readline(MAX_LINE)
            parts = line.split(None, 2)
            # "ICY 200 OK": a Shoutcast 1 server's status line (its body ends with the connection)
            if len(parts) < 2 or not (parts[0].startswith(b"HTTP/1.") or parts[0] == b"ICY") \
                    or len(parts[1]) != 3 \
                    or not parts[1].isdigit():
                raise BadResponse("bad status line")
            status = int(parts[1])
            headers = {}
            count = 0
            while True:
                line = conn.readline(MAX_LINE)
                if not line:
                    break
                count += 1
                if count > MAX_HEADERS:
                    raise BadResponse("too many headers")
                i = line.find(b":")
                if i <= 0 or line[0] in b" \t":
                    raise BadResponse("bad header line")
                try:
                    name = line[:i].decode().strip().lower()
                    if name in KEPT:
                        headers[name] = line[i + 1:].decode().strip()
                except UnicodeError:
                    raise BadResponse("bad header line")
            if status >= 200:
                break
        else:
            raise BadResponse("too many interim responses")
        keep = parts[0] == b"HTTP/1.1" and "close" not in headers.get("connection", "").lower()
        no_body = method == "HEAD" or status in (204, 304)
        return Response(self, conn, status, headers, keep, no_body)
