"""A device with a cache (firmware/aheadplayer.py: store-ahead and offline), under micropython
(.mpy, with the heap a cache takes) and CPython, against the stand-in servers (fwservers.py:
GET /horizon, POST /reports), with the file sink (the filler then fills one entry ahead per item).

Pinned down: items play in program order, the second and later from the cache, their bytes exact,
their reports sent as batches of consecutive seqs; a horizon answer that cannot be used (not gzip
though it says so, a gzip bomb, not JSON) is logged and does not crash the device, which plays once
the server answers properly; a horizon item whose sha256 is not hex is reported failed and writes
nothing outside the cache's folder; a batch refused (400) is dropped and counted lost; a batch the
server cannot take (503) or whose answer is lost stays queued and arrives exactly once, in seq
order; a cache entry corrupted on disk between runs fails over to the network and is replaced.
A horizon that is JSON but not usable leaves the old one playing from the cache; a cache entry cut
short is dropped and the item played from the network; a proper horizon whose gzip is over the
stream buffer is asked for again as plain JSON."""
import hashlib
import json
import os
import subprocess

import pytest
from fwservers import gzip_window10, item
from test_fw_device import SECRET, compiled_entry, interp, servers  # noqa: F401

from simulator.devices import CACHE_K, HEAP, PACED_K

# micropython's heap for a cache device with the file sink (no jitter ring): the default device
# heap, the cache's share and the paced sink's margin (simulator.devices)
CACHE_HEAP = "%dK" % (int(HEAP[:-1]) + PACED_K + CACHE_K)

A = os.urandom(30000)
B = os.urandom(20000)
C = os.urandom(12000)
D = os.urandom(5000)
DATA = {1: A, 2: B, 3: C, 4: D}
TAGS = ("LOGIN", "PROGRAM", "FAIL", "ITEM", "BACKOFF", "DONE", "HORIZON", "CACHED", "OFFLINE",
        "ONLINE", "STORE")
# what a cache's folder may hold besides its entries
CACHE_FILES = ("ahead.json", "reports.q")


def sha(data):
    return hashlib.sha256(data).hexdigest()


def with_heap(interp, heap):
    """The device command with micropython's -X heapsize set to heap (CPython's unchanged)."""
    return [("heapsize=" + heap) if a.startswith("heapsize=") else a for a in interp]


def run_ahead(interp, tmp_path, server, items, timeout=90, cache=None, **over):
    """The device with a cache run to its end: (proc, events, log lines)."""
    cfg = {"server": server, "device": "dev1", "secret": SECRET, "buffer": 4096,
           "connect_timeout": 1.0, "read_timeout": 0.5, "state": str(tmp_path / "state.json"),
           "sink": {"type": "file", "dir": str(tmp_path / "out")}, "items": items, "program": None,
           "backoff_base": 0.1, "backoff_cap": 0.3, "idle_wait": 0.1,
           "cache": dict({"dir": str(tmp_path / "cache"), "bytes": 200000}, **(cache or {}))}
    cfg.update(over)
    path = tmp_path / "cfg.json"
    path.write_text(json.dumps(cfg))
    proc = subprocess.run(with_heap(interp, CACHE_HEAP) + [str(path)], capture_output=True,
                          text=True, timeout=timeout, cwd=str(tmp_path))
    events, logs = [], []
    for line in proc.stdout.splitlines():
        tag, _, rest = line.partition(" ")
        if tag in TAGS:
            events.append((tag, json.loads(rest)))
        else:
            assert line[:2] in ("I ", "W ", "E ", "D "), "unexpected output line %r\n%s" % (
                line, proc.stdout + proc.stderr)
            logs.append(line)
    return proc, events, logs


def tags(events, tag):
    return [e for t, e in events if t == tag]


def ran_through(proc, events, items):
    """The device ran to its configured end: no traceback, exit 0, DONE after its items."""
    out = proc.stdout + proc.stderr
    assert "Traceback" not in out, out
    assert proc.returncode == 0, out
    assert tags(events, "DONE") == [{"items": items}], out
    assert events[-1][0] == "DONE" and events[-2][0] == "STORE", out


def program(meta, fa, *ids):
    meta.items = [item(i, DATA[i], [fa.url + "/m/%d.bin" % i], "T%d" % i) for i in ids]


@pytest.fixture
def files(servers):
    meta, a, fa, b, fb, ms = servers
    for i, data in DATA.items():
        a.files["/m/%d.bin" % i] = data
    return servers


