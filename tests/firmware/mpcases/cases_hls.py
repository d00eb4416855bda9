# HLS (firmware/hls.py, tsdemux.py) on both interpreters, against canned responses: the demuxer
# across every chunking, a bad sync byte, packed audio; playlists' bounds; a whole play through
# fetch with a missing segment, a corrupted one and AES-128. The muxer here (PAT, PMT, PES in
# 188-byte packets, adaptation fields for PCR and stuffing) also builds tests/firmware/hlsservers.py's
# segments.
import httpclient
import sinks
from cryptolib import aes
from fakesock import FakeSock, Opener, response
from fetch import fetch
from httpconn import BadResponse
from tsdemux import Demux

import hls

# the firmware, the muxer and its segments in memory beside each other
HEAP = "256K"
PMT_PID = 0x100
ES_PID = 0x101


def es_bytes(n, salt=0):
    """n bytes of a stand-in audio ES (ADTS-ish: a sync word now and then)."""
    out = bytearray(n)
    x = (salt * 7919 + 1) & 0xFFFF
    for i in range(n):
        x = (x * 75 + 74) % 65537
        out[i] = x & 0xFF
    for i in range(0, n - 1, 400):
        out[i] = 0xFF
        out[i + 1] = 0xF1
    return bytes(out)


def _packet(pid, payload, start=False, af=None, cc=0):
    """One TS packet: payload (at most 184 bytes less the adaptation field), stuffed to 188."""
    head = bytes([0x47, (0x40 if start else 0) | pid >> 8, pid & 0xFF])
    room = 184 - len(payload)
    if af is None and room == 0:
        return head + bytes([0x10 | cc & 15]) + payload
    af = af or b""
    if room < len(af) + 1:
        raise ValueError("payload too long")
    fill = room - 1 - len(af)
    body = af + b"\xff" * fill if af else (b"\x00" + b"\xff" * (fill - 1) if fill else b"")
    return head + bytes([(0x30 if payload else 0x20) | cc & 15, len(body)]) + body + payload


def _psi(section):
    return b"\x00" + section + b"\xff" * (183 - len(section))


def pat():
    s = bytes([0, 0xB0, 13, 0, 1, 0xC1, 0, 0, 0, 1, 0xE0 | PMT_PID >> 8, PMT_PID & 0xFF]) \
        + b"\0\0\0\0"
    return _packet(0, _psi(s), True)


def pmt(stype=0x0F):
    # a timed-metadata stream (0x15, with a descriptor) before the audio one: skipped
    es = bytes([0x15, 0xE1, 0x02, 0xF0, 3, 0x26, 1, 0]) + bytes(
        [stype, 0xE0 | ES_PID >> 8, ES_PID & 0xFF, 0xF0, 0])
    body = bytes([0, 1, 0xC1, 0, 0, 0xE0 | ES_PID >> 8, ES_PID & 0xFF, 0xF0, 0]) + es
    s = bytes([2, 0xB0, len(body) + 4]) + body + b"\0\0\0\0"
    return _packet(PMT_PID, _psi(s), True)


def mux(es, pes_size=1500, stype=0x0F):
    """es as an MPEG-TS segment: PAT, PMT, then PES packets of up to pes_size ES bytes."""
    out = bytearray(pat() + pmt(stype))
    cc = 0
    for p0 in range(0, len(es), pes_size):
        chunk = es[p0:p0 + pes_size]
        pes = bytes([0, 0, 1, 0xC0, 0, 0, 0x80, 0x80, 5, 0x21, 0, 1, 0, 1]) + chunk
        first = True
        i = 0
        while i < len(pes):
            af = b"\x10" + bytes(6) if first else None  # a PCR on each PES's first packet
            room = 184 - (len(af) + 1 if af else 0)
            piece = pes[i:i + room]
            out += _packet(ES_PID, piece, first, af, cc)
            cc += 1
            i += len(piece)
            first = False
    return bytes(out)


