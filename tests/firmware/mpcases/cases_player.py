# The player with its collaborators handed in (transport, sink, event output, sleep, clock), over
# fake sockets: the one retry helper as login, calls and reports use it; both interpreters.
# Under micropython in a 76K heap (HEAP): this module loads the whole firmware beside its own
# code, where the device's 64K holds the firmware and its buffers only. (72K until the player's
# stream hooks, issue 15, which cost about 1K: at 72K it then ran out of memory now and then on
# a busy machine, its backoff loops running longer.)
import json

import httpclient
import player
import sinks
from fakesock import FakeSock, Opener, response

HEAP = "76K"

META = ("127.0.0.1", 8000)
UA = "http://127.0.0.1:8101/m/a.bin"


def answer(status, doc=None, headers=()):
    body = json.dumps(doc).encode() if doc is not None else b""
    return FakeSock(response(status, body, ["Content-Length: %d" % len(body), "Connection: close"]
                             + list(headers)))


def login_answers(token="t1"):
    return [answer(200, {"nonce": "ab" * 16}), answer(200, {"token": token, "ttl": 600, "program": 1})]


class Parts:
    """What the player is handed, recording what it did with it."""

    def __init__(self, socks):
        self.opener = Opener({META: socks})
        self.events = []
        self.slept = []
        self.now = 1000

    def transport(self, cto, rto, tls=None):
        return httpclient.HTTPClient(cto, rto, opener=self.opener)

    def emit(self, tag, pairs):
        self.events.append((tag, dict(pairs)))

    def sleep_ms(self, ms):
        self.slept.append(ms)
        self.now += ms

    def clock(self):
        self.now += 250  # each look at the clock is 250 ms later
        return self.now

    def tags(self, tag):
        return [p for t, p in self.events if t == tag]


def make(socks, **over):
    cfg = {"server": "http://127.0.0.1:8000", "device": "dev1",
           "secret": "00112233445566778899aabbccddeeff", "connect_timeout": 0.2,
           "read_timeout": 0.2, "state": None, "sink": None, "items": 1, "program": None,
           "idle_wait": 0.5, "backoff_base": 1.0, "backoff_cap": 4.0, "ca": None}
    for k in over:
        cfg[k] = over[k]
    parts = Parts(socks)
    p = player.Player(cfg, bytearray(256), None, transport=parts.transport,
                      sink=sinks.NullSink(), emit=parts.emit, sleep_ms=parts.sleep_ms,
                      clock=parts.clock)
    return p, parts


def test_login_backs_off_through_the_handed_sleep_then_logs_in():
    p, parts = make([answer(503, {"error": "busy"})] + login_answers())
    p.login()
    assert p.meta.token == "t1"
    assert [t for t, _ in parts.events] == ["BACKOFF", "LOGIN"]
    assert parts.tags("BACKOFF")[0]["why"] == "503"
    assert len(parts.slept) == 1 and 0 <= parts.slept[0] < 1000  # full jitter, first failure
    assert parts.tags("LOGIN") == [{"device": "dev1", "program": 1}]


def test_login_backs_off_on_a_refused_login_too():
    p, parts = make([answer(200, {"nonce": "ab" * 16}), answer(403, {"error": "no"})] + login_answers())
    p.login()
    assert [b["why"] for b in parts.tags("BACKOFF")] == ["403"] and p.meta.token == "t1"


def test_a_call_answered_401_logs_in_again_without_backoff():
    p, parts = make([answer(401, {"error": "token"})] + login_answers("t2") + [answer(204)])
    p.meta.token = "old"
    assert p.retry(p.meta.next) is None
    assert p.meta.token == "t2" and parts.tags("BACKOFF") == [] and parts.slept == []


def test_a_call_answered_4xx_raises_and_5xx_backs_off():
    p, parts = make([answer(500), answer(404, {"error": "gone"})])
    p.meta.token = "t"
    try:
        p.retry(p.meta.next)
        assert False, "a 404 was retried"
    except player.MetaError as e:
        assert e.status == 404
    assert [b["why"] for b in parts.tags("BACKOFF")] == ["500"]


