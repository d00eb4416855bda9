"""HLS items played through fetch.fetch with hls.opener, under micropython (.mpy, in HLS_HEAP) and
CPython, against the stand-in origin (hlsservers.py): on demand over redundant paths with a
missing, a stalled, a dropped and a corrupted segment, AES-128, live with the window driven by the
server, and hostile playlists. The ES the sink gets must be the segments' ES exactly: no byte
twice, none missing."""
import json
import os
import subprocess
import sys

import pytest
from cases_hls import es_bytes, mux, encrypt, seq_iv
from fwpaths import FIRMWARE, MICROPYTHON
from hlsservers import Live, serve

from tools import fwbuild

# the smallest heap (.mpy, this driver, a 2048-byte buffer) a plain 30000-byte item played in was
# 36K, a 6-segment on-demand HLS play 56K, every test here 62K (the live ones, AES-128); 72K is a
# margin above that cliff. HLS_HEAP=60K in the environment runs them in another.
HLS_HEAP = os.environ.get("HLS_HEAP", "72K")
KEY = bytes(range(0x20, 0x30))

DRIVER = r'''
import gc
import json
import sys


class Rec:
    speed = 1
    chunk = 0
    underruns = -1
    underrun_ms = 0

    def __init__(self, path):
        self.path = path
        self.f = None

    def low(self):
        return True

    def begin(self, meta, hasher, buf, resume):
        self.f = open(self.path, "wb")
        return 0

    def write(self, mv):
        self.f.write(mv)

    def restart(self):
        self.f.close()
        self.f = open(self.path, "wb")

    def end(self, ok):
        self.f.close()


def emit(tag, pairs):
    d = {}
    for k, v in pairs:
        d[k] = v
    print(tag, json.dumps(d))


def main(cfg_path):
    with open(cfg_path) as f:
        cfg = json.load(f)
    import fetch
    import httpclient
    gc.collect()
    meta = cfg["meta"]
    if cfg.get("plain"):
        opener = fetch.open_range
    else:
        import hls
        key = None
        if cfg.get("key"):
            from binascii import unhexlify
            key = unhexlify(cfg["key"])
        opener = hls.opener(meta, key, emit=emit)
    gc.collect()
    client = httpclient.HTTPClient(1.0, cfg.get("read_timeout", 0.5))
    res = fetch.fetch(client, meta, Rec(cfg["out"]), bytearray(cfg.get("buffer", 2048)), emit,
                      opener=opener)
    print("RESULT", json.dumps({"status": res.status, "bytes": res.bytes, "src": res.src,
                                "errors": res.errors, "failovers": res.failovers}))
'''


@pytest.fixture(scope="session")
def driver_dir(tmp_path_factory, mpy_dir):
    d = tmp_path_factory.mktemp("hlsdrive")
    src = d / "hlsdrive.py"
    src.write_text(DRIVER)
    fwbuild.put([("hlsdrive.py", str(src))], str(d / "mpy"))
    return d


def run(kind, driver_dir, mpy_dir, tmp_path, meta, key=None, heap=HLS_HEAP, timeout=90, **over):
    cfg = {"meta": meta, "out": str(tmp_path / "es.bin"), "key": key.hex() if key else None}
    cfg.update(over)
    path = tmp_path / "cfg.json"
    path.write_text(json.dumps(cfg))
    if kind == "micropython":
        code = "import sys\nsys.path.insert(0, %r)\nsys.path.insert(0, %r)\nimport hlsdrive\n" \
               "hlsdrive.main(%r)\n" % (str(mpy_dir), str(driver_dir / "mpy"), str(path))
        cmd = [MICROPYTHON, "-X", "heapsize=" + heap, "-c", code]
    else:
        code = "import sys\nsys.path[0:0] = [%r, %r, %r]\nimport hlsdrive\nhlsdrive.main(%r)\n" % (
            str(driver_dir), FIRMWARE, os.path.join(FIRMWARE, "cpython"), str(path))
        cmd = [sys.executable, "-c", code]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    events, result = [], None
    for line in proc.stdout.splitlines():
        tag, _, rest = line.partition(" ")
        if tag == "RESULT":
            result = json.loads(rest)
        elif tag in ("FAIL", "HLS"):
            events.append((tag, json.loads(rest)))
        else:
            raise AssertionError(proc.stdout + proc.stderr)
    assert result is not None, proc.stdout + proc.stderr
    out = tmp_path / "es.bin"
    return result, events, out.read_bytes() if out.exists() else b""


@pytest.fixture(params=["micropython", "cpython"])
def kind(request):
    return request.param