def id3(n):
    size = bytes([n >> 21 & 127, n >> 14 & 127, n >> 7 & 127, n & 127])
    return b"ID3\x04\x00\x00" + size + bytes(n)


def pkcs7(data):
    p = 16 - len(data) % 16
    return data + bytes([p]) * p


def encrypt(data, key, iv):
    buf = bytearray(pkcs7(data))
    aes(key, 2, iv).encrypt(buf, buf)
    return bytes(buf)


def seq_iv(n):
    return n.to_bytes(16, "big")


def demux_all(data, step):
    got = bytearray()
    d = Demux(got.extend)
    mv = memoryview(bytearray(data))
    for i in range(0, len(data), step):
        d.feed(mv[i:i + step])
    d.end()
    return bytes(got)


ES = es_bytes(5000)
SEG = mux(ES)


def test_ts_demux_gives_the_es_exactly_for_every_chunking():
    for step in (1, 7, 187, 188, 189, 376, 1000, len(SEG)):
        assert demux_all(SEG, step) == ES, step


def test_ts_demux_of_mp3_stream_type_and_one_pes_per_packet():
    es = es_bytes(3000, 5)
    for stype in (0x03, 0x04):
        assert demux_all(mux(es, 100, stype), 500) == es


def test_a_packet_without_its_sync_byte_raises_before_any_of_its_bytes():
    bad = bytearray(SEG)
    bad[188 * 6] = 0x46  # the 7th packet (the 5th of audio)
    for step in (188, 100, 4096):
        got = bytearray()
        d = Demux(got.extend)
        try:
            for i in range(0, len(bad), step):
                d.feed(memoryview(bad)[i:i + step])
            raise AssertionError("no error")
        except BadResponse as e:
            assert e.args[0] == "ts sync"
        assert ES.startswith(bytes(got))
        assert len(got) <= (184 - 8 - 14) + 3 * 184   # at most the 4 audio packets before it


def test_a_segment_cut_inside_a_packet_is_an_error():
    try:
        demux_all(SEG[:-50], 1000)
        raise AssertionError("no error")
    except BadResponse as e:
        assert e.args[0] == "ts packet cut"


def test_packed_audio_loses_its_id3_tag_and_keeps_the_rest():
    es = es_bytes(2000, 3)
    for step in (1, 3, 10, 11, 700, 5000):
        assert demux_all(id3(45) + es, step) == es
        assert demux_all(es, step) == es   # raw ADTS
    assert demux_all(b"ID", 1) == b"ID"   # shorter than a header: audio after all


def test_relative_uris_resolve_against_the_playlist():
    base = "http://h:8/a/b/list.m3u8?x=1"
    assert hls.resolve(base, "s1.ts") == "http://h:8/a/b/s1.ts"
    assert hls.resolve(base, "../c/s1.ts") == "http://h:8/a/b/../c/s1.ts"
    assert hls.resolve(base, "/s1.ts") == "http://h:8/s1.ts"
    assert hls.resolve(base, "//o:9/s.ts") == "http://o:9/s.ts"
    assert hls.resolve(base, "https://o/s.ts") == "https://o/s.ts"
    for bad in ("ftp://o/s.ts", "data:abc", "skd://key"):
        try:
            hls.resolve(base, bad)
            raise AssertionError(bad)
        except BadResponse as e:
            assert e.args[0] == "unsupported url"


# -- a play through fetch, against canned responses (one connection per request) ------------

HA = ("127.0.0.1", 8201)
HB = ("127.0.0.1", 8202)
KEY = bytes(range(16, 32))


def ok(body, ctype="application/vnd.apple.mpegurl"):
    return response(200, body, ["Content-Length: %d" % len(body), "Connection: close",
                                "Content-Type: " + ctype])