def test_429_waits_at_least_retry_after():
    p, parts = make([answer(429, {"error": "slow"}, ["Retry-After: 3"]), answer(204)])
    p.meta.token = "t"
    assert p.retry(p.meta.next) is None
    b = parts.tags("BACKOFF")
    assert len(b) == 1 and b[0]["why"] == "429" and b[0]["s"] >= 3
    assert 3000 <= parts.slept[0] < 4000


def test_a_network_failure_backs_off_with_its_reason():
    p, parts = make([httpclient.Timeout("connect"), answer(204)])
    p.meta.token = "t"
    assert p.retry(p.meta.next) is None
    assert [b["why"] for b in parts.tags("BACKOFF")] == ["timeout"]


def test_backoff_grows_with_consecutive_failures_and_stops_at_the_cap():
    p, parts = make([answer(503) for _ in range(6)] + [answer(204)])
    p.meta.token = "t"
    assert p.retry(p.meta.next) is None
    caps = [1000, 2000, 4000, 4000, 4000, 4000]
    assert len(parts.slept) == 6
    for ms, cap in zip(parts.slept, caps):
        assert 0 <= ms < cap, (parts.slept, caps)
    assert p.failures == 0  # reset by the answer


class _Res:
    status, src, bytes, ms, errors, underruns = "played", UA, 3, 5, [], -1


def test_a_report_is_retried_until_taken_however_long_the_server_is_away():
    p, parts = make([answer(503) for _ in range(5)] + [answer(502), answer(200, {"next_pos": 1})])
    p.meta.token = "t"
    assert p.report({"id": 3, "pos": 0}, _Res()) is True
    assert [b["why"] for b in parts.tags("BACKOFF")] == ["report 503"] * 5 + ["report 502"]
    assert p.state.get("report") is None


def test_a_report_refused_with_4xx_is_not_retried_and_not_kept():
    p, parts = make([answer(400, {"error": "bad"})])
    p.meta.token = "t"
    assert p.report({"id": 3, "pos": 0}, _Res()) is False
    assert parts.tags("BACKOFF") == [] and p.state.get("report") is None


def test_a_kept_report_is_delivered_before_the_next_item_is_asked_for():
    taken = answer(200, {"next_pos": 1})
    nxt = answer(204)
    p, parts = make([answer(503), taken, nxt])
    p.meta.token = "t"
    p.state.save(report={"id": 3, "pos": 0, "status": "played", "src": UA, "bytes": 3,
                         "ms": 5, "errors": []}, id=3, pos=0)
    assert p.play_one() is False
    assert b"POST /api/v1/report " in bytes(taken.sent) and b"GET /api/v1/next?pos=1 " in bytes(nxt.sent)
    assert [b["why"] for b in parts.tags("BACKOFF")] == ["report 503"]
    assert p.state.get("report") is None and p.state.get("id") is None


def test_a_report_delivered_after_a_drop_sends_the_same_document():
    second = answer(200, {"next_pos": 1})
    p, parts = make([FakeSock(b""), second])
    p.meta.token = "t"
    assert p.report({"id": 3, "pos": 0}, _Res()) is True
    sent = second.sent
    body = json.loads(bytes(sent[sent.find(b"\r\n\r\n") + 4:]))
    assert body == {"id": 3, "pos": 0, "status": "played", "src": UA, "bytes": 3, "ms": 5,
                    "errors": []}
    assert [b["why"] for b in parts.tags("BACKOFF")] == ["report dropped"]


def test_item_time_comes_from_the_handed_clock():
    item = {"id": 3, "pos": 0, "size": 3, "src": [UA],
            "sha256": "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"}
    p, parts = make([answer(200, item), answer(200, {"next_pos": 1})])
    p.meta.token = "t"
    parts.opener.table[("127.0.0.1", 8101)] = [
        FakeSock(response(200, b"abc", ["Content-Length: 3"]))]
    assert p.play_one() is True
    it = parts.tags("ITEM")[0]
    assert it["verified"] == 1 and it["src"] == UA
    assert it["ms"] == 250  # the fetch looked at the handed clock when it began and ended
