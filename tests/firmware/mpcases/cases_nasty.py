# The nastiest responses and meta data documents (from tests/fuzz/), on both interpreters: each
# ends in a clean result or an HTTPError, never another exception or a hang.
import json

import httpclient
import metaclient
import sinks
from fakesock import FakeSock, Opener
from fetch import fetch

HOST = ("127.0.0.1", 8101)
URL = "http://127.0.0.1:8101/m/x.bin"

RESPONSES = [
    b"",
    b"\r\n\r\n",
    b"HTTP/1.1 200 OK",                                   # no end of headers
    b"HTTP/1.1 200 OK\r\n" + b"X: y\r\n" * 40 + b"\r\n",  # too many headers
    b"HTTP/1.1 200 OK\r\nX: " + b"a" * 600 + b"\r\n\r\n",
    b"X" * 600 + b"\r\n\r\n",
    b"HTTP/1.1 abc OK\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nContent-Length: -5\r\n\r\nabc",
    b"HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999999\r\n\r\nabc",
    b"HTTP/1.1 200 OK\r\nContent-Length: 1e3\r\n\r\nabc",
    b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc",          # body shorter than said
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffffffffff\r\n",
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + b"0" * 40 + b"\r\n",
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab",
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
    b"HTTP/1.1 302 Found\r\nContent-Length: 0\r\n\r\n",               # redirect without location
    b"HTTP/1.1 302 Found\r\nLocation: ftp://x/\r\nContent-Length: 0\r\n\r\n",
    b"HTTP/1.1 302 Found\r\nLocation: http://\r\nContent-Length: 0\r\n\r\n",
    b"HTTP/1.1 200 OK\r\n\xff\xfe\x00: \x80\r\n\r\nbody",
]

DOCS = [
    {"id": 0, "size": 0, "sha256": "00" * 32, "src": [None]},
    {"id": 0, "size": 0, "sha256": "00" * 32, "src": ["", 5]},
    {"id": 1, "size": -1, "sha256": "00" * 32, "src": [URL]},
    {"id": True, "size": 3, "sha256": "00" * 32, "src": [URL]},
    {"id": 1, "size": 3, "sha256": "short", "src": [URL]},
    {"id": 1, "size": 3, "sha256": "00" * 32, "src": [URL], "sec": None},
    {"id": 1, "size": 3, "sha256": "00" * 32, "src": [URL], "sec": {"piece": [1]}},
    {"id": 1, "size": 3, "sha256": "00" * 32, "src": [URL], "sec": "x"},
    {"id": 1, "size": 3, "sha256": "00" * 32, "src": ["http://[::1/x"]},
    [1, 2, 3],
]


def test_nasty_responses_end_in_an_http_error_or_a_result():
    buf = bytearray(64)
    for i in range(len(RESPONSES)):
        for step in (0, 1, 7):
            c = httpclient.HTTPClient(0.2, 0.2, opener=Opener({HOST: [FakeSock(RESPONSES[i], step)]}))
            try:
                resp = c.request("GET", URL)
                for _ in range(2000):
                    if not resp.readinto(buf):
                        break
                else:
                    assert False, "response %d never ended" % i
            except httpclient.HTTPError:
                pass
            except IndexError:   # a redirect back to the same fake server: no socket left
                pass


def test_nasty_meta_documents_are_refused_or_fetched_cleanly():
    for doc in DOCS:
        body = json.dumps(doc).encode()
        meta = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body) + body
        http = httpclient.HTTPClient(0.2, 0.2, opener=Opener({
            ("127.0.0.1", 8000): [FakeSock(meta)],
            HOST: [FakeSock(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc")]}))
        mc = metaclient.MetaClient(http, "http://127.0.0.1:8000", "dev1", "00" * 16)
        mc.token = "t"
        try:
            item = mc.next()
        except httpclient.HTTPError:
            continue
        res = fetch(http, item, sinks.NullSink(), bytearray(64))
        assert res.status in ("played", "failed"), doc
