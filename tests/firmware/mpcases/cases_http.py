# HTTP client cases against exact bytes; run by pytest (CPython) and by runner.py (micropython).
import httpclient
from fakesock import FakeSock, Opener, response

H = ("127.0.0.1", 8101)
URL = "http://127.0.0.1:8101/music/a/x.wav"


def client(*socks, table=None):
    op = Opener(table if table is not None else {H: list(socks)})
    c = httpclient.HTTPClient(1.0, 1.0, opener=op)
    return c, op


def read_body(resp, bufsize=7):
    buf = bytearray(bufsize)
    out = bytearray()
    while True:
        n = resp.readinto(buf)
        if n == 0:
            return bytes(out)
        out.extend(buf[:n])


def raises(exc, fn, *args, **kw):
    try:
        fn(*args, **kw)
    except exc as e:
        return e
    raise AssertionError("%s not raised" % exc.__name__)


def test_request_bytes_carry_host_port_range_and_keepalive():
    s = FakeSock(response(206, b"ab", ["Content-Length: 2", "Content-Range: bytes 5-6/7"]))
    c, _ = client(s)
    r = c.request("GET", URL, range_from=5)
    assert bytes(s.sent) == (b"GET /music/a/x.wav HTTP/1.1\r\nHost: 127.0.0.1:8101\r\n"
                             b"Connection: keep-alive\r\nRange: bytes=5-\r\n\r\n")
    assert r.status == 206 and r.headers["content-range"] == "bytes 5-6/7"
    assert read_body(r) == b"ab"


def test_content_length_body_with_short_reads():
    body = bytes(range(256)) * 3
    c, _ = client(FakeSock(response(200, body, ["Content-Length: 768"]), step=5))
    r = c.request("GET", URL)
    assert r.status == 200
    assert read_body(r, 64) == body


def test_keepalive_reuses_connection_and_stops_at_content_length():
    data = response(200, b"one", ["Content-Length: 3"]) + response(200, b"two", ["Content-Length: 3"])
    s = FakeSock(data)
    c, op = client(s)
    assert read_body(c.request("GET", URL)) == b"one"
    assert read_body(c.request("GET", URL)) == b"two"
    assert len(op.opened) == 1 and not s.closed


def test_connection_close_header_prevents_reuse():
    s1 = FakeSock(response(200, b"one", ["Content-Length: 3", "Connection: close"]))
    s2 = FakeSock(response(200, b"two", ["Content-Length: 3"]))
    c, op = client(s1, s2)
    assert read_body(c.request("GET", URL)) == b"one"
    assert s1.closed
    assert read_body(c.request("GET", URL)) == b"two"
    assert len(op.opened) == 2


def test_stale_kept_alive_connection_is_retried_once_on_a_fresh_one():
    s1 = FakeSock(response(200, b"one", ["Content-Length: 3"]))  # then EOF: server closed it
    s2 = FakeSock(response(200, b"two", ["Content-Length: 3"]))
    c, op = client(s1, s2)
    assert read_body(c.request("GET", URL)) == b"one"
    assert read_body(c.request("GET", URL)) == b"two"
    assert len(op.opened) == 2


def test_chunked_body_with_extensions_and_trailers():
    body = b"4;ext=1\r\nWiki\r\n5\r\npedia\r\nE\r\n in\r\n\r\nchunks.\r\n0\r\nX-T: 1\r\n\r\n"
    data = response(200, body, ["Transfer-Encoding: chunked"]) + response(200, b"z", ["Content-Length: 1"])
    c, op = client(FakeSock(data, step=3))
    assert read_body(c.request("GET", URL), 4) == b"Wikipedia in\r\n\r\nchunks."
    assert read_body(c.request("GET", URL)) == b"z"  # framing left the connection reusable
    assert len(op.opened) == 1


def test_bad_chunk_size_is_bad_response():
    c, _ = client(FakeSock(response(200, b"zz\r\nab\r\n0\r\n\r\n", ["Transfer-Encoding: chunked"])))
    r = c.request("GET", URL)
    e = raises(httpclient.BadResponse, read_body, r)
    assert "chunk size" in e.args[0]