@pytest.fixture
def origin():
    a, ra = serve()
    b, rb = serve()
    yield a, ra, b, rb
    ra.close()
    rb.close()


def media(names, seq0=0, key=None, end=True, vod=False, dur="2.000"):
    out = "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:%d\n" % seq0
    if vod:
        out += "#EXT-X-PLAYLIST-TYPE:VOD\n"
    if key:
        out += key + "\n"
    out += "".join("#EXTINF:%s,\n%s\n" % (dur, n) for n in names)
    return (out + ("#EXT-X-ENDLIST\n" if end else "")).encode()


def item(src, **kw):
    d = {"id": 5, "pos": 0, "stream": "hls", "src": src, "type": "audio/aac"}
    d.update(kw)
    return d


ES = [es_bytes(3000 + 511 * i, 50 + i) for i in range(6)]


def put_vod(st, prefix, segs, key_line=None, seq0=0):
    st.put(prefix + "list.m3u8", media(["s%d.ts" % i for i in range(len(segs))], seq0,
                                      key_line), "application/vnd.apple.mpegurl")
    for i, s in enumerate(segs):
        st.put("%ss%d.ts" % (prefix, i), s)


def test_on_demand_over_redundant_paths_with_missing_stalled_dropped_and_corrupted_segments(
        kind, driver_dir, mpy_dir, tmp_path, origin):
    a, ra, b, rb = origin
    segs = [mux(e) for e in ES]
    bad = bytearray(segs[4])
    bad[188 * 9] = 0x00   # a TS packet whose sync byte is gone
    put_vod(a, "/a/", segs)
    put_vod(b, "/b/", segs)
    b.put("/b/s4.ts", bytes(bad))
    a.put("/master.m3u8", ("#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=96000\na/list.m3u8\n"
                           "#EXT-X-STREAM-INF:BANDWIDTH=48000\nlow/list.m3u8\n"
                           "#EXT-X-STREAM-INF:BANDWIDTH=96000\n%s/b/list.m3u8\n" % rb.url
                           ).encode(), "application/vnd.apple.mpegurl")
    # the path that served a segment serves the next: s1 is missing on a (then b), s2 stalls on
    # b (a), s3 drops on a (b), s4 is corrupted on b (a)
    a.faults = {"/a/s1.ts": "404", "/a/s3.ts": "drop:1500"}
    b.faults = {"/b/s2.ts": "stall:2000"}
    res, events, got = run(kind, driver_dir, mpy_dir, tmp_path, item([ra.url + "/master.m3u8"]))
    assert res["status"] == "played" and res["failovers"] == 0, (res, events)
    assert got == b"".join(ES)
    assert "/low/list.m3u8" not in a.requests   # another bandwidth is not a redundant path
    assert a.requests.count("/a/s1.ts") == 1 and b.requests.count("/b/s1.ts") == 1
    assert [p for p in a.requests if p.endswith(".ts")] == [
        "/a/s0.ts", "/a/s1.ts", "/a/s2.ts", "/a/s3.ts", "/a/s4.ts", "/a/s5.ts"]
    assert [p for p in b.requests if p.endswith(".ts")] == [
        "/b/s1.ts", "/b/s2.ts", "/b/s3.ts", "/b/s4.ts"]


def test_aes_128_on_demand_with_a_drop_mid_segment_and_the_next_src(
        kind, driver_dir, mpy_dir, tmp_path, origin):
    a, ra, b, rb = origin
    key_line = '#EXT-X-KEY:METHOD=AES-128,URI="https://keys.invalid/k"'
    segs = [encrypt(mux(e), KEY, seq_iv(10 + i)) for i, e in enumerate(ES)]
    put_vod(a, "/a/", segs, key_line, seq0=10)
    put_vod(b, "/b/", segs, key_line, seq0=10)
    a.faults = {"/a/s2.ts": "drop:2000", "/a/s5.ts": "404"}
    res, events, got = run(kind, driver_dir, mpy_dir, tmp_path,
                           item([ra.url + "/a/list.m3u8", rb.url + "/b/list.m3u8"],
                                sec={"hls": 1}), KEY)
    assert res["status"] == "played" and res["src"] == ra.url + "/a/list.m3u8", (res, events)
    assert got == b"".join(ES)
    assert b.requests == ["/b/list.m3u8", "/b/s2.ts", "/b/s3.ts", "/b/s4.ts", "/b/s5.ts"]