def media(names, seq0=0, end=True, key=None, target=2):
    out = "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:%d\n#EXT-X-MEDIA-SEQUENCE:%d\n" % (
        target, seq0)
    if key:
        out += key + "\n"
    for n in names:
        out += "#EXTINF:2.000,\n%s\n" % n
    if end:
        out += "#EXT-X-ENDLIST\n"
    return out.encode()


class Rec(sinks.Sink):
    def __init__(self):
        self.data = bytearray()

    def write(self, mv):
        self.data.extend(mv)

    def restart(self):
        self.data = bytearray()


def play(table, meta, key=None, bufsize=512, step=0):
    for k in table:
        table[k] = [FakeSock(r, step) if isinstance(r, bytes) else r for r in table[k]]
    c = httpclient.HTTPClient(1.0, 1.0, opener=Opener(table))
    sink = Rec()
    events = []
    res = fetch(c, meta, sink, bytearray(bufsize), lambda t, p: events.append((t, dict(p))),
                opener=hls.opener(meta, key, sleep_ms=lambda ms: None))
    return res, bytes(sink.data), events


def item(src, **kw):
    d = {"id": 9, "pos": 0, "stream": "hls", "src": src, "type": "audio/aac"}
    d.update(kw)
    return d


ES3 = [es_bytes(1200 + 300 * i, i) for i in range(3)]
SEGS = [mux(e, 700) for e in ES3]


def test_a_vod_media_playlist_plays_every_segment_once_in_order():
    u = "http://127.0.0.1:8201/v/list.m3u8"
    table = {HA: [ok(media(["s0.ts", "s1.ts", "s2.ts"]))] + [ok(s, "video/mp2t") for s in SEGS]}
    for step in (0, 61):
        res, got, ev = play(dict((k, list(v)) for k, v in table.items()), item([u]), step=step)
        assert res.status == "played" and got == b"".join(ES3), (res.status, res.errors)


def test_a_missing_and_a_corrupted_segment_come_from_the_redundant_path_exactly_once():
    master = (b"#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=128000,CODECS=\"mp4a.40.2\"\na/m.m3u8\n"
              b"#EXT-X-STREAM-INF:BANDWIDTH=64000\nlow/m.m3u8\n"
              b"#EXT-X-STREAM-INF:BANDWIDTH=128000\nhttp://127.0.0.1:8202/b/m.m3u8\n")
    bad = bytearray(SEGS[2])
    bad[188 * 5] = 0     # a packet well inside: some of the segment's ES is given before it
    pl = media(["s0.ts", "s1.ts", "s2.ts"])
    # s1 is missing on the first path: the second serves it, and s2 too (the path that works is
    # kept), corrupted: the first path's again serves it, its ES given before the bad packet
    # dropped
    table = {HA: [ok(master), ok(pl), ok(SEGS[0]), response(404, b"", ["Content-Length: 0",
                                                                     "Connection: close"]),
                  ok(pl), ok(SEGS[2])],
             HB: [ok(pl), ok(SEGS[1]), ok(bytes(bad))]}
    res, got, ev = play(table, item(["http://127.0.0.1:8201/v/master.m3u8"]))
    assert res.status == "played" and res.failovers == 0, res.errors
    assert got == b"".join(ES3)


def test_aes_128_segments_decrypt_with_the_given_iv_or_the_sequence_number():
    key_line = '#EXT-X-KEY:METHOD=AES-128,URI="skd://never-fetched"'
    iv = bytes(range(100, 116))
    enc0 = [encrypt(s, KEY, seq_iv(7 + i)) for i, s in enumerate(SEGS)]
    enc1 = [encrypt(s, KEY, iv) for s in SEGS]
    u = "http://127.0.0.1:8201/e/list.m3u8"
    for kl, segs in ((key_line, enc0), (key_line + ",IV=0x" + "".join(
            "%02x" % b for b in iv), enc1)):
        table = {HA: [ok(media(["s0.ts", "s1.ts", "s2.ts"], 7, key=kl))] + [ok(s) for s in segs]}
        res, got, ev = play(table, item([u], sec={"hls": 1}), KEY)
        assert res.status == "played" and got == b"".join(ES3), res.errors
    # a wrong key: the padding check fails on every path: the last error
    table = {HA: [ok(media(["s0.ts"], 7, key=key_line)), ok(enc0[0])]}
    res, got, ev = play(table, item([u], sec={"hls": 1}), bytes(16))
    assert res.status == "failed" and res.errors[0][1] in ("bad response: padding",
                                                          "bad response: ts sync"), res.errors