def test_oversize_chunk_size_line_is_bad_response():
    c, _ = client(FakeSock(response(200, b"1" + b" " * 40 + b"\r\na\r\n", ["Transfer-Encoding: chunked"])))
    e = raises(httpclient.BadResponse, read_body, c.request("GET", URL))
    assert "too long" in e.args[0]


def test_chunked_body_cut_short_is_dropped():
    c, _ = client(FakeSock(response(200, b"a\r\n01234", ["Transfer-Encoding: chunked"])))
    raises(httpclient.Dropped, read_body, c.request("GET", URL))


def test_close_delimited_body_reads_to_eof():
    s = FakeSock(b"HTTP/1.0 200 OK\r\nServer: old\r\n\r\n" + b"x" * 1000, step=100)
    c, _ = client(s)
    r = c.request("GET", URL)
    assert read_body(r, 64) == b"x" * 1000
    assert s.closed and c.idle is None


def test_truncated_content_length_body_is_dropped():
    c, _ = client(FakeSock(response(200, b"abc", ["Content-Length: 10"])))
    r = c.request("GET", URL)
    raises(httpclient.Dropped, read_body, r)


def test_garbage_status_line_is_bad_response():
    c, _ = client(FakeSock(b"SSH-2.0-OpenSSH\r\n\r\n"))
    e = raises(httpclient.BadResponse, c.request, "GET", URL)
    assert e.args[0] == "bad status line"


def test_non_numeric_status_is_bad_response():
    c, _ = client(FakeSock(b"HTTP/1.1 2x0 OK\r\n\r\n"))
    raises(httpclient.BadResponse, c.request, "GET", URL)


def test_oversize_header_line_is_bad_response():
    c, _ = client(FakeSock(b"HTTP/1.1 200 OK\r\nX-Big: " + b"a" * 600 + b"\r\n\r\n"))
    e = raises(httpclient.BadResponse, c.request, "GET", URL)
    assert e.args[0] == "header line too long"


def test_header_line_of_exactly_512_bytes_is_accepted():
    line = "Content-Range: " + "a" * 497
    assert len(line) == 512
    c, _ = client(FakeSock(response(200, b"", [line, "Content-Length: 0"])))
    assert c.request("GET", URL).headers["content-range"] == "a" * 497


def test_only_the_headers_the_device_reads_are_kept():
    c, _ = client(FakeSock(response(200, b"", ["Server: x", "ETag: \"1\"", "Retry-After: 3",
                                               "Content-Length: 0"])))
    assert c.request("GET", URL).headers == {"retry-after": "3", "content-length": "0"}


def test_too_many_headers_is_bad_response():
    hs = ["X-%d: 1" % i for i in range(33)]
    c, _ = client(FakeSock(response(200, b"", hs)))
    e = raises(httpclient.BadResponse, c.request, "GET", URL)
    assert e.args[0] == "too many headers"


def test_header_without_colon_is_bad_response():
    c, _ = client(FakeSock(b"HTTP/1.1 200 OK\r\nnonsense\r\n\r\n"))
    raises(httpclient.BadResponse, c.request, "GET", URL)


def test_bad_content_length_is_bad_response():
    c, _ = client(FakeSock(response(200, b"", ["Content-Length: -5"])))
    raises(httpclient.BadResponse, c.request, "GET", URL)


def test_eof_before_status_is_dropped():
    c, _ = client(FakeSock(b"HTTP/1.1 20"))
    raises(httpclient.Dropped, c.request, "GET", URL)


def test_redirects_are_followed_relative_and_absolute():
    other = ("127.0.0.1", 8104)
    table = {H: [FakeSock(response(302, b"", ["Location: /b", "Content-Length: 0"]) +
                          response(301, b"", ["Location: http://127.0.0.1:8104/c", "Content-Length: 0"]))],
             other: [FakeSock(response(200, b"done", ["Content-Length: 4"]))]}
    c, op = client(table=table)
    r = c.request("GET", URL)
    assert r.status == 200 and read_body(r) == b"done"
    assert op.opened == [H, other]