def cache_names(tmp_path):
    return sorted(os.listdir(tmp_path / "cache"))


def assert_cache_folder_clean(tmp_path):
    """Only hex-named entries, their .src, the horizon and the report queue."""
    for n in cache_names(tmp_path):
        base = n[:-4] if n.endswith(".src") else n
        assert n in CACHE_FILES or (len(base) == 64 and not base.strip("0123456789abcdef")), n


# -- the happy path ---------------------------------------------------------------------------

def test_items_play_in_order_from_the_cache_and_reports_go_as_batches(interp, tmp_path, files):
    meta, a, fa, b, fb, ms = files
    program(meta, fa, 1, 2, 3, 4)
    proc, events, _ = run_ahead(interp, tmp_path, ms.url, 6, cache={"horizon": 3, "batch": 2})
    ran_through(proc, events, 6)
    played = tags(events, "ITEM")
    assert [(e["id"], e["pos"]) for e in played] == [(1, 0), (2, 1), (3, 2), (4, 3), (1, 0), (2, 1)]
    assert all(e["status"] == "played" and e["verified"] == 1 for e in played), played
    assert [e["bytes"] for e in played] == [len(DATA[e["id"]]) for e in played]
    # the first from the network, every later one from its cache entry, filled ahead
    assert played[0]["src"] == fa.url + "/m/1.bin"
    assert [e["src"] for e in played[1:]] == ["cache:" + sha(DATA[e["id"]]) for e in played[1:]]
    assert [e["id"] for e in tags(events, "CACHED")] == [2, 3, 4, 1]
    assert not tags(events, "FAIL") and not tags(events, "OFFLINE")
    # each file fetched once: the cache saves the second round
    assert sorted(p for p, _ in a.requests) == ["/m/%d.bin" % i for i in (1, 1, 2, 3, 4)]
    # horizons of 3 asked gzipped, one at each horizon's last item
    assert meta.horizons == [(3, True)] * 3
    assert [e for e in tags(events, "HORIZON")] == [{"items": 3, "whole": False}] * 3
    # the reports, in batches of 2 with consecutive seqs, each applied once: the server's
    # position moved with them, and each names the source that filled the entry
    assert meta.batches == [[0, 1], [2, 3], [4, 5]]
    assert [(r["seq"], r["id"], r["pos"], r["status"]) for r in meta.reports] == [
        (0, 1, 0, "played"), (1, 2, 1, "played"), (2, 3, 2, "played"), (3, 4, 3, "played"),
        (4, 1, 0, "played"), (5, 2, 1, "played")]
    assert [r["src"] for r in meta.reports] == [fa.url + "/m/%d.bin" % r["id"]
                                                for r in meta.reports]
    assert [r["bytes"] for r in meta.reports] == [len(DATA[r["id"]]) for r in meta.reports]
    assert meta.pos == 2 and not meta.repeats
    for i, data in DATA.items():
        assert (tmp_path / "out" / str(i)).read_bytes() == data
    (store,) = tags(events, "STORE")
    assert store["entries"] == 4 and store["bytes"] == sum(map(len, DATA.values()))
    assert store["queued"] == 0 and store["lost"] == 0
    assert_cache_folder_clean(tmp_path)
    assert {n for n in cache_names(tmp_path) if len(n) == 64} == {sha(d) for d in DATA.values()}
    for d in DATA.values():
        assert (tmp_path / "cache" / sha(d)).read_bytes() == d


# -- horizon answers that cannot be used --------------------------------------------------------

def _plain_horizon(meta):
    items = [dict(it, pos=i) for i, it in enumerate(meta.items)]
    return json.dumps({"program": 1, "n": len(items), "items": items}).encode()


BOMB = b'{"program": 1, "n": 1, "items": [], "pad": "' + b" " * 1000000 + b'"}'

HOSTILE = {
    # plain JSON, a proper horizon even, that says it is gzipped
    "not_gzip": lambda meta: (_plain_horizon(meta), [("Content-Encoding", "gzip")]),
    # 1 KB on the wire, 1 MB inflated: over the 8192 bytes a horizon may have
    "gzip_bomb": lambda meta: (gzip_window10(BOMB), [("Content-Encoding", "gzip")]),
    # gzipped properly, but not JSON
    "not_json": lambda meta: (gzip_window10(b"<html>busy</html>"), [("Content-Encoding", "gzip")]),
    # neither gzipped nor JSON
    "plain_not_json": lambda meta: (b"<html>busy</html>", [("Content-Type", "text/html")]),
}
@pytest.mark.parametrize("kind", [
    "not_gzip", "gzip_bomb",
    "not_json", "plain_not_json"])
