# Paced play: fetch into the paced sink (the jitter ring drained at the item's rate) against a
# clock that only the network and the sink's waits move, so every underrun and its length follow
# from the numbers below; both interpreters. A source is a body that hands out STEP bytes a read,
# each read taking READ_MS, and fails as told: a stall (the read timeout passes, then Timeout), a
# drop, a refused connection, a 404, or a trickle (a few bytes every so often).
import gc
import hashlib

import sinks
from compat import hexlify
from fetch import Progress, fetch
from httpconn import Dropped, Refused, Status, Timeout
from pacedsink import PacedSink

RATE = 4000          # bytes per second: the ring below holds 256 ms of it
RING = 1024
BUF = 256
STEP = 256
READ_MS = 1
CONNECT_MS = 5
TIMEOUT_MS = 500     # the read timeout, and the slow rule's window
DATA = bytes(range(256)) * 24   # 6144 bytes: 1536 ms of playback
UA, UB, UC = "http://a/x", "http://b/x", "http://c/x"
SILENT = (TIMEOUT_MS + CONNECT_MS - RING * 1000 // RATE,
          TIMEOUT_MS + CONNECT_MS - (RING - STEP - RING // 16) * 1000 // RATE + 4 * READ_MS)


def sha(data):
    h = hashlib.sha256()
    h.update(data)
    return hexlify(h.digest())


class Clock:
    def __init__(self):
        self.now = 0
        self.slept = 0

    def __call__(self):
        return self.now

    def sleep_ms(self, ms):
        self.now += ms
        self.slept += ms


class RecSink(sinks.Sink):
    """What was played, as its length and sha256 (a copy would not fit beside the rest)."""

    def __init__(self):
        self.restart()
        self.writes = 0

    def write(self, mv):
        self.h.update(mv)
        self.n += len(mv)
        self.writes += 1

    def restart(self):
        self.h = hashlib.sha256()
        self.n = 0

    def got(self, data):
        return self.n == len(data) and hexlify(self.h.digest()) == sha(data)


class Body:
    """A response body from byte `start`: STEP bytes a read, READ_MS each; after `upto` bytes of
    the item it fails as `fault` says (None: serves to the end)."""

    def __init__(self, clock, data, start, upto=None, fault=None, step=STEP, ms=READ_MS):
        self.clock = clock
        self.data = data
        self.at = start
        self.upto = upto
        self.fault = fault
        self.step = step
        self.ms = ms
        self.done = False
        self.status = 206 if start else 200
        self.headers = {}

    def readinto(self, buf, n):
        if self.upto is not None and self.at >= self.upto:
            if self.fault == "stall":
                self.clock.now += TIMEOUT_MS
                raise Timeout("read")
            raise Dropped("closed")
        data = self.data
        n = min(n, self.step, len(data) - self.at)
        if self.upto is not None:
            n = min(n, self.upto - self.at)
        self.clock.now += self.ms
        buf[:n] = data[self.at:self.at + n]
        self.at += n
        if self.at == len(data):
            self.done = True
        return n

    def close(self):
        self.done = True


class Net:
    """opener(client, url, have) for fetch: per url, what the next request meets: (upto, fault)
    of a Body, or "refused" or 404 at connect; data: per url, the bytes it serves."""

    def __init__(self, clock, plan, data):
        self.clock = clock
        self.plan = plan
        self.data = data
        self.opened = []

    def __call__(self, client, url, have):
        self.clock.now += CONNECT_MS
        self.opened.append((url, have))
        p = self.plan[url]
        if p == "refused":
            raise Refused("refused")
        if p == 404:
            raise Status(404)
        upto, fault = p
        data = self.data.get(url, DATA) if isinstance(self.data, dict) else self.data
        if fault == "trickle":  # 32 bytes every 100 ms (320 B/s) from byte upto on
            b = Trickle(self.clock, data, have, upto or 0)
        else:
            b = Body(self.clock, data, have, upto, fault)
        return b, 0


class Trickle(Body):
    """Fast up to byte `turn`, then 32 bytes every 100 ms (320 B/s)."""

    def __init__(self, clock, data, start, turn):
        Body.__init__(self, clock, data, start)
        self.turn = turn

    def readinto(self, buf, n):
        if self.at >= self.turn:
            self.step, self.ms = 32, 100
        return Body.readinto(self, buf, n)


def play(plan, srcs, rate=RATE, ring=RING, data=DATA, served=None):
    """fetch of an item of `data` at `rate` through a PacedSink of `ring` bytes into a RecSink:
    (Result, RecSink, FAIL events, Net)."""
    clock = Clock()
    out = RecSink()
    sink = PacedSink(bytearray(ring), out, 1, clock, clock.sleep_ms)
    meta = {"id": 5, "pos": 0, "size": len(data), "sha256": sha(data), "src": list(srcs)}
    if rate:
        meta["rate"] = rate
    events = []
    net = Net(clock, plan, served or data)
    res = fetch(None, meta, sink, bytearray(BUF), lambda t, p: events.append((t, dict(p))),
                clock=clock, opener=net, prog=Progress(clock, TIMEOUT_MS))
    net.fetched = clock.now  # the last byte is in the ring; its tail plays on (gapless)
    sink.close()             # played out, as the player does when it stops
    net.played = clock.now
    net.slept = clock.slept
    return res, out, events, net


def test_paced_play_plays_at_the_rate_without_underruns():
    res, out, events, net = play({UA: (None, None)}, [UA])
    assert res.status == "played" and res.verified == 1 and out.got(DATA)
    assert res.underruns == 0 and res.underrun_ms == 0 and events == []
    # the network took 29 ms; the rest is playing 6144 bytes at 4000 B/s, the last ring of them
    # after the fetch (end() leaves the tail playing; close() plays it out)
    assert 1536 <= net.played <= 1536 + 29 + 2, net.played
    assert res.ms == net.fetched and net.played - res.ms >= (RING - STEP) * 1000 // RATE
    assert out.writes == len(DATA) // (RING // 16)  # a block at a time


def test_an_item_without_a_rate_goes_straight_through_unpaced():
    res, out, events, net = play({UA: (None, None)}, [UA], rate=None)
    assert res.status == "played" and out.got(DATA)
    assert res.underruns == -1 and net.slept == 0 and res.ms == CONNECT_MS + len(DATA) // STEP


def test_a_stall_mid_item_is_one_underrun_as_long_as_the_stall_outlasts_the_ring():
    res, out, events, net = play({UA: (2048, "stall"), UB: (None, None)}, [UA, UB])
    assert res.status == "played" and out.got(DATA) and res.src == UB
    assert res.errors == [[UA, "timeout"]] and res.resumed == 1
    assert res.underruns == 1
    # silent from the ring's last byte until it is full again: the 500 ms stall and the 5 ms
    # connect, less what the ring held (at most 256 ms; at least 128: a write waits for room
    # for its 256 bytes, which frees in blocks of 64), plus refilling it (4 reads)
    assert SILENT[0] <= res.underrun_ms <= SILENT[1], res.underrun_ms


def test_a_drop_mid_item_resumes_before_the_ring_runs_dry():
    res, out, events, net = play({UA: (2048, "drop"), UB: (None, None)}, [UA, UB])
    assert res.status == "played" and out.got(DATA)
    assert res.errors == [[UA, "dropped at 2048"]] and res.underruns == 0


def test_refused_and_404_alternates_mid_item_pass_without_an_underrun():
    for bad in ("refused", 404):
        res, out, events, net = play({UA: (2048, "drop"), UB: bad, UC: (None, None)},
                                       [UA, UB, UC])
        assert res.status == "played" and out.got(DATA) and res.src == UC
        assert [e[1] for e in res.errors] == ["dropped at 2048", str(bad)]
        assert res.underruns == 0 and res.failovers == 2


def test_two_stalls_are_two_underruns_and_their_lengths_add_up():
    res, out, events, net = play({UA: (2048, "stall"), UB: (4096, "stall"),
                                    UC: (None, None)}, [UA, UB, UC])
    assert res.status == "played" and out.got(DATA)
    assert [e[1] for e in res.errors] == ["timeout", "timeout"]
    assert res.underruns == 2
    assert 2 * SILENT[0] <= res.underrun_ms <= 2 * SILENT[1], res.underrun_ms


def test_a_ring_that_outlasts_the_stall_hides_it():
    res, out, events, net = play({UA: (2048, "stall"), UB: (None, None)}, [UA, UB], ring=4096)
    assert res.errors == [[UA, "timeout"]] and out.got(DATA)
    assert res.underruns == 0 and res.underrun_ms == 0  # 1024 ms of ring, a 505 ms gap


def test_a_trickling_source_is_abandoned_as_slow_for_the_alternate_at_the_byte_reached():
    res, out, events, net = play({UA: (0, "trickle"), UB: (None, None)}, [UA, UB])
    assert res.status == "played" and out.got(DATA) and res.src == UB
    assert res.errors == [[UA, "slow"]] and res.resumed == 1
    tag, fail = events[0]
    assert tag == "FAIL" and fail["why"] == "slow" and fail["src"] == UA
    # judged at the read that ends the first window of the read timeout (the fifth read of 32
    # bytes, 100 ms each, 160 of the 2000 bytes due): the bytes of the four before it are kept
    assert fail["at"] == 4 * 32 and net.opened == [(UA, 0), (UB, 4 * 32)]
    assert res.underruns == 0  # it had not started playing: the ring never filled


def test_a_source_that_turns_to_a_trickle_mid_item_is_abandoned():
    res, out, events, net = play({UA: (2048, "trickle"), UB: (None, None)}, [UA, UB])
    assert res.status == "played" and out.got(DATA) and res.src == UB
    assert res.errors == [[UA, "slow"]]
    at = events[0][1]["at"]
    # judged once the ring is under half full, over a window of 500 ms: 5 reads of 32 bytes
    assert 2048 < at <= 2048 + 32 * 10 and net.opened[1] == (UB, at), at
    assert res.underruns == 1  # the ring ran dry while the trickle was judged


def test_the_last_source_is_followed_however_slow():
    data = DATA[:2048]
    res, out, events, net = play({UA: (0, "trickle")}, [UA], data=data)
    assert res.status == "played" and out.got(data) and res.errors == []


def test_a_source_fast_enough_is_never_slow_however_full_the_ring():
    # 256 bytes every 50 ms is 5120 B/s, above the rate: judged, and kept
    res, out, events, net = play({UA: (None, None), UB: (None, None)}, [UA, UB], rate=4000)
    assert res.src == UA and res.errors == []


def test_a_sha256_mismatch_starts_the_ring_over_with_the_item():
    bad = bytearray(DATA)
    bad[5000] ^= 1
    res, out, events, net = play({UA: (None, None), UB: (None, None)}, [UA, UB],
                                 served={UA: bytes(bad), UB: DATA})
    assert res.status == "played" and res.errors == [[UA, "sha256"]] and res.src == UB
    assert out.got(DATA) and net.opened == [(UA, 0), (UB, 0)]


def test_playing_allocates_nothing_per_chunk():
    if not hasattr(gc, "mem_alloc"):
        return  # CPython has no gc.mem_alloc
    clock = Clock()
    sink = PacedSink(bytearray(RING), sinks.NullSink(), 1, clock, clock.sleep_ms)
    chunk = memoryview(bytearray(STEP))

    def stream(chunks):
        sink.begin({"id": 1, "rate": RATE}, None, None, False)
        gc.collect()
        gc.disable()
        try:
            before = gc.mem_alloc()
            for _ in range(chunks):
                clock.now += 10
                sink.write(chunk)
            return gc.mem_alloc() - before
        finally:
            gc.enable()
            sink.end(False)
    small, big = stream(50), stream(400)
    assert big == small, (small, big)

