# HMAC and meta client cases; both interpreters.
import json

import httpclient
import metaclient
from compat import hexlify
from fakesock import FakeSock, Opener, response
from hmacsha256 import hmac_sha256

M = ("127.0.0.1", 8100)
SERVER = "http://127.0.0.1:8100"


def raises(exc, fn, *args):
    try:
        fn(*args)
    except exc as e:
        return e
    raise AssertionError("%s not raised" % exc.__name__)


def jresp(status, doc, extra=()):
    body = json.dumps(doc).encode()
    return response(status, body, ["Content-Type: application/json",
                                   "Content-Length: %d" % len(body)] + list(extra))


def meta_client(data, step=0):
    s = FakeSock(data, step)
    http = httpclient.HTTPClient(1.0, 1.0, opener=Opener({M: [s]}))
    return metaclient.MetaClient(http, SERVER, "dev1", "00112233445566778899aabbccddeeff"), s


def test_hmac_sha256_rfc4231_vectors():
    assert hexlify(hmac_sha256(b"\x0b" * 20, b"Hi There")) == \
        "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"
    assert hexlify(hmac_sha256(b"Jefe", b"what do ya want for nothing?")) == \
        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
    assert hexlify(hmac_sha256(b"\xaa" * 131, b"Test Using Larger Than Block-Size Key - Hash Key First")) == \
        "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"


def test_login_sends_challenge_then_proof_and_keeps_the_token():
    mc, s = meta_client(jresp(200, {"nonce": "ab" * 16, "ttl": 60}) +
                        jresp(200, {"token": "tok1", "ttl": 3600, "program": 1}), step=17)
    ans = mc.login()
    assert ans["program"] == 1 and mc.token == "tok1"
    sent = bytes(s.sent)
    first, second = sent.split(b"POST /api/v1/login HTTP/1.1")
    assert first.startswith(b"POST /api/v1/login/challenge HTTP/1.1\r\n")
    assert first.endswith(b'{"device": "dev1"}')
    doc = json.loads(second[second.find(b"\r\n\r\n") + 4:])
    assert doc["proof"] == metaclient.proof("00112233445566778899aabbccddeeff", "dev1", "ab" * 16)
    assert doc["nonce"] == "ab" * 16 and doc["device"] == "dev1"
    assert b"Authorization" not in sent


def test_a_nonce_of_another_shape_is_refused_before_anything_is_signed():
    for bad in ("ab" * 15, "AB" * 16, "zz" * 16, "ab" * 16 + ":x", "x\x00" * 16, 12):
        mc, s = meta_client(jresp(200, {"nonce": bad, "ttl": 60}))
        raises(httpclient.BadResponse, mc.login)
        assert b"/api/v1/login HTTP" not in bytes(s.sent)   # no proof was sent


def test_each_use_of_the_secret_signs_its_own_message():
    # a device named "wrap" (or "key") cannot be made to sign what another use signs
    secret, nonce = "00112233445566778899aabbccddeeff", "ab" * 16
    login_wrap = metaclient.proof(secret, "wrap", nonce)
    key = metaclient.key_proof(secret, "wrap", 0, nonce)
    wrap = hexlify(hmac_sha256(secret.encode(), ("wrap\x00%s\x00" % nonce).encode()))
    assert len({login_wrap, key, wrap, metaclient.proof(secret, "key", nonce)}) == 4
    assert login_wrap == hexlify(hmac_sha256(secret.encode(), b"login\x00wrap\x00" + nonce.encode() + b"\x00"))


def test_next_carries_bearer_token_and_parses_meta_data():
    item = {"id": 3, "pos": 2, "size": 10, "sha256": "00" * 32, "type": "audio/wav",
            "title": "T", "by": "B", "src": ["http://a/x"], "future": {"x": 1}}
    mc, s = meta_client(jresp(200, item))
    mc.token = "tok1"
    got = mc.next()
    assert got["src"] == ["http://a/x"] and got["pos"] == 2
    assert b"GET /api/v1/next HTTP/1.1\r\n" in s.sent and b"Authorization: Bearer tok1\r\n" in s.sent


def test_next_204_means_nothing_to_play():
    mc, _ = meta_client(response(204, b"", []))
    mc.token = "t"
    assert mc.next() is None


def test_next_rejects_meta_data_without_sources():
    mc, _ = meta_client(jresp(200, {"id": 3, "size": 1, "sha256": "x", "src": []}))
    mc.token = "t"
    raises(httpclient.BadResponse, mc.next)


def test_meta_data_over_2048_bytes_is_refused():
    mc, _ = meta_client(jresp(200, {"id": 3, "title": "x" * 2100}))
    mc.token = "t"
    e = raises(httpclient.BadResponse, mc.next)
    assert e.args[0] == "body too large"


def test_401_raises_a_meta_error_with_its_status():
    mc, _ = meta_client(jresp(401, {"error": "bad token"}))
    mc.token = "t"
    e = raises(metaclient.MetaError, mc.next)
    assert e.status == 401 and e.msg == "bad token"


def test_429_exposes_retry_after():
    mc, _ = meta_client(jresp(429, {"error": "slow down"}, ["Retry-After: 30"]))
    e = raises(metaclient.TooMany, mc.login)
    assert e.retry_after == 30


def test_report_posts_the_document():
    mc, s = meta_client(jresp(200, {"next_pos": 3}))
    mc.token = "t"
    doc = {"id": 3, "pos": 2, "status": "played", "src": "http://a/x", "bytes": 10, "ms": 5,
           "errors": [["http://b/x", "dropped at 4"]]}
    assert mc.report(doc) == {"next_pos": 3}
    sent = bytes(s.sent)
    assert sent.startswith(b"POST /api/v1/report HTTP/1.1\r\n")
    assert json.loads(sent[sent.find(b"\r\n\r\n") + 4:]) == doc


def test_next_tells_the_position_the_last_answer_gave():
    # ?pos=N lets a replica answer from memory; after a report, the next_pos it answered
    item = {"id": 3, "pos": 2, "size": 10, "sha256": "00" * 32, "src": ["http://a/x"]}
    mc, s = meta_client(jresp(200, item) + jresp(200, {"next_pos": 3}) + jresp(200, item))
    mc.token = "t"
    mc.next()
    mc.report({"id": 3, "pos": 2, "status": "played"})
    mc.next()
    sent = bytes(s.sent)
    assert sent.count(b"GET /api/v1/next") == 2 and b"GET /api/v1/next HTTP/1.1\r\n" in sent
    assert b"GET /api/v1/next?pos=3 HTTP/1.1\r\n" in sent


def test_error_status_with_non_json_body_is_a_meta_error():
    mc, _ = meta_client(response(500, b"<html>oops</html>", ["Content-Length: 17"]))
    mc.token = "t"
    e = raises(metaclient.MetaError, mc.next)
    assert e.status == 500


def test_bad_json_is_bad_response():
    mc, _ = meta_client(response(200, b"{nope", ["Content-Length: 5"]))
    mc.token = "t"
    raises(httpclient.BadResponse, mc.next)
