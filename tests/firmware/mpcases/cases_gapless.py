# Gapless: items one after another through one PacedSink (cases_paced.py's clock and sources),
# the player's work between them (its report, the next item's meta data and key) standing in as
# time on the clock: each item's bytes exact and in order, the gap at each boundary from the
# sink's own clock, a failover at the boundary; both interpreters.
import hashlib

import sinks
from cases_paced import BUF, CONNECT_MS, DATA, RATE, RING, STEP, TIMEOUT_MS, UA, UB, Clock, Net, sha
from compat import hexlify
from fetch import Progress, fetch
from pacedsink import PacedSink

TAIL = (RING - STEP - RING // 16) * 1000 // RATE   # ms the ring holds at least when a fetch ends


class ItemsSink(sinks.Sink):
    """Each item as the inner sink saw it, in order: (id, bytes, sha256, ok)."""

    def __init__(self):
        self.done = []
        self.h = None

    def begin(self, meta, hasher, buf, resume):
        assert self.h is None, "begun before the item before ended"
        self.id, self.h, self.n = meta["id"], hashlib.sha256(), 0
        return 0

    def write(self, mv):
        self.h.update(mv)
        self.n += len(mv)

    def restart(self):
        self.h, self.n = hashlib.sha256(), 0

    def end(self, ok):
        self.done.append((self.id, self.n, hexlify(self.h.digest()), ok))
        self.h = None


def chain(items, work_ms):
    """fetch of each (plan, rate, data) in turn through one PacedSink, work_ms on the clock
    between them, then close(): ([Result], ItemsSink, clock)."""
    clock = Clock()
    out = ItemsSink()
    sink = PacedSink(bytearray(RING), out, 1, clock, clock.sleep_ms)
    results = []
    for i in range(len(items)):
        plan, rate, data = items[i]
        meta = {"id": i, "pos": i, "size": len(data), "sha256": sha(data), "src": [UA, UB],
                "rate": rate}
        res = fetch(None, meta, sink, bytearray(BUF), None, clock=clock,
                    opener=Net(clock, plan, data), prog=Progress(clock, TIMEOUT_MS))
        res.gap_ms = sink.gap_ms   # the sink's, for the item just fetched (the ITEM line's)
        results.append(res)
        clock.now += work_ms
    sink.close()
    return results, out, clock


def kept(out, items):
    return out.done == [(i, len(items[i][2]), sha(items[i][2]), True) for i in range(len(items))]


def test_items_follow_each_other_without_a_gap_each_at_its_own_rate():
    half = DATA[:3072]
    items = [({UA: (None, None)}, RATE, DATA), ({UA: (None, None)}, 2 * RATE, DATA),
             ({UA: (None, None)}, RATE, half)]
    res, out, clock = chain(items, 20)   # 20 ms between them: well inside the ring's tail
    assert kept(out, items)              # every byte of each, each item whole, in order
    assert [r.gap_ms for r in res] == [-1, 0, 0] and [r.underruns for r in res] == [0, 0, 0]
    # the sink never waited: 10 ms to fill the ring once, then the three back to back, each at
    # its rate (1536 + 768 + 768 ms); the work after the last is inside its tail
    played = len(DATA) * 1000 // RATE + len(DATA) * 1000 // (2 * RATE) + len(half) * 1000 // RATE
    assert played <= clock.now <= played + 12, clock.now


def test_a_boundary_that_outlasts_the_tail_is_a_gap_not_an_underrun():
    items = [({UA: (None, None)}, RATE, DATA), ({UA: (None, None)}, RATE, DATA)]
    res, out, clock = chain(items, 600)
    assert kept(out, items)
    assert res[1].underruns == 0 and res[1].underrun_ms == 0
    # silent from the first item's last byte (at most the ring's 256 ms after its fetch ended)
    # until the ring is full again (connect and four reads)
    assert 600 - RING * 1000 // RATE <= res[1].gap_ms <= 600 - TAIL + CONNECT_MS + 5, res[1].gap_ms


def test_a_failover_at_the_boundary_is_not_heard_while_the_tail_lasts():
    for bad in ("refused", 404, (0, "drop")):
        items = [({UA: (None, None)}, RATE, DATA), ({UA: bad, UB: (None, None)}, RATE, DATA)]
        res, out, clock = chain(items, 20)
        assert kept(out, items) and res[1].failovers == 1 and res[1].src == UB
        assert res[1].gap_ms == 0 and res[1].underruns == 0, (bad, res[1].gap_ms)


def test_a_stall_at_the_boundary_is_a_gap_as_long_as_it_outlasts_the_tail():
    items = [({UA: (None, None)}, RATE, DATA), ({UA: (0, "stall"), UB: (None, None)}, RATE, DATA)]
    res, out, clock = chain(items, 20)
    assert kept(out, items) and res[1].errors == [[UA, "timeout"]]
    assert res[1].underruns == 0
    assert 20 + TIMEOUT_MS - RING * 1000 // RATE <= res[1].gap_ms <= \
        20 + TIMEOUT_MS + 2 * CONNECT_MS - TAIL + 5, res[1].gap_ms


def test_an_item_that_fails_between_two_drops_only_its_own_bytes():
    items = [({UA: (None, None)}, RATE, DATA), ({UA: (1024, "drop"), UB: 404}, RATE, DATA),
             ({UA: (None, None)}, RATE, DATA)]
    res, out, clock = chain(items, 20)
    assert [r.status for r in res] == ["played", "failed", "played"]
    first, failed, last = out.done
    assert first == (0, len(DATA), sha(DATA), True) and last == (2, len(DATA), sha(DATA), True)
    assert failed[0] == 1 and failed[3] is False   # begun after the tail, then ended as failed
    # what it had in the ring was dropped when it failed: silence until the next item plays
    assert res[2].underruns == 0 and res[2].gap_ms > 0