def test_hostile_playlists_are_errors_that_move_on():
    u = "http://127.0.0.1:8201/h/list.m3u8"
    cases = (
        (b"#EXTM3U\n#EXTINF:2,\n" + b"a" * 3000 + b".ts\n", "bad response: playlist line too long"),
        (b"#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\nm2.m3u8\n", None),   # its variant: a master
        (media(["a.ts"], key='#EXT-X-KEY:METHOD=SAMPLE-AES,URI="k"'),
         "bad response: key method SAMPLE-AES"),
        (b"<html>", "bad response: not a playlist"),
        (media(["a.ts"], end=False), "bad response: live hls without dur"),
    )
    for body, why in cases:
        resp = [ok(body)]
        if why is None:
            resp.append(ok(body))
            why = "bad response: variant is a master playlist"
        res, got, ev = play({HA: resp}, item([u]), KEY)
        assert res.status == "failed" and res.errors == [[u, why]], res.errors
    rot = media(["a.ts"], key='#EXT-X-KEY:METHOD=AES-128,URI="k1"').replace(
        b"#EXT-X-ENDLIST", b'#EXT-X-KEY:METHOD=AES-128,URI="k2"\n#EXTINF:2,\nb.ts\n#EXT-X-ENDLIST')
    res, got, ev = play({HA: [ok(rot)]}, item([u]), KEY)
    assert res.errors == [[u, "bad response: key rotation"]], res.errors


def test_a_long_vod_playlist_keeps_sixteen_segments_and_is_read_again():
    names = ["s%d.ts" % i for i in range(40)]
    pl = media(names).replace(b"#EXT-X-VERSION:3\n", b"#EXT-X-PLAYLIST-TYPE:VOD\n")
    es = [es_bytes(200, i) for i in range(20)]
    table = {HA: [ok(pl)] + [ok(mux(e)) for e in es[:16]] + [ok(pl)] + [ok(mux(e)) for e in es[16:]]}
    # dur: 20 segments of 2 s
    res, got, ev = play(table, item(["http://127.0.0.1:8201/l/list.m3u8"], dur=40000))
    assert res.status == "played" and got == b"".join(es), res.errors


def test_a_short_read_takes_the_rest_of_a_packet_later():
    u = "http://127.0.0.1:8201/v/list.m3u8"
    table = {HA: [ok(media(["s0.ts", "s1.ts", "s2.ts"]))] + [ok(s) for s in SEGS]}
    for k in table:
        table[k] = [FakeSock(r) for r in table[k]]
    c = httpclient.HTTPClient(1.0, 1.0, opener=Opener(table))
    s, skip = hls.opener(item([u]))(c, u, 0)
    buf = bytearray(64)
    got = bytearray()
    n = 1
    while True:
        k = s.readinto(buf, n)
        if not k:
            break
        assert 1 <= k <= n
        got += buf[:k]
        n = n % 97 + 1
    assert skip == 0 and bytes(got) == b"".join(ES3)


def test_status_of_a_missing_playlist_is_the_error():
    u = "http://127.0.0.1:8201/x.m3u8"
    res, got, ev = play({HA: [response(404, b"", ["Content-Length: 0", "Connection: close"])]},
                        item([u]))
    assert res.errors == [[u, "404"]]
