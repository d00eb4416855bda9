"""Store-ahead and offline (firmware/aheadplayer.py) on the real network, under micropython (.mpy,
at CACHE_HEAP) and CPython: items cached ahead and played from the cache (secure ones kept as
stored), the offline hour with its reports applied exactly once and in order, a power cut in the
middle of a cache write, and eviction within the cache's bytes."""
import asyncio
import os

import pytest

from host_server.services.auth import proof
from simulator.devices import CACHE_K, HEAP, PACED_K, DeviceProcess
from simulator.faults import Fault
from tests.e2e.conftest import INTERPRETERS, assert_delivered, firmware_entry
from tests.e2e.test_batched_reports import call
from tests.host.hostutil import sql
from tools.filehash import file_sha256
from tools.playback import playback_fields

pytestmark = pytest.mark.timeout(300)

JITTER = 16384
# the heap of a device with a cache (simulator.devices: its margins are measured there)
CACHE_HEAP = "%dK" % (int(HEAP[:-1]) + JITTER // 1024 + PACED_K + CACHE_K)
HOUR_MS = 3600 * 1000
MORE_REPORTS = ["--max-device-reports", "100000"]   # an hour of reports arrives in seconds


def device(net, interpreter, items, cache_bytes=8_000_000, speed=4, horizon=16, read_timeout=1.0,
           **config):
    cfg = dict(cache={"dir": os.path.join(net.workdir, "cache"), "bytes": cache_bytes,
                      "horizon": horizon},
               jitter=JITTER, backoff_base=0.2, backoff_cap=1.0)
    cfg.update(config)
    return DeviceProcess(net.workdir, "dev1", net.devices["dev1"], net.meta.url,
                         interpreter=interpreter, heap=CACHE_HEAP, sink="paced", items=items,
                         read_timeout=read_timeout, connect_timeout=1.0, speed=speed,
                         entry=firmware_entry(interpreter, os.path.dirname(net.workdir)), **cfg)


async def run(dev, on_event=None):
    await dev.start()
    events = []
    async for tag, ev in dev.events():
        events.append((tag, ev))
        if on_event is not None:
            await on_event(tag, ev)
    rc = await dev.wait()
    return rc, events


def of(events, tag):
    return [ev for t, ev in events if t == tag]


def console(dev):
    with open(dev.log_path, encoding="utf-8", errors="replace") as f:
        return f.read()[-4000:]


def entries(net):
    folder = os.path.join(net.workdir, "cache")
    return {n: os.path.getsize(os.path.join(folder, n)) for n in os.listdir(folder)
            if len(n) == 64}


@pytest.mark.parametrize("interpreter", INTERPRETERS)
async def test_items_are_cached_ahead_and_played_from_the_cache_secure_ones_as_stored(
        network_factory, interpreter):
    net = await network_factory(faults=("404", "drop"))
    n = len(net.media)
    dev = device(net, interpreter, items=n + 4, horizon=8)
    rc, events = await run(dev)
    assert rc == 0, console(dev)
    items = of(events, "ITEM")
    assert len(items) == n + 4 and all(i["status"] == "played" and i["verified"] for i in items)
    assert [i["pos"] for i in items] == list(range(n)) + list(range(4))
    # every item after the first played from its cache entry (gaps and underruns are timing:
    # bench/gap.py measures them)
    assert all(i["src"].startswith("cache:") for i in items[1:]), [i["src"] for i in items]
    assert_delivered(net, type("P", (), {"dev": dev})())   # the played bytes are the originals
    # secure items kept as the file servers hold them: the stored bytes, no key, no piece
    kept = entries(net)
    for m in net.media:
        want = m["stored"]["sha256"] if m.get("stored") else m["sha256"]
        assert want in kept, m["name"]
        if m.get("stored"):
            with open(os.path.join(net.workdir, "cache", want), "rb") as f:
                held = f.read()
            with open(m["stored"]["path"], "rb") as f:
                stored = f.read()
            with open(m["path"], "rb") as f:
                plain = f.read()
            assert held == stored and held != plain
    assert not [f for f in os.listdir(os.path.join(net.workdir, "cache")) if "key" in f]
    # the reports name the sources that filled the cache, and the failures on the way
    reports = await net.reports(device="dev1")
    assert len(reports) == n + 4
    assert not [r for r in reports if (r["src"] or "").startswith("cache:")]
    missing = [r for r in reports if r["media"] == net.media_ids["missing.wav"]]
    assert missing and all(e[1] == "404" for r in missing for e in r["errors"][:1])
    (store,) = of(events, "STORE")
    assert store["entries"] == n and store["queued"] == 0 and store["lost"] == 0


@pytest.mark.parametrize("interpreter", INTERPRETERS)
async def test_an_hour_offline_plays_on_from_the_cache_and_its_reports_apply_once_in_order(
        network_factory, interpreter):
    net = await network_factory(faults=(), meta_args=MORE_REPORTS)
    n = len(net.media)
    # first a round online: the whole program cached (the horizon is all of it)
    dev = device(net, interpreter, items=n)
    rc, events = await run(dev)
    assert rc == 0, console(dev)
    assert len(entries(net)) == n
    # then the same device (its cache, its state) at 120 times real time, an hour of it offline
    dur = {net.media_ids[m["name"]]: playback_fields(m["path"])["dur"] for m in net.media}
    total = 900
    dev = device(net, interpreter, items=total, speed=120)
    dev.config["sink"] = {"type": "paced", "speed": 120}
    port = net.meta.hostport[1]
    state = {"offline_ms": None, "back": False}

    async def on_event(tag, ev):
        if tag == "HORIZON" and state["offline_ms"] is None:
            state["offline_ms"] = 0
            await net.stop_meta()
            for proxy in net.proxies.values():
                await proxy.stop()
        elif tag == "ITEM" and state["offline_ms"] is not None and not state["back"]:
            state["offline_ms"] += dur[ev["id"]]
            if state["offline_ms"] >= HOUR_MS:
                state["back"] = True
                for proxy in net.proxies.values():
                    await proxy.start(port=proxy.port)
                await net.start_meta(port=port)

    rc, events2 = await run(dev, on_event)
    assert rc == 0, console(dev)
    assert state["back"], "the device did not play an hour offline"
    tags = [t for t, _ in events2]
    off, on = tags.index("OFFLINE"), tags.index("ONLINE")
    offline = [ev for t, ev in events2[off:on] if t == "ITEM"]
    assert sum(dur[i["id"]] for i in offline) >= HOUR_MS - 7000
    secure = {net.media_ids[m["name"]] for m in net.media if m.get("secure")}
    assert all(i["src"].startswith("cache:") and i["status"] == "played"
               for i in offline if i["id"] not in secure)
    assert all(i["status"] == "failed" for i in offline if i["id"] in secure)
    assert all(ev["why"] == "offline: no key" for t, ev in events2[off:on]
               if t == "FAIL" and ev["id"] in secure)
    # in program order throughout, and every report applied once, in order
    played = of(events, "ITEM") + of(events2, "ITEM")
    assert len(played) == n + total
    assert [i["pos"] for i in played] == [k % n for k in range(n + total)]
    reports = sorted(await net.reports(device="dev1"), key=lambda r: r["id"])
    assert [(r["media"], r["pos"], r["status"]) for r in reports] == [
        (i["id"], i["pos"], i["status"]) for i in played]
    seqs = [s for (s,) in sql(net.db, "SELECT seq FROM reports WHERE device = 'dev1' ORDER BY id")]
    assert seqs == list(range(seqs[0], seqs[0] + len(played)))
    assert await next_pos(net) == (n + total) % n
    (store,) = of(events2, "STORE")
    assert store["queued"] == 0 and store["lost"] == 0


async def next_pos(net):
    """Where the server has the device now: the position its next item has."""
    port = net.meta.hostport[1]
    nonce = call(port, "POST", "/login/challenge", {"device": "dev1"})["nonce"]
    token = call(port, "POST", "/login", {"device": "dev1", "nonce": nonce,
                                          "proof": proof(net.devices["dev1"], "dev1", nonce)})
    return call(port, "GET", "/next", token=token["token"])["pos"]


@pytest.mark.parametrize("interpreter", INTERPRETERS)
async def test_a_cache_entry_cut_by_a_power_cut_is_never_played(network_factory, interpreter):
    net = await network_factory(faults=())
    big = next(m for m in net.media if m["name"] == "breaking.wav")
    # every answer for it goes silent after 4 KiB: the filler asks again from the byte reached
    # each time its wait is over, so the entry is written for seconds, a few KiB at a time
    stall = Fault("stall", "/music/a/breaking.wav", at=4096, times=10 ** 6)
    stall2 = Fault("stall", "/mirror/a/breaking.wav", at=4096, times=10 ** 6)
    net.proxies["A"].faults.append(stall)
    net.proxies["ABC"].faults.append(stall2)
    folder = os.path.join(net.workdir, "cache")
    dev = device(net, interpreter, items=0, read_timeout=60)
    seen = {}

    async def watch():
        """The power goes in the middle of the cache write."""
        try:
            while "part" not in seen:
                await asyncio.sleep(0.05)
                parts = [f for f in os.listdir(folder) if f.endswith(".part")] \
                    if os.path.isdir(folder) else []
                if stall.fired and parts and os.path.getsize(os.path.join(folder, parts[0])):
                    seen["part"] = parts[0]
        finally:
            dev.kill()

    watcher = asyncio.ensure_future(asyncio.wait_for(watch(), 120))
    rc, _ = await run(dev)
    await watcher
    assert seen.get("part") == big["sha256"] + ".part", sorted(os.listdir(folder))
    # back on, the faults gone: the cut entry is not played, it is filled again and played whole
    net.proxies["A"].faults.clear()
    net.proxies["ABC"].faults.clear()
    dev = device(net, interpreter, items=len(net.media))
    rc, events = await run(dev)
    assert rc == 0, console(dev)
    mid = net.media_ids["breaking.wav"]
    (item,) = [i for i in of(events, "ITEM") if i["id"] == mid]
    assert item["status"] == "played" and item["verified"] and item["bytes"] == big["size"]
    assert file_sha256(os.path.join(dev.out_dir, str(mid))) == big["sha256"]
    assert file_sha256(os.path.join(folder, big["sha256"])) == big["sha256"]
    assert not [f for f in os.listdir(folder) if f.endswith(".part")]


@pytest.mark.parametrize("interpreter", INTERPRETERS)
async def test_the_cache_keeps_within_its_bytes_evicting_what_played(network_factory,
                                                                     interpreter):
    net = await network_factory(faults=())
    limit = 800_000   # about three of the demo's items
    dev = device(net, interpreter, items=len(net.media) + 4, cache_bytes=limit, horizon=8)
    rc, events = await run(dev)
    assert rc == 0, console(dev)
    items = of(events, "ITEM")
    assert all(i["status"] == "played" and i["verified"] for i in items)
    assert sum(1 for i in items if i["src"].startswith("cache:")) >= len(items) // 2
    assert sum(entries(net).values()) <= limit
    (store,) = of(events, "STORE")
    assert store["bytes"] <= limit and 0 < store["entries"] < len(net.media)
    assert len(of(events, "CACHED")) > store["entries"]   # some were evicted to make room
    assert_delivered(net, type("P", (), {"dev": dev})())
