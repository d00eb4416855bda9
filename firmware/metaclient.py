# The meta server's device API (PROTOCOL.md), the calls a device makes: challenge-response
# login, program choice, next item, a secure item's key, report (the program list and the full
# record are the meta server's too, for other clients). JSON bodies are read bounded: 2048
# bytes; a key answer must fit the caller's buffer.
import json

from compat import const, hexlify, urandom
from hmacsha256 import hmac_sha256
from httpconn import BadResponse, Status
from version import VERSION

MAX_META = const(2048)
API = "/api/v1"


MetaError = Status  # an error status from the meta server: .status, .msg


class TooMany(MetaError):
    """429: back off at least .retry_after seconds."""

    def __init__(self, status, msg, retry_after):
        super().__init__(status, msg)
        self.retry_after = retry_after


def signed(secret, msg):
    """HMAC-SHA256 under the device secret of one use's message: its label and fields, each
    ended by NUL (PROTOCOL.md "Uses of the secret"), so no two uses can sign the same bytes."""
    return hmac_sha256(secret.encode(), msg.encode())


def proof(secret, device, nonce):
    return hexlify(signed(secret, "login\x00%s\x00%s\x00" % (device, nonce)))


def key_proof(secret, device, media_id, nonce):
    return hexlify(signed(secret, "key\x00%s\x00%d\x00%s\x00" % (device, media_id, nonce)))


def is_nonce(s):
    """32 lower-case hex characters: the only nonce the protocol has."""
    return isinstance(s, str) and len(s) == 32 and not s.strip("0123456789abcdef")


def _doc(body):
    try:
        doc = json.loads(body)
    except (ValueError, UnicodeError):
        raise BadResponse("bad json")
    if not isinstance(doc, dict):
        raise BadResponse("json is not an object")
    return doc


def _int(v, low=0):
    return isinstance(v, int) and not isinstance(v, bool) and v >= low


def check_next(doc):
    """Raise BadResponse unless doc has what fetch relies on (PROTOCOL.md "Next item")."""
    src = doc.get("src")
    if not _int(doc.get("id")) or not isinstance(src, list) or not src or len(src) > 16:
        raise BadResponse("bad meta data")
    for u in src:
        if not isinstance(u, str) or not (u.startswith("http://") or u.startswith("https://")):
            raise BadResponse("bad meta data: src")
    if doc.get("stream") is not None:   # no size, no hash: streams.py's
        from streams import check_stream
        return check_stream(doc)
    sha = doc.get("sha256")
    if not _int(doc.get("size")) or not isinstance(sha, str) or len(sha) != 64:
        raise BadResponse("bad meta data")
    if sha.strip("0123456789abcdefABCDEF"):   # it names a cache entry: only hex
        raise BadResponse("bad meta data: sha256")
    rate = doc.get("rate")  # bytes per second of playback, when known (fetch, pacedsink)
    if rate is not None and not _int(rate, 1):
        raise BadResponse("bad meta data: rate")
    sec = doc.get("sec")
    if sec is not None:
        piece = sec.get("piece") if isinstance(sec, dict) else None
        if not isinstance(piece, list) or len(piece) != 2 or not _int(piece[0]) \
                or not _int(piece[1]) or sec.get("enc") not in (0, 1) \
                or not _int(sec.get("plain")) or not isinstance(sec.get("plain_sha256"), str):
            raise BadResponse("bad meta data: sec")


class MetaClient:
    def __init__(self, http, server, device, secret):
        self.http = http
        self.base = server.rstrip("/") + API
        self.device = device
        self.secret = secret
        self.token = None
        self.at = None   # the position the server last gave (GET /next?pos=: answered from memory)

    def _call(self, method, path, doc=None, auth=True, body=None):
        """doc: sent as JSON; body: bytes that are JSON already."""
        headers = {}
        if auth:
            headers["Authorization"] = "Bearer %s" % self.token
        if doc is not None:
            body = json.dumps(doc)
        if body is not None:
            headers["Content-Type"] = "application/json"
        resp = self.http.request(method, self.base + path, body=body, headers=headers)
        status = resp.status
        if status == 204:
            resp.close()
            return None
        data = resp.read_all(MAX_META)
        if 200 <= status < 300:
            return _doc(data)
        self._error(resp, status, data)

    def _error(self, resp, status, data):
        msg = ""
        try:
            msg = str(_doc(data).get("error", ""))[:80]
        except BadResponse:
            pass
        if status == 429:
            try:
                ra = float(resp.headers.get("retry-after", "1"))
            except ValueError:
                ra = 1.0
            raise TooMany(status, msg, ra)
        raise MetaError(status, msg)

    def login(self):
        """Challenge, then proof; returns the login answer (token, ttl, program)."""
        ch = self._call("POST", "/login/challenge", {"device": self.device}, auth=False)
        nonce = ch.get("nonce") if ch else None
        if not is_nonce(nonce):
            raise BadResponse("nonce is not 32 hex characters")
        ans = self._call("POST", "/login", {"device": self.device, "nonce": nonce,
                                            "proof": proof(self.secret, self.device, nonce),
                                            "fw": VERSION}, auth=False)
        if not ans or not isinstance(ans.get("token"), str):
            raise BadResponse("no token")
        self.token = ans["token"]
        return ans

    def select(self, program):
        return self._call("POST", "/programs/select", {"program": program})

    def next(self):
        """The compact meta data of the next item, or None (204: nothing to play). Meta data that
        fetch cannot use is a BadResponse whose .item is (id, pos) when those are readable, so
        the player can report the item failed."""
        doc = self._call("GET", "/next" if self.at is None else "/next?pos=%d" % self.at)
        if doc is not None:
            p = doc.get("pos")
            self.at = p if _int(p) else None
            try:
                check_next(doc)
            except BadResponse as e:
                if _int(doc.get("id")) and (doc.get("pos") is None or _int(doc.get("pos"))):
                    e.item = (doc["id"], doc.get("pos"))
                raise
        return doc

    def media_key(self, media_id, blob):
        """A secure item's wrapped key answer, read into blob (a buffer allocated once).
        Returns (nonce, n): the answer is blob[0:n], for secure.unwrap()."""
        nonce = hexlify(urandom(16))
        body = json.dumps({"nonce": nonce,
                           "proof": key_proof(self.secret, self.device, media_id, nonce)})
        resp = self.http.request("POST", "%s/media/%d/key" % (self.base, media_id), body=body,
                                 headers={"Authorization": "Bearer %s" % self.token,
                                          "Content-Type": "application/json"})
        if resp.status != 200:
            self._error(resp, resp.status, resp.read_all(MAX_META))
        return nonce, read_into(resp, blob, "key answer")

    def report(self, doc):
        ans = self._call("POST", "/report", doc)
        p = ans.get("next_pos") if isinstance(ans, dict) else None
        self.at = p if _int(p) else None
        return ans


def read_into(resp, blob, what):
    """The whole body of resp read into blob (a buffer allocated once): its length. A body
    longer than blob is a BadResponse naming what it was."""
    mv = memoryview(blob)
    n = 0
    while True:
        if n == len(blob):
            if resp.readinto(mv[:1], 1):
                resp.close()
                raise BadResponse("%s over %d bytes" % (what, len(blob)))
            break
        r = resp.readinto(mv[n:], len(blob) - n)
        if not r:
            break
        n += r
    return n