def test_a_horizon_that_cannot_be_used_is_logged_and_the_device_plays_when_it_is_good_again(
        interp, tmp_path, files, kind):
    meta, a, fa, b, fb, ms = files
    program(meta, fa, 1, 2, 3)
    bad = HOSTILE[kind](meta)
    meta.horizon_body = [bad, bad]   # the first two answers, then proper ones
    proc, events, logs = run_ahead(interp, tmp_path, ms.url, 3)
    ran_through(proc, events, 3)
    assert meta.horizon_asked >= 3 and not meta.horizon_body
    warned = [ln for ln in logs if ln.startswith("W horizon not used: ")]
    assert len(warned) == 2, proc.stdout
    if kind == "gzip_bomb":
        assert all("8192" in ln for ln in warned), warned
    played = tags(events, "ITEM")
    assert [(e["id"], e["pos"], e["status"]) for e in played] == [
        (1, 0, "played"), (2, 1, "played"), (3, 2, "played")]
    for i in (1, 2, 3):
        assert (tmp_path / "out" / str(i)).read_bytes() == DATA[i]
    # nothing played before a good horizon came, and no bad one was kept
    assert [t for t, _ in events if t in ("HORIZON", "ITEM")][0] == "HORIZON"
    assert json.loads((tmp_path / "cache" / "ahead.json").read_bytes())["n"] == 3
    assert [r["seq"] for r in meta.reports] == [0, 1, 2]


@pytest.mark.parametrize("kind", ["not_gzip", "not_an_object"])
def test_a_horizon_that_cannot_be_used_leaves_the_old_one_playing_from_the_cache(
        interp, tmp_path, files, kind):
    meta, a, fa, b, fb, ms = files
    program(meta, fa, 1, 2, 3, 4)
    bad = {"not_gzip": (b'{"program": 1, "n": 4, "items": []}', [("Content-Encoding", "gzip")]),
           "not_an_object": (gzip_window10(b"[1]"), [("Content-Encoding", "gzip")])}[kind]
    meta.horizon_good_first = 1     # the first horizon good, the next two not
    meta.horizon_body = [bad, bad]
    proc, events, logs = run_ahead(interp, tmp_path, ms.url, 4, cache={"horizon": 3, "batch": 2})
    ran_through(proc, events, 4)
    assert len([ln for ln in logs if ln.startswith("W horizon not used: ")]) == 2, proc.stdout
    seen = [(t, e.get("id")) for t, e in events if t in ("HORIZON", "ITEM")]
    # item 3, the first horizon's last, is in the cache: it plays while no new horizon can be had
    assert seen == [("HORIZON", None), ("ITEM", 1), ("ITEM", 2), ("ITEM", 3), ("HORIZON", None),
                    ("ITEM", 4)], proc.stdout
    played = tags(events, "ITEM")
    assert played[2]["src"] == "cache:" + sha(C) and played[2]["status"] == "played"
    assert [(r["id"], r["pos"]) for r in meta.reports] == [(1, 0), (2, 1), (3, 2), (4, 3)]


# -- a horizon item whose sha256 is not hex -----------------------------------------------------

