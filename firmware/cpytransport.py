# CircuitPython's HTTP transport: the same client (player, fetch, metaclient) over
# adafruit_requests (the design card's package), for CircuitPython, whose socket layer
# (socketpool, no select.poll) differs from the socket + poll that httpclient.py is written for.
# code.py hands the player a RequestsClient factory as its transport. The body still goes
# into the player's one buffer (Response._readinto), a slice only for a short request (n).
import adafruit_requests
from httpconn import BadResponse, Dropped, HTTPError, Refused, Timeout

_REFUSED = (111, 104, 113)  # ECONNREFUSED, ECONNRESET, EHOSTUNREACH (Linux and lwIP numbers)


def _error(e):
    """The firmware's error for what adafruit_requests or the socket layer raised."""
    if isinstance(e, HTTPError):
        return e
    msg = str(e)
    if isinstance(e, OSError):
        if e.args and e.args[0] in _REFUSED:
            return Refused(msg)
        if e.args and e.args[0] in (110, 116) or "timed out" in msg:
            return Timeout(msg)
    if "refused" in msg.lower() or "connecting" in msg.lower():
        return Refused(msg)
    if "timed out" in msg.lower():
        return Timeout(msg)
    return Dropped(msg or e.__class__.__name__)


class Response:
    def __init__(self, r):
        self.r = r
        self.status = r.status_code
        self.headers = {}
        for k, v in r.headers.items():
            self.headers[k.lower()] = v
        cl = self.headers.get("content-length")
        self.done = cl is not None and cl.strip() == "0"

    def readinto(self, buf, n=-1):
        """1..n body bytes into buf[0:]; 0 at the end; Dropped when the body ends short."""
        if self.done:
            return 0
        mv = buf if n < 0 or n >= len(buf) else memoryview(buf)[:n]
        try:
            got = self.r._readinto(mv)
        except (OSError, RuntimeError, ValueError) as e:
            self.close()
            raise _error(e)
        if got == 0:
            self.done = True
            if self.r._remaining:
                self.close()
                raise Dropped("closed")
            self.close()
        return got

    def read_all(self, limit):
        cl = self.headers.get("content-length")
        if cl is not None and cl.strip().isdigit() and int(cl) > limit:
            self.close()
            raise BadResponse("body too large")
        try:
            data = self.r.content
        except (OSError, RuntimeError) as e:
            self.close()
            raise _error(e)
        self.done = True
        if len(data) > limit:
            raise BadResponse("body too large")
        return data

    def close(self):
        self.done = True
        try:
            self.r.close()
        except (OSError, RuntimeError):
            pass


class RequestsClient:
    """HTTPClient's interface (request, close) over an adafruit_requests.Session."""

    def __init__(self, session, connect_timeout=2.0, read_timeout=2.0):
        self.session = session
        self.timeout = max(connect_timeout, read_timeout)
        self.last = None

    def request(self, method, url, body=None, headers=None, range_from=None):
        h = dict(headers) if headers else {}
        if range_from is not None:
            h["Range"] = "bytes=%d-" % range_from
        if self.last is not None and not self.last.done:
            self.last.close()  # a response left unfinished: its socket cannot be reused
        try:
            r = self.session.request(method, url, data=body, headers=h, timeout=self.timeout)
        except (OSError, RuntimeError) as e:
            raise _error(e)
        self.last = Response(r)
        return self.last

    def close(self):
        if self.last is not None and not self.last.done:
            self.last.close()
        self.last = None


def transport(session):
    """The player's HTTP transport (its `transport` part): a factory of RequestsClient over
    `session`, called as HTTPClient is, with the config's timeouts."""
    def factory(connect_timeout=2.0, read_timeout=2.0, **_kw):
        # other settings (tls) are the native client's: adafruit_requests does https itself,
        # with the session's ssl context
        return RequestsClient(session, connect_timeout, read_timeout)
    return factory
