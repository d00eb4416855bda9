"""Stream items end to end on real processes (PROTOCOL.md "Live items"), under micropython (.mpy)
and CPython: a live radio on two Icecast servers (a relay, the primary, and its origin) survives
the relay being killed mid-stream, with its ICY titles on the console and on the dashboard's
"now playing"; an on-demand HLS presentation (AAC in MPEG-TS, AES-128, key from the meta
server) plays byte-identical to its elementary stream while one variant's server lacks a
segment; a live HLS playlist (a sliding window, encrypted) on two nginx file servers plays on
when one of them dies."""
import asyncio
import os
import sqlite3

import pytest

from simulator.devices import HEAP, PACED_K, STREAM_K
from simulator.hlsmedia import LivePlaylist, make_vod, write_master
from simulator.icecast import set_title
from simulator.nginxproc import nginx_path
from simulator.procs import run_cli
from simulator.streamnet import LIVE_MS, TITLE, available
from tests.e2e.conftest import INTERPRETERS, play
from tests.e2e.test_nginx_owner import Nginx as OwnerNginx

pytestmark = [pytest.mark.timeout(240),
              pytest.mark.skipif(available() is not None, reason="needs %s" % available())]

JITTER = 8192
STREAM_HEAP = "%dK" % (int(HEAP[:-1]) + JITTER // 1024 + PACED_K + STREAM_K)


async def streams_only(net, device="dev1"):
    """A program of the two streams, selected by the device's config."""
    ids = "%d,%d" % (net.media_ids["radio"], net.media_ids["hls"])
    out = await run_cli(["--db", net.db, "add-program", "Streams", "--items", ids])
    await run_cli(["--db", net.db, "assign", device, "Streams"])
    return int(out.split()[1])   # "program 2 (Streams) added with 2 items"


def kept(played, media_id):
    with open(os.path.join(played.dev.out_dir, str(media_id)), "rb") as f:
        return f.read()


@pytest.mark.parametrize("interpreter", INTERPRETERS)
async def test_a_live_stream_fails_over_between_two_icecast_servers_with_its_titles(
        network_factory, interpreter):
    net = await network_factory(streams=True)
    program = await streams_only(net)
    radio = net.media_ids["radio"]
    relay, origin = net.streams.relay, net.streams.origin
    titles = []

    async def on_event(dev, tag, ev):
        if tag == "TITLE" and ev["id"] == radio:
            titles.append(ev["title"])
            if len(titles) == 1:
                # the relay (the primary) dies while the device plays from it; the origin
                # then carries a new title
                relay.kill()
                await set_title(origin, "/live", "Second song")

    played = await play(net, interpreter, items=1, heap=STREAM_HEAP, sink="paced", speed=1,
                        jitter=JITTER, program=program, on_event=on_event)
    assert played.rc == 0, played.console()
    (item,) = played.items
    assert item["id"] == radio and item["status"] == "played", item
    rate = net.streams.source.rate
    assert item["bytes"] == rate * LIVE_MS // 1000 and item["verified"] == 0
    assert item["failovers"] == 1 and item["src"] == origin.url
    (fail,) = played.of("FAIL")
    assert fail["src"] == relay.url and (fail["why"].startswith("dropped")
                                         or fail["why"] == "timeout"), fail
    assert titles[0] == TITLE and "Second song" in titles, titles
    # the audio kept is MP3 without a metadata block in it
    audio = kept(played, radio)
    assert len(audio) == item["bytes"] and b"StreamTitle=" not in audio
    # the report: the mounts it played from and for how long, the relay's failure
    reports = await net.reports()
    (rep,) = [r for r in reports if r["media"] == radio]
    assert rep["status"] == "played"
    assert [m[0] for m in rep["mounts"]] == [relay.url, origin.url]
    assert LIVE_MS - len(rep["mounts"]) <= sum(m[1] for m in rep["mounts"]) <= LIVE_MS  # ms rounded down
    assert rep["errors"][0][0] == relay.url
    # the dashboard's now playing: the title the device told (the second came within 10 s of
    # the first: not told)
    with sqlite3.connect(net.db) as db:
        told = db.execute("SELECT stream_title FROM device_activity WHERE device = 'dev1'").fetchall()
    assert told == [(TITLE,)]


@pytest.mark.parametrize("interpreter", INTERPRETERS)
async def test_an_encrypted_hls_presentation_plays_byte_identical_when_a_segment_is_lost_on_one_path(
        network_factory, interpreter):
    net = await network_factory(streams=True)
    program = await streams_only(net)
    hls = net.media_ids["hls"]
    facts = net.streams.hls
    # variant 1's server (A) has lost its third segment: it comes from ABC's variant
    os.remove(os.path.join(net.workdir, "servers", "A", "hls", "demo", facts["segments"][2]))
    # play the radio, then the HLS item
    played = await play(net, interpreter, items=2, heap=STREAM_HEAP, sink="paced", speed=1,
                        jitter=JITTER, program=program)
    assert played.rc == 0, played.console()
    item = played.items[-1]
    assert item["id"] == hls and item["status"] == "played" and item["secure"] == 1, item
    assert kept(played, hls) == facts["es"]
    requests = [r["path"] for r in net.proxies["ABC"].requests]
    assert any(p.endswith("/" + facts["segments"][2]) for p in requests), requests
    assert not any(p.endswith("key.bin") for name in ("A", "ABC")
                   for p in (r["path"] for r in net.proxies[name].requests))
    # the report names the path that lacked the segment
    (rep,) = [r for r in await net.reports() if r["media"] == hls]
    assert [net.address["A"] + "/hls/demo/index.m3u8", "404"] in rep["errors"], rep


class Nginx(OwnerNginx):
    """An owner's nginx file server (tests/e2e/test_nginx_owner.py's) that counts segments."""

    def segments_served(self):
        try:
            return self.requests().count(".ts HTTP/1.1\" 200")
        except FileNotFoundError:
            return 0


@pytest.mark.skipif(nginx_path() is None, reason="needs nginx")
@pytest.mark.parametrize("interpreter", INTERPRETERS)
async def test_a_live_hls_playlist_on_two_nginx_paths_plays_on_when_one_server_dies(
        network_factory, interpreter, tmp_path):
    net = await network_factory()
    key = bytes(range(50, 66))
    facts = make_vod(tmp_path / "made", seconds=8, segment_s=1, codec="aac", container="ts", key=key)
    servers, lives = [], []
    for name in ("a", "b"):
        root = tmp_path / ("root-" + name)
        lives.append(LivePlaylist(tmp_path / "made", root / "hls" / "live", window=4))
        servers.append(await Nginx(tmp_path / ("nginx-" + name), str(root)).start())
    variants = [s.address + "/hls/live/index.m3u8" for s in servers]
    for i, s in enumerate(servers):
        write_master(str(tmp_path / ("root-" + "ab"[i]) / "hls" / "master.m3u8"), variants)
    for live in lives:
        live.advance(4)
    keyfile = tmp_path / "key.bin"
    keyfile.write_bytes(key)
    out = await run_cli(["--db", net.db, "--master-key-file", net.master_key, "add-stream", "hls"]
                        + [s.address + "/hls/master.m3u8" for s in servers]
                        + ["--type", "audio/aac", "--rate", str(facts["rate"]), "--dur", "6000",
                           "--title", "Live HLS", "--hls-key-file", str(keyfile)])
    media_id = int(out.split()[1])
    out = await run_cli(["--db", net.db, "add-program", "Live", "--items", str(media_id)])
    program = int(out.split()[1])
    await run_cli(["--db", net.db, "assign", "dev1", "Live"])

    async def publish():   # both paths slide in step, one segment per target duration
        while True:
            await asyncio.sleep(facts["target"])
            for live in lives:
                live.advance()

    async def kill_a():    # path a's server dies once the device has taken two segments from it
        while servers[0].segments_served() < 2:
            await asyncio.sleep(0.05)
        await servers[0].stop()

    tasks = [asyncio.ensure_future(publish()), asyncio.ensure_future(kill_a())]
    try:
        played = await play(net, interpreter, items=1, heap=STREAM_HEAP, sink="paced", speed=1,
                            jitter=JITTER, program=program, read_timeout=2.0)
    finally:
        for t in tasks:
            t.cancel()
        await servers[1].stop()
    assert played.rc == 0, played.console()
    (item,) = played.items
    assert item["id"] == media_id and item["status"] == "played" and item["secure"] == 1, item
    assert tasks[1].done() and not tasks[1].cancelled(), "path a was never killed"
    moved = [ev for ev in played.of("HLS") if "path" in ev]
    assert moved, played.console()
    audio = kept(played, media_id)
    # a live window wraps round the presentation: what was played is one run of its audio, with
    # no byte twice and none missing across the move to path b
    assert len(audio) >= facts["rate"] * 4 and audio in facts["es"] * 3
