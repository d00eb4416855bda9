"""Property-based tests of the firmware's parsers (CPython; tests/firmware/mpcases/cases_nasty.py
runs the nastiest inputs found here under micropython too): any response a server may send, any
framing, any meta data document ends in a clean result or a clean error, never an uncaught
exception or a hang."""
import json
import os
import sys

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [os.path.join(HERE, "..", "firmware")]
import fwpaths  # noqa: E402,F401  (puts firmware/ and the mpcases on sys.path)
import httpclient  # noqa: E402
import metaclient  # noqa: E402
import sinks  # noqa: E402
from fakesock import FakeSock, Opener  # noqa: E402
from fetch import fetch  # noqa: E402

HOST = ("127.0.0.1", 8101)
URL = "http://127.0.0.1:8101/m/x.bin"
SETTINGS = settings(max_examples=int(os.environ.get("FUZZ_EXAMPLES", "300")), deadline=None, suppress_health_check=[HealthCheck.too_slow])

token = st.text(st.characters(min_codepoint=33, max_codepoint=126, blacklist_characters=":"), min_size=1, max_size=12)
number = st.one_of(st.integers(-5, 3000).map(str), st.sampled_from(["", " ", "x", "1e3", "0x10", "9" * 30, "-0", "+5"]))
header = st.one_of(
    st.tuples(st.sampled_from(["Content-Length", "content-length", "CONTENT-LENGTH"]), number),
    st.tuples(st.sampled_from(["Transfer-Encoding"]), st.sampled_from(["chunked", "Chunked", "gzip, chunked", "identity", ""])),
    st.tuples(st.sampled_from(["Content-Range"]), st.sampled_from(["bytes 0-9/10", "bytes 5-", "bytes x-y/z", "", "bytes 0-0/1"])),
    st.tuples(st.sampled_from(["Location"]), st.sampled_from(["/a", "http://127.0.0.1:8101/b", "ftp://x/", "", "http://"])),
    st.tuples(st.sampled_from(["Connection"]), st.sampled_from(["close", "keep-alive", ""])),
    st.tuples(token, st.text(max_size=40)),
)
status_line = st.one_of(
    st.builds(lambda c, r: "HTTP/1.1 %s %s" % (c, r), st.sampled_from(["200", "206", "204", "301", "302", "404", "500", "99", "1000", "abc", ""]), st.text(max_size=10)),
    st.text(max_size=80),
    st.just("X" * 600),
)


def chunked(parts, garbage):
    out = b""
    for p in parts:
        out += b"%x\r\n" % len(p) + p + b"\r\n"
    return out + (garbage if garbage is not None else b"0\r\n\r\n")


body = st.one_of(
    st.binary(max_size=400),
    st.builds(chunked, st.lists(st.binary(min_size=1, max_size=60), max_size=5),
              st.one_of(st.none(), st.binary(max_size=40), st.sampled_from([b"zz\r\n", b"ffffffffffffffffffffff\r\n", b"5;ext=1\r\nabcde\r\n0\r\n\r\n"]))),
)


@st.composite
def responses(draw):
    head = draw(status_line)
    hs = draw(st.lists(header, max_size=40))
    lines = [head] + ["%s: %s" % (k, v) for k, v in hs]
    text = "\r\n".join(lines).encode("utf-8", "replace")
    if draw(st.booleans()):
        text += b"\r\n\r\n"
    return text + draw(body)


def client_for(data, step):
    return httpclient.HTTPClient(0.2, 0.2, opener=Opener({HOST: [FakeSock(data, step)]}))


def drain(resp, limit=20000):
    buf = bytearray(64)
    got = 0
    for _ in range(limit):
        n = resp.readinto(buf)
        if not n:
            return got
        got += n
    raise AssertionError("the body never ended")


@SETTINGS
@given(responses(), st.integers(0, 50))
def test_any_response_ends_in_a_result_or_an_http_error(data, step):
    c = client_for(data, step)
    try:
        resp = c.request("GET", URL)
        drain(resp)
    except httpclient.HTTPError:
        pass
    except IndexError as e:  # ran out of fake sockets: a redirect to the same server, fine
        assert "pop" in str(e)


@SETTINGS
@given(st.lists(st.binary(min_size=1, max_size=30), max_size=6), st.integers(513, 2000))
def test_a_line_over_512_bytes_is_a_bad_response(headers, long_len):
    data = b"HTTP/1.1 200 OK\r\nX-Long: " + b"a" * long_len + b"\r\nContent-Length: 0\r\n\r\n"
    c = client_for(data, 0)
    try:
        c.request("GET", URL)
        raise AssertionError("a %d-byte header line was accepted" % long_len)
    except httpclient.BadResponse:
        pass


json_value = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-2**40, 2**40), st.floats(allow_nan=False), st.text(max_size=20)),
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)),
    max_leaves=12)
meta_doc = st.fixed_dictionaries({}, optional={
    "id": st.one_of(st.integers(-3, 10), json_value), "pos": json_value,
    "size": st.one_of(st.integers(-5, 300), json_value),
    "sha256": st.one_of(st.just("00" * 32), json_value),
    "src": st.one_of(st.lists(st.one_of(st.just(URL), st.sampled_from(["", "http://", "ftp://x", "http://127.0.0.1:0/x", "http://[::1/x"]), json_value), max_size=3), json_value),
    "sec": st.one_of(json_value, st.fixed_dictionaries({}, optional={
        "enc": json_value, "plain": json_value, "plain_sha256": json_value, "piece": json_value})),
})


@SETTINGS
@given(st.one_of(meta_doc, json_value), st.binary(max_size=200))
def test_any_meta_document_is_refused_cleanly_or_fetched_cleanly(doc, served):
    body = json.dumps(doc).encode()
    meta_resp = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body) + body
    http = httpclient.HTTPClient(0.2, 0.2, opener=Opener({("127.0.0.1", 8000): [FakeSock(meta_resp)],
                                                          HOST: [FakeSock(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(served) + served)]}))
    mc = metaclient.MetaClient(http, "http://127.0.0.1:8000", "dev1", "00" * 16)
    mc.token = "t"
    try:
        item = mc.next()
    except httpclient.HTTPError:
        return
    res = fetch(http, item, sinks.NullSink(), bytearray(64))
    assert res.status in ("played", "failed")
