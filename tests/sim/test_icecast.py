"""simulator.icecast: real icecast2 servers on loopback, an ffmpeg source, a relay carrying the
origin's mount, and ICY titles set through the admin interface."""
import asyncio
import contextlib
import os

import pytest

from simulator.icecast import (FfmpegSource, IcecastServer, ffmpeg_path, http_get, icecast_path,
                               read_icy, set_title)

# MPEG-2 Layer III (22050 Hz): bitrate index -> kbit/s, sample-rate index -> Hz
MPEG2_L3_KBPS = [0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160]
MPEG2_RATES = [22050, 24000, 16000]


@pytest.fixture(autouse=True)
def need_tools():
    if not icecast_path():
        pytest.skip("icecast2 is not installed (make test-deps installs it)")
    if not ffmpeg_path():
        pytest.skip("ffmpeg is not installed (make test-deps installs it)")


@contextlib.asynccontextmanager
async def origin_and_relay(tmp_path):
    """An origin with an ffmpeg source on /live, and a second server relaying it."""
    started = []
    try:
        origin = IcecastServer(tmp_path / "origin")
        started.append(await origin.start())
        source = FfmpegSource(origin)
        started.append(await source.start())
        relay = IcecastServer(tmp_path / "relay", relay=("127.0.0.1", origin.port, "/live"))
        started.append(await relay.start())
        yield origin, source, relay
    finally:
        for proc in reversed(started):
            await proc.stop()


def first_frame(data):
    """(kbit/s, Hz) of the first MPEG-2 Layer III frame header in data."""
    for i in range(len(data) - 4):
        b0, b1, b2 = data[i], data[i + 1], data[i + 2]
        if b0 == 0xFF and (b1 & 0xFE) == 0xF2 and (b2 >> 4) not in (0, 15) and (b2 >> 2) & 3 != 3:
            return MPEG2_L3_KBPS[b2 >> 4], MPEG2_RATES[(b2 >> 2) & 3]
    raise AssertionError("no MP3 frame header")


async def titles(server, want, limit_s=10.0):
    """The metadata blocks a new ``Icy-MetaData: 1`` listener reads, until one says ``want``."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + limit_s
    seen = []
    while loop.time() < deadline:
        code, headers, body = await http_get("127.0.0.1", server.port, server.mount,
                                             {"Icy-MetaData": "1"}, limit=server.burst + 2 * server.metaint)
        assert code == 200
        assert int(headers["icy-metaint"]) == server.metaint
        seen = read_icy(body, server.metaint)[1]
        if "StreamTitle='%s';" % want in seen:
            return seen
    raise AssertionError("no StreamTitle %r from %s; saw %r" % (want, server.url, seen))


async def test_relay_serves_the_sources_stream_and_titles(tmp_path):
    async with origin_and_relay(tmp_path) as (origin, source, relay):
        assert source.rate == 4000
        assert await relay.serving() and await origin.serving()
        # both at once: the relay's latest bytes are among the origin's (its burst and the next seconds)
        (o_code, o_headers, o_body), (r_code, r_headers, r_body) = await asyncio.gather(
            http_get("127.0.0.1", origin.port, "/live", limit=origin.burst + 3 * source.rate),
            http_get("127.0.0.1", relay.port, "/live", limit=relay.burst))
        assert (o_code, r_code) == (200, 200)
        assert o_headers["content-type"] == r_headers["content-type"] == "audio/mpeg"
        assert "icy-metaint" not in o_headers      # asked for no metadata: plain MP3
        assert first_frame(o_body) == first_frame(r_body) == (32, 22050)
        assert r_body[-2000:] in o_body

        # a title set on the origin reaches its listeners, and the relay's (icecast relays ICY titles)
        await set_title(origin, "/live", "Song One")
        await titles(origin, "Song One")
        await titles(relay, "Song One")
        # set on the relay itself: its own listeners see it
        await set_title(relay, "/live", "Relay's own ünïcode")
        await titles(relay, "Relay's own ünïcode")     # icecast sends it in Latin-1
        # the origin's next title replaces it
        await set_title(origin, "/live", "Song Two")
        await titles(relay, "Song Two")


async def test_killing_the_relay_leaves_the_origin_serving(tmp_path):
    async with origin_and_relay(tmp_path) as (origin, source, relay):
        relay.kill()
        await relay.stop()
        # gone (its exit status is asyncio's to read, which on a busy machine has been seen to
        # find the child reaped already and report 255: the status is not what this pins down)
        with pytest.raises(ProcessLookupError):
            os.kill(relay.proc.pid, 0)
        with pytest.raises(OSError):
            await http_get("127.0.0.1", relay.port, "/live", limit=1)
        code, _, body = await http_get("127.0.0.1", origin.port, "/live", limit=origin.burst + source.rate)
        assert code == 200 and len(body) == origin.burst + source.rate
        assert first_frame(body) == (32, 22050)
        assert await origin.serving()


async def test_a_source_with_seconds_ends_and_the_mount_goes(tmp_path):
    server = await IcecastServer(tmp_path / "ice", mount="/short").start()
    source = FfmpegSource(server, mount="/short", seconds=1)
    try:
        await source.start()
        assert server.url.endswith("/short")
        await asyncio.wait_for(source.proc.wait(), 10)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 10
        while await server.serving() and loop.time() < deadline:
            await asyncio.sleep(0.05)
        assert not await server.serving()
        code, _, _ = await http_get("127.0.0.1", server.port, "/short", limit=1)
        assert code == 404
    finally:
        await source.stop()
        await server.stop()