def test_live_starts_three_from_the_end_and_plays_dur_through_the_moving_window(
        kind, driver_dir, mpy_dir, tmp_path, origin):
    a, ra, b, rb = origin
    live = a.live["/live/"] = Live(period=0.25, window=5, key=KEY)
    res, events, got = run(kind, driver_dir, mpy_dir, tmp_path,
                           item([ra.url + "/live/list.m3u8"], dur=8000, sec={"hls": 1}), KEY)
    assert res["status"] == "played", (res, events)
    segs = [int(p[7:-3]) for p in a.requests if p.endswith(".ts")]
    assert len(segs) == 8 and segs == list(range(segs[0], segs[0] + 8)), segs
    assert got == b"".join(live.es(n) for n in segs)
    assert segs[0] >= 1   # 3 from the end of the first playlist (4 or more segments by then)


def test_a_live_playlist_that_stops_advancing_fails_over_as_stalled(
        kind, driver_dir, mpy_dir, tmp_path, origin):
    a, ra, b, rb = origin
    a.live["/live/"] = live = Live(period=0.2, window=4)
    live.frozen = 6     # never advances: 6 segments, 3 played, then nothing new
    b.live["/live/"] = Live(period=0.2, window=4)
    res, events, got = run(kind, driver_dir, mpy_dir, tmp_path,
                           item([ra.url + "/live/list.m3u8", rb.url + "/live/list.m3u8"],
                                dur=6000), timeout=60)
    assert res["status"] == "played", (res, events)
    # the stalled path gave segments 3, 4, 5; the next src (a path of the stream, so fetch saw
    # no failure) went on at the oldest segment it had, the ones between skipped
    assert res["errors"] == [] and res["src"] == ra.url + "/live/list.m3u8", res
    assert [p for p in a.requests if p.endswith(".ts")] == ["/live/s3.ts", "/live/s4.ts",
                                                             "/live/s5.ts"]
    segs_b = [int(p[7:-3]) for p in b.requests if p.endswith(".ts")]
    assert segs_b == list(range(segs_b[0], segs_b[0] + 3)), segs_b
    assert got == b"".join(live.es(n) for n in [3, 4, 5] + segs_b)
    hls_lines = [e for t, e in events if t == "HLS"]
    assert hls_lines == [{"seq": 6, "path": 0, "url": ra.url + "/live/list.m3u8", "why": "timeout"},
                         {"skipped": segs_b[0] - 6}]


@pytest.mark.parametrize("hostile", ["endless", "long line", "master loop"])
def test_a_hostile_playlist_is_an_error_and_the_next_src_plays(
        kind, hostile, driver_dir, mpy_dir, tmp_path, origin):
    a, ra, b, rb = origin
    segs = [mux(e) for e in ES[:2]]
    put_vod(b, "/b/", segs)
    bad = ra.url + "/bad.m3u8"
    if hostile == "endless":
        a.faults["/bad.m3u8"] = "endless"
        a.put("/bad.m3u8", b"")
        why = "bad response: playlist too large"
    elif hostile == "long line":
        a.put("/bad.m3u8", b"#EXTM3U\n#EXTINF:2,\n" + b"x" * 100000 + b".ts\n",
              "application/vnd.apple.mpegurl")
        why = "bad response: playlist line too long"
    else:
        a.put("/bad.m3u8", b"#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\nbad2.m3u8\n",
              "application/vnd.apple.mpegurl")
        a.put("/bad2.m3u8", b"#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\nbad.m3u8\n",
              "application/vnd.apple.mpegurl")
        why = "bad response: variant is a master playlist"
    res, events, got = run(kind, driver_dir, mpy_dir, tmp_path, item([bad, rb.url + "/b/list.m3u8"]))
    assert res["status"] == "played" and got == b"".join(ES[:2]), (res, events)
    if hostile == "master loop":   # the src's master was read: its variant failed as a path
        assert res["errors"] == [] and ("HLS", {"seq": -1, "path": 0, "url": ra.url + "/bad2.m3u8",
                                                "why": why}) in events
    else:
        assert res["errors"] == [[bad, why]]


def test_a_10000_segment_vod_keeps_a_window_and_reads_the_playlist_again(
        kind, driver_dir, mpy_dir, tmp_path, origin):
    a, ra, b, rb = origin
    n = 10000
    a.put("/big/list.m3u8", media(["s%d.ts" % i for i in range(n)], vod=True, dur="1"),
          "application/vnd.apple.mpegurl")
    es = [es_bytes(300, i) for i in range(40)]
    for i, e in enumerate(es):
        a.put("/big/s%d.ts" % i, mux(e))
    res, events, got = run(kind, driver_dir, mpy_dir, tmp_path,
                           item([ra.url + "/big/list.m3u8"], dur=40000))
    assert res["status"] == "played" and got == b"".join(es), (res, events)
    assert a.requests.count("/big/list.m3u8") == 3    # 16 segments kept at a time
