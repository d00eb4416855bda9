# Fetch-with-failover cases over fake sockets; both interpreters.
import hashlib
import os

import httpclient
import sinks
from compat import hexlify
from fakesock import FakeSock, Opener, response
from fetch import fetch

A = ("127.0.0.1", 8101)
B = ("127.0.0.1", 8104)
C = ("127.0.0.1", 8105)
UA = "http://127.0.0.1:8101/m/a.wav"
UB = "http://127.0.0.1:8104/mirror/a.wav"
UC = "http://127.0.0.1:8105/mirror/a.wav"
BODY = bytes(range(256)) * 4 + b"tail"  # 1028 bytes


def sha(data):
    h = hashlib.sha256()
    h.update(data)
    return hexlify(h.digest())


def meta(srcs=(UA, UB), body=BODY):
    return {"id": 3, "pos": 2, "size": len(body), "sha256": sha(body), "src": list(srcs)}


class RecSink(sinks.Sink):
    def __init__(self):
        self.data = bytearray()
        self.restarts = 0
        self.ended = None

    def write(self, mv):
        self.data.extend(mv)

    def restart(self):
        self.restarts += 1
        self.data = bytearray()

    def end(self, ok):
        self.ended = ok


def run(table, m=None, sink=None, bufsize=100, resume=False):
    op = Opener(table)
    c = httpclient.HTTPClient(1.0, 1.0, opener=op)
    events = []
    sink = sink or RecSink()
    res = fetch(c, m or meta(), sink, bytearray(bufsize), lambda t, p: events.append((t, dict(p))), resume)
    return res, sink, events


def ok200(body=BODY, step=0):
    return FakeSock(response(200, body, ["Content-Length: %d" % len(body)]), step)


def test_primary_serves_whole_item():
    res, sink, events = run({A: [ok200(step=33)]})
    assert (res.status, res.src, res.bytes, res.verified) == ("played", UA, len(BODY), 1)
    assert res.errors == [] and res.failovers == 0 and res.resumed == 0 and events == []
    assert bytes(sink.data) == BODY and sink.ended is True


def test_404_moves_to_the_alternate():
    res, sink, events = run({A: [FakeSock(response(404, b"", ["Content-Length: 0"]))], B: [ok200()]})
    assert res.status == "played" and res.src == UB and res.failovers == 1
    assert res.errors == [[UA, "404"]]
    assert events == [("FAIL", {"id": 3, "src": UA, "why": "404", "at": 0})]


def test_refused_and_timeout_are_named():
    res, sink, _ = run({B: [httpclient.Timeout("connect")], C: [ok200()]}, meta((UA, UB, UC)))
    assert res.errors == [[UA, "refused"], [UB, "timeout"]] and res.src == UC and res.failovers == 2


def test_drop_mid_stream_resumes_with_range_on_the_next_source():
    cut = FakeSock(response(200, BODY[:300], ["Content-Length: %d" % len(BODY)]))
    rest = FakeSock(response(206, BODY[300:], ["Content-Length: %d" % (len(BODY) - 300),
                                               "Content-Range: bytes 300-%d/%d" % (len(BODY) - 1, len(BODY))]))
    res, sink, events = run({A: [cut], B: [rest]})
    assert b"Range: bytes=300-\r\n" in rest.sent and b"Range" not in cut.sent
    assert res.status == "played" and res.resumed == 1 and res.src == UB
    assert res.errors == [[UA, "dropped at 300"]]
    assert events[0][1]["at"] == 300
    assert bytes(sink.data) == BODY and sink.restarts == 0


def test_200_answer_to_a_range_request_skips_bytes_already_held():
    cut = FakeSock(response(200, BODY[:250], ["Content-Length: %d" % len(BODY)]))
    res, sink, _ = run({A: [cut], B: [ok200(step=64)]})
    assert res.status == "played" and res.resumed == 0
    assert bytes(sink.data) == BODY  # nothing written twice