def test_credentials_never_follow_a_redirect_to_another_origin():
    other = ("127.0.0.1", 8104)
    away = FakeSock(response(200, b"done", ["Content-Length: 4"]))
    table = {H: [FakeSock(response(302, b"", ["Location: http://127.0.0.1:8104/c", "Content-Length: 0"]))],
             other: [away]}
    c, op = client(table=table)
    r = c.request("GET", URL, headers={"Authorization": "Bearer tok1"})
    assert r.status == 200 and read_body(r) == b"done" and op.opened == [H, other]
    assert b"tok1" not in bytes(away.sent) and b"Authorization" not in bytes(away.sent)
    # a body is not sent on to another origin either
    table = {H: [FakeSock(response(307, b"", ["Location: http://127.0.0.1:8104/c", "Content-Length: 0"]))],
             other: [FakeSock(b"")]}
    c, op = client(table=table)
    e = raises(httpclient.BadResponse, c.request, "POST", URL, '{"secret": 1}', {"Authorization": "Bearer t"})
    assert "another origin" in e.args[0] and op.opened == [H]
    # the same origin keeps them (a relative redirect)
    s = FakeSock(response(302, b"", ["Location: /b", "Content-Length: 0"]) +
                 response(200, b"ok", ["Content-Length: 2"]))
    c, _ = client(s)
    c.request("GET", URL, headers={"Authorization": "Bearer tok2"})
    assert bytes(s.sent).count(b"Authorization: Bearer tok2") == 2


def test_a_redirect_from_https_to_http_is_refused():
    c, _ = client(FakeSock(b""))
    c.tls = object()   # never used: the redirect is refused before any connection
    c._send = lambda *a: _Redirect("http://127.0.0.1:8104/plain")
    e = raises(httpclient.BadResponse, c.request, "GET", "https://127.0.0.1:8443/x")
    assert e.args[0] == "redirect to another origin"


class _Redirect:
    status = 302

    def __init__(self, loc):
        self.headers = {"location": loc}

    def close(self):
        pass


def test_more_than_three_redirects_is_bad_response():
    loop = response(307, b"", ["Location: /again", "Content-Length: 0"])
    c, _ = client(FakeSock(loop * 5))
    e = raises(httpclient.BadResponse, c.request, "GET", URL)
    assert e.args[0] == "too many redirects"


def test_interim_100_continue_is_skipped():
    c, _ = client(FakeSock(b"HTTP/1.1 100 Continue\r\n\r\n" + response(200, b"ok", ["Content-Length: 2"])))
    r = c.request("POST", URL, body=b"{}")
    assert r.status == 200 and read_body(r) == b"ok"


def test_post_sends_content_length_and_body():
    s = FakeSock(response(200, b"{}", ["Content-Length: 2"]))
    c, _ = client(s)
    c.request("POST", "http://127.0.0.1:8101/api/v1/x", body='{"a": 1}', headers={"X-K": "v"})
    assert bytes(s.sent).endswith(b"X-K: v\r\nContent-Length: 8\r\n\r\n{\"a\": 1}")


def test_read_all_refuses_a_body_over_its_limit():
    c, _ = client(FakeSock(response(200, b"x" * 3000, ["Content-Length: 3000"])))
    e = raises(httpclient.BadResponse, c.request("GET", URL).read_all, 2048)
    assert e.args[0] == "body too large"
    c, _ = client(FakeSock(response(200, b"800\r\n" + b"x" * 2048 + b"\r\n1\r\ny\r\n0\r\n\r\n",
                                    ["Transfer-Encoding: chunked"])))
    raises(httpclient.BadResponse, c.request("GET", URL).read_all, 2048)


def test_read_all_reads_a_chunked_body():
    c, _ = client(FakeSock(response(200, b"3\r\nabc\r\n200\r\n" + b"d" * 512 + b"\r\n0\r\n\r\n",
                                    ["Transfer-Encoding: chunked"]), step=50))
    assert c.request("GET", URL).read_all(2048) == b"abc" + b"d" * 512


def test_split_url():
    assert httpclient.split_url("http://h:81/a/b") == ("h", 81, "/a/b", False)
    assert httpclient.split_url("http://h") == ("h", 80, "/", False)
    assert httpclient.split_url("https://h/x") == ("h", 443, "/x", True)
    assert httpclient.split_url("https://h:8443") == ("h", 8443, "/", True)
    raises(httpclient.BadResponse, httpclient.split_url, "ftp://h/x")
    raises(httpclient.BadResponse, httpclient.split_url, "http://h:zz/x")