def test_an_item_whose_sha256_is_not_hex_is_reported_failed_and_writes_nothing_outside_the_cache(
        interp, tmp_path, files):
    meta, a, fa, b, fb, ms = files
    program(meta, fa, 1, 2, 3, 4)
    # 64 characters that climb out of the cache's folder: into tmp_path and its parent
    up1 = "../" + "e" * 61
    up2 = "../../" + "e" * 58
    assert len(up1) == len(up2) == 64
    meta.items[1]["sha256"] = up1
    meta.items[2]["sha256"] = up2
    parent_before = sorted(os.listdir(tmp_path.parent))
    proc, events, _ = run_ahead(interp, tmp_path, ms.url, 4)
    ran_through(proc, events, 4)
    played = tags(events, "ITEM")
    assert [(e["id"], e["pos"], e["status"]) for e in played] == [
        (1, 0, "played"), (2, 1, "failed"), (3, 2, "failed"), (4, 3, "played")]
    assert played[1]["src"] is None and played[1]["verified"] == 0
    fails = tags(events, "FAIL")
    assert [(f["id"], f["src"]) for f in fails] == [(2, "meta"), (3, "meta")]
    assert all("sha256" in f["why"] for f in fails), fails
    reports = {r["id"]: r for r in meta.reports}
    for i in (2, 3):
        assert reports[i]["status"] == "failed" and reports[i]["src"] is None
        assert [e[0] for e in reports[i]["errors"]] == ["meta"]
        assert "sha256" in reports[i]["errors"][0][1]
    assert meta.pos == 0   # failed reports move the program on as played ones do
    # the bad items' bytes were never fetched (not into the cache, not to play)
    assert "/m/2.bin" not in [p for p, _ in a.requests]
    assert "/m/3.bin" not in [p for p, _ in a.requests]
    assert sorted(os.listdir(tmp_path.parent)) == parent_before
    assert sorted(os.listdir(tmp_path)) == ["cache", "cfg.json", "out", "state.json"]
    assert sorted(os.listdir(tmp_path / "out")) == ["1", "4"]
    assert_cache_folder_clean(tmp_path)


# -- batches the server refuses or cannot take ----------------------------------------------------

def test_a_batch_refused_with_400_is_dropped_counted_lost_and_the_device_plays_on(
        interp, tmp_path, files):
    meta, a, fa, b, fb, ms = files
    program(meta, fa, 1, 2, 3, 4)
    meta.reports_status = [400]
    proc, events, logs = run_ahead(interp, tmp_path, ms.url, 6, cache={"horizon": 3, "batch": 2})
    ran_through(proc, events, 6)
    assert any(ln.startswith("W reports refused: ") and "400" in ln for ln in logs), logs
    assert meta.batches == [[0, 1], [2, 3], [4, 5]]
    # the refused reports never reached the server: its position did not move for them, so the
    # new horizon started where it was (items 1 and 2 again)
    assert [(r["seq"], r["id"], r["pos"]) for r in meta.reports] == [
        (2, 1, 0), (3, 2, 1), (4, 3, 2), (5, 4, 3)]
    played = tags(events, "ITEM")
    assert [(e["id"], e["pos"]) for e in played] == [(1, 0), (2, 1), (1, 0), (2, 1), (3, 2), (4, 3)]
    assert all(e["status"] == "played" for e in played)
    assert not tags(events, "OFFLINE")   # an answer, not an absence
    (store,) = tags(events, "STORE")
    assert store["lost"] == 2 and store["queued"] == 0


def test_batches_the_server_cannot_take_stay_queued_and_arrive_once_in_order(
        interp, tmp_path, files):
    meta, a, fa, b, fb, ms = files
    program(meta, fa, 1, 2, 3, 4)
    meta.reports_status = [503, 503, 503]
    proc, events, _ = run_ahead(interp, tmp_path, ms.url, 6, cache={"horizon": 3, "batch": 2})
    ran_through(proc, events, 6)
    assert meta.batches[:3] == [[0, 1]] * 3   # the same batch each time, until it was taken
    sent = [s for batch in meta.batches[3:] for s in batch]
    assert sent == list(range(6)), meta.batches
    assert all(b == list(range(b[0], b[0] + len(b))) for b in meta.batches), meta.batches
    assert [r["seq"] for r in meta.reports] == list(range(6))   # each once, in seq order
    played = tags(events, "ITEM")
    # offline the device played on from its cache, in program order: no item twice
    assert [(e["id"], e["pos"]) for e in played] == [(1, 0), (2, 1), (3, 2), (4, 3), (1, 0), (2, 1)]
    assert all(e["status"] == "played" and e["verified"] == 1 for e in played)
    assert [(r["id"], r["pos"]) for r in meta.reports] == [(e["id"], e["pos"]) for e in played]
    assert tags(events, "OFFLINE")[0] == {"why": "503", "queued": 2}
    assert len(tags(events, "ONLINE")) == 1
    (store,) = tags(events, "STORE")
    assert store["lost"] == 0 and store["queued"] == 0
    for i, data in DATA.items():
        assert (tmp_path / "out" / str(i)).read_bytes() == data