def test_206_starting_at_the_wrong_byte_is_a_source_failure():
    cut = FakeSock(response(200, BODY[:300], ["Content-Length: %d" % len(BODY)]))
    wrong = FakeSock(response(206, BODY[0:], ["Content-Length: %d" % len(BODY),
                                              "Content-Range: bytes 0-%d/%d" % (len(BODY) - 1, len(BODY))]))
    good = FakeSock(response(206, BODY[300:], ["Content-Length: %d" % (len(BODY) - 300),
                                               "Content-Range: bytes 300-1027/1028"]))
    res, sink, _ = run({A: [cut], B: [wrong], C: [good]}, meta((UA, UB, UC)))
    assert res.errors == [[UA, "dropped at 300"], [UB, "bad response: content-range"]]
    assert res.status == "played" and bytes(sink.data) == BODY


def test_sha256_mismatch_restarts_the_item_from_byte_0_on_the_next_source():
    bad = BODY[:500] + b"X" + BODY[501:]
    second = ok200()
    res, sink, events = run({A: [ok200(bad)], B: [second]})
    assert res.errors == [[UA, "sha256"]] and sink.restarts == 1
    assert b"Range" not in second.sent
    assert events[0][1]["at"] == len(BODY)
    assert res.status == "played" and bytes(sink.data) == BODY


def test_every_source_failing_reports_failed():
    res, sink, _ = run({A: [FakeSock(response(500, b"", ["Content-Length: 0"]))],
                        B: [FakeSock(b"garbage\r\n\r\n")]})
    assert res.status == "failed" and res.src is None and res.verified == 0
    assert res.errors == [[UA, "500"], [UB, "bad response: bad status line"]]
    assert sink.ended is False


def test_body_longer_than_size_stops_at_size():
    s = ok200(BODY + b"extra")
    res, sink, _ = run({A: [s]})
    assert res.status == "played" and bytes(sink.data) == BODY
    assert s.closed  # unread bytes left: the connection is not reused


def test_file_sink_resumes_an_item_it_partly_holds():
    d = "/tmp/fw-test-sink-%s" % hexlify(os.urandom(4))
    fs = sinks.FileSink(d)
    with open(d + "/3", "wb") as f:
        f.write(BODY[:400])
    rest = FakeSock(response(206, BODY[400:], ["Content-Length: %d" % (len(BODY) - 400),
                                               "Content-Range: bytes 400-1027/1028"]))
    res, _, _ = run({A: [rest]}, sink=fs, resume=True)
    assert b"Range: bytes=400-\r\n" in rest.sent
    assert res.status == "played" and res.resumed == 1
    with open(d + "/3", "rb") as f:
        assert f.read() == BODY
    os.remove(d + "/3")
    os.rmdir(d)


def test_file_sink_without_resume_starts_over():
    d = "/tmp/fw-test-sink-%s" % hexlify(os.urandom(4))
    fs = sinks.FileSink(d)
    with open(d + "/3", "wb") as f:
        f.write(b"junk")
    first = ok200()
    res, _, _ = run({A: [first]}, sink=fs, resume=False)
    assert b"Range" not in first.sent and res.status == "played"
    with open(d + "/3", "rb") as f:
        assert f.read() == BODY
    os.remove(d + "/3")
    os.rmdir(d)


def test_file_sink_holding_the_whole_item_needs_no_request():
    d = "/tmp/fw-test-sink-%s" % hexlify(os.urandom(4))
    fs = sinks.FileSink(d)
    with open(d + "/3", "wb") as f:
        f.write(BODY)
    res, _, _ = run({}, sink=fs, resume=True)  # no server at all
    assert res.status == "played" and res.bytes == len(BODY) and res.src is None and res.errors == []
    with open(d + "/3", "wb") as f:
        f.write(BODY[:-1] + b"!")  # complete but wrong: start over from byte 0
    first = ok200()
    res, _, _ = run({A: [first]}, sink=fs, resume=True)
    assert b"Range" not in first.sent and res.status == "played"
    with open(d + "/3", "rb") as f:
        assert f.read() == BODY
    os.remove(d + "/3")
    os.rmdir(d)