def test_a_batch_whose_answer_is_lost_is_sent_again_and_applied_once(interp, tmp_path, files):
    meta, a, fa, b, fb, ms = files
    program(meta, fa, 1, 2, 3, 4)
    meta.reports_drop = 1   # the first batch applied, its answer never sent
    proc, events, _ = run_ahead(interp, tmp_path, ms.url, 6, cache={"horizon": 3, "batch": 2})
    ran_through(proc, events, 6)
    assert meta.batches[:2] == [[0, 1], [0, 1]]
    assert [r["seq"] for r in meta.repeats] == [0, 1]
    assert [r["seq"] for r in meta.reports] == list(range(6))
    played = tags(events, "ITEM")
    assert [(r["id"], r["pos"]) for r in meta.reports] == [(e["id"], e["pos"]) for e in played]
    assert [(e["id"], e["pos"]) for e in played] == [(1, 0), (2, 1), (3, 2), (4, 3), (1, 0), (2, 1)]
    assert meta.pos == 2
    (store,) = tags(events, "STORE")
    assert store["lost"] == 0 and store["queued"] == 0


# -- a cache entry corrupted on disk --------------------------------------------------------------

def _corrupt(path, cut=0):
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data[:len(data) - cut]))


@pytest.mark.parametrize("cut", [0, 1000])
def test_a_cache_entry_corrupted_between_runs_fails_over_to_the_network_and_is_replaced(
        interp, tmp_path, files, cut):
    meta, a, fa, b, fb, ms = files
    program(meta, fa, 1, 2, 3)
    proc, events, _ = run_ahead(interp, tmp_path, ms.url, 2)
    ran_through(proc, events, 2)
    assert [e["id"] for e in tags(events, "CACHED")] == [2, 3]   # item 3 filled ahead
    assert meta.pos == 2
    entry = tmp_path / "cache" / sha(C)
    assert entry.read_bytes() == C
    _corrupt(entry, cut)
    a.requests.clear()
    proc, events, _ = run_ahead(interp, tmp_path, ms.url, 2)
    ran_through(proc, events, 2)
    played = tags(events, "ITEM")
    assert [(e["id"], e["pos"], e["status"], e["verified"]) for e in played] == [
        (3, 2, "played", 1), (1, 0, "played", 1)]
    # a flipped byte is found by the sha256 as the entry plays (then the network takes over);
    # an entry of the wrong size is not played at all
    assert played[0]["src"] == fa.url + "/m/3.bin"
    assert played[0]["failovers"] == (0 if cut else 1)
    fails = tags(events, "FAIL")
    if cut:
        assert not fails, fails
    else:
        assert fails[0]["id"] == 3 and fails[0]["src"] == "cache:" + sha(C), fails
        assert fails[0]["why"] == "sha256", fails
    assert (tmp_path / "out" / "3").read_bytes() == C
    assert meta.reports[-2]["id"] == 3 and meta.reports[-2]["status"] == "played"
    assert meta.reports[-2]["src"] == fa.url + "/m/3.bin"
    # the bad entry was dropped, and filled again from the network before the run ended
    assert 3 in [e["id"] for e in tags(events, "CACHED")]
    assert entry.read_bytes() == C
    assert_cache_folder_clean(tmp_path)


# -- a proper horizon bigger, gzipped, than the stream buffer --------------------------------------

def test_a_proper_horizon_whose_gzip_is_over_the_stream_buffer_is_used(interp, tmp_path, servers):
    meta, a, fa, b, fb, ms = servers
    for i in range(16):   # two sources each, with names that do not compress
        data = os.urandom(100 + i)
        p1, p2 = "/m/%s.bin" % os.urandom(16).hex(), "/alt/%s.bin" % os.urandom(16).hex()
        a.files[p1] = b.files[p2] = data
        meta.items.append(item(i + 1, data, [fa.url + p1, fb.url + p2], "Title %d" % i))
    plain = json.dumps({"program": 1, "n": 16, "items": meta.items}).encode()
    assert len(plain) < 7000 and len(gzip_window10(plain)) > 1024 + 256   # a proper horizon
    try:
        proc, events, logs = run_ahead(interp, tmp_path, ms.url, 2, timeout=8, buffer=1024,
                                       cache={"horizon": 16})
    except subprocess.TimeoutExpired as e:
        out = e.stdout.decode() if isinstance(e.stdout, bytes) else (e.stdout or "")
        pytest.fail("the device never played:\n" + out[:1000])
    ran_through(proc, events, 2)
    assert [e["status"] for e in tags(events, "ITEM")] == ["played", "played"]
