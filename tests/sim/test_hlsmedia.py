"""simulator.hlsmedia: VOD presentations (TS or packed, AAC or MP3, clear or AES-128) whose
segments carry exactly the ES handed back, master playlists, and a live playlist that slides."""
import asyncio
import os
import re

import pytest
from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from simulator.hlsmedia import LivePlaylist, ffmpeg_path, make_vod, write_master

KEY = bytes.fromhex("00112233445566778899aabbccddeeff")


@pytest.fixture(autouse=True)
def need_ffmpeg():
    if not ffmpeg_path():
        pytest.skip("ffmpeg is not installed (make test-deps installs it)")


def parse(text):
    """A media playlist: {"tags": {name: value}, "segments": [(uri, duration, discontinuity)],
    "key": {attr: value} or None, "endlist": bool}."""
    lines = text.splitlines()
    assert lines[0] == "#EXTM3U"
    tags, segments, key, endlist = {}, [], None, False
    duration, discontinuity = None, False
    for line in lines[1:]:
        if line.startswith("#EXTINF:"):
            assert duration is None
            duration = float(line[len("#EXTINF:"):].split(",")[0])
        elif line == "#EXT-X-DISCONTINUITY":
            discontinuity = True
        elif line == "#EXT-X-ENDLIST":
            endlist = True
        elif line.startswith("#EXT-X-KEY:"):
            key = dict(re.findall(r'([A-Z0-9-]+)=("[^"]*"|[^,]*)', line[len("#EXT-X-KEY:"):]))
        elif line.startswith("#EXT"):
            name, _, value = line[1:].partition(":")
            tags[name] = value
        else:
            assert line and duration is not None, "a URI without EXTINF: %r" % line
            assert not endlist
            segments.append((line, duration, discontinuity))
            duration, discontinuity = None, False
    return {"tags": tags, "segments": segments, "key": key, "endlist": endlist}


def aes_decrypt(data, key, iv):
    dec = Cipher(algorithms.AES(key), modes.CBC(iv)).decryptor()
    unpad = padding.PKCS7(128).unpadder()
    return unpad.update(dec.update(data) + dec.finalize()) + unpad.finalize()


def ts_audio(data):
    """The audio ES an MPEG-TS carries: PAT -> PMT -> the audio PID's PES payloads, in order."""
    assert len(data) % 188 == 0
    assert all(data[i] == 0x47 for i in range(0, len(data), 188)), "sync byte lost"
    pmt_pid = audio_pid = None
    es = bytearray()
    for i in range(0, len(data), 188):
        pkt = data[i:i + 188]
        pusi = pkt[1] & 0x40
        pid = ((pkt[1] & 0x1F) << 8) | pkt[2]
        afc = (pkt[3] >> 4) & 3
        pos = 4
        if afc & 2:
            pos += 1 + pkt[4]
        if not afc & 1:
            continue
        payload = pkt[pos:]
        if pid == 0 and pmt_pid is None:
            sec = payload[1 + payload[0]:]
            pmt_pid = ((sec[10] & 0x1F) << 8) | sec[11]
        elif pid == pmt_pid and audio_pid is None:
            sec = payload[1 + payload[0]:]
            section_end = 3 + (((sec[1] & 0x0F) << 8) | sec[2]) - 4
            j = 12 + (((sec[10] & 0x0F) << 8) | sec[11])
            while j < section_end:
                stype, epid = sec[j], ((sec[j + 1] & 0x1F) << 8) | sec[j + 2]
                if stype in (0x0F, 0x03, 0x04):     # ADTS AAC, MPEG-1/2 audio
                    audio_pid = epid
                j += 5 + (((sec[j + 3] & 0x0F) << 8) | sec[j + 4])
        elif pid == audio_pid and audio_pid is not None:
            if pusi:
                assert payload[:3] == b"\0\0\1"
                payload = payload[9 + payload[8]:]
            es += payload
    assert audio_pid is not None
    return bytes(es)


CASES = [(codec, container, key) for codec in ("aac", "mp3") for container in ("ts", "packed")
         for key in (None, KEY)]


@pytest.mark.parametrize("codec,container,key", CASES,
                         ids=["%s-%s-%s" % (c, t, "aes" if k else "clear") for c, t, k in CASES])
def test_vod_segments_carry_the_es(tmp_path, codec, container, key):
    out = tmp_path / "vod"
    vod = make_vod(out, seconds=4, segment_s=1, codec=codec, container=container, key=key)
    with open(vod["playlist"]) as f:
        pl = parse(f.read())
    assert vod["playlist"] == str(out / "index.m3u8")
    assert pl["endlist"]
    assert pl["tags"]["EXT-X-VERSION"] == "3"
    assert pl["tags"]["EXT-X-MEDIA-SEQUENCE"] == "0"
    target = int(pl["tags"]["EXT-X-TARGETDURATION"])
    assert [s[0] for s in pl["segments"]] == vod["segments"]
    assert [s[1] for s in pl["segments"]] == pytest.approx(vod["durations"], abs=1e-5)
    assert all(round(d) <= target for d in vod["durations"])
    assert sum(vod["durations"]) == pytest.approx(4, abs=0.1)   # whole frames: within one
    assert len(vod["segments"]) in (4, 5)
    ext = {"ts": ".ts", "packed": "." + codec}[container]
    assert all(name.endswith(ext) for name in vod["segments"])
    # the ES: whole frames, no tags; at about the bitrate
    if codec == "aac":
        assert vod["es"][:2] == b"\xff\xf1"
    else:
        assert vod["es"][0] == 0xFF and vod["es"][1] & 0xE0 == 0xE0
    assert b"ID3" not in vod["es"][:10] and b"Xing" not in vod["es"] and b"Info" not in vod["es"][:200]
    assert vod["rate"] == int(len(vod["es"]) / sum(vod["durations"]))
    assert 3000 < vod["rate"] < 5000

    if key is None:
        assert pl["key"] is None
        iv = None
    else:
        assert pl["key"]["METHOD"] == "AES-128" and pl["key"]["URI"] == '"key.bin"'
        iv = bytes.fromhex(pl["key"]["IV"][2:])
        assert len(iv) == 16 and iv == vod["iv"]
        # the key stays on the meta server: not in outdir, under any name
        for name in os.listdir(out):
            assert name != "key.bin"
            with open(out / name, "rb") as f:
                assert KEY not in f.read()
    plain = []
    for name in vod["segments"]:
        with open(out / name, "rb") as f:
            data = f.read()
        if key is not None:
            assert len(data) % 16 == 0
            data = aes_decrypt(data, key, iv)
        plain.append(data)
    if container == "ts":
        carried = b"".join(ts_audio(p) for p in plain)
    else:
        carried = b"".join(plain)
    assert carried == vod["es"]


def test_vod_is_deterministic(tmp_path):
    a = make_vod(tmp_path / "a", seconds=3, key=KEY)
    b = make_vod(tmp_path / "b", seconds=3, key=KEY)
    assert a["es"] == b["es"] and a["segments"] == b["segments"]
    for name in a["segments"] + ["index.m3u8"]:
        with open(tmp_path / "a" / name, "rb") as fa, open(tmp_path / "b" / name, "rb") as fb:
            assert fa.read() == fb.read(), name


def test_master_lists_redundant_variants(tmp_path):
    path = write_master(tmp_path / "master.m3u8", ["http://a/live/index.m3u8", "http://b/live/index.m3u8"],
                        bandwidth=48000)
    with open(path) as f:
        lines = f.read().splitlines()
    assert lines[0] == "#EXTM3U"
    inf = [line for line in lines if line.startswith("#EXT-X-STREAM-INF:")]
    assert inf == ['#EXT-X-STREAM-INF:BANDWIDTH=48000,CODECS="mp4a.40.2"'] * 2
    uris = [line for line in lines if line and not line.startswith("#")]
    assert uris == ["http://a/live/index.m3u8", "http://b/live/index.m3u8"]
    for i, line in enumerate(lines):     # each URI right after its STREAM-INF
        if line in uris:
            assert lines[i - 1].startswith("#EXT-X-STREAM-INF:")


def test_live_playlist_slides_and_wraps(tmp_path):
    vod = make_vod(tmp_path / "vod", seconds=3, key=KEY)
    n = len(vod["segments"])
    live = LivePlaylist(tmp_path / "vod", tmp_path / "live", window=2)
    assert not os.path.exists(tmp_path / "live" / "index.m3u8")
    previous = -1
    for step in range(1, 3 * n + 2):
        text = live.advance()
        with open(tmp_path / "live" / "index.m3u8") as f:
            assert f.read() == text
        pl = parse(text)
        assert not pl["endlist"] and "EXT-X-PLAYLIST-TYPE" not in pl["tags"]
        seq = int(pl["tags"]["EXT-X-MEDIA-SEQUENCE"])
        assert seq == max(0, step - 2) == live.sequence
        assert seq >= previous
        previous = seq
        assert pl["key"]["METHOD"] == "AES-128"
        assert len(pl["segments"]) == min(step, 2)
        for k, (uri, duration, discontinuity) in enumerate(pl["segments"]):
            s = seq + k
            assert uri == "live%d.ts" % s
            assert duration == pytest.approx(vod["durations"][s % n], abs=1e-5)
            assert discontinuity == (s > 0 and s % n == 0)
            with open(tmp_path / "live" / uri, "rb") as f, \
                    open(tmp_path / "vod" / vod["segments"][s % n], "rb") as g:
                assert f.read() == g.read()
        wraps_gone = sum(1 for s in range(1, seq) if s % n == 0)
        assert int(pl["tags"].get("EXT-X-DISCONTINUITY-SEQUENCE", "0")) == wraps_gone
        assert int(pl["tags"]["EXT-X-TARGETDURATION"]) == vod["target"]
        # no temp files; old segments go some time after they leave the window
        names = sorted(os.listdir(tmp_path / "live"))
        assert all(not name.startswith(".") for name in names)
        assert len(names) <= 1 + 2 * 2
    assert live.next == 3 * n + 1


async def test_live_run_advances_until_cancelled(tmp_path):
    make_vod(tmp_path / "vod", seconds=2, codec="mp3", container="packed")
    live = LivePlaylist(tmp_path / "vod", tmp_path / "live", window=3)
    task = asyncio.create_task(live.run(every_s=0.01))
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 10
    while live.next < 5 and loop.time() < deadline:
        await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert live.next >= 5
    with open(live.path) as f:
        pl = parse(f.read())
    assert [u for u, _, _ in pl["segments"]] == ["live%d.mp3" % s for s in range(live.next - 3, live.next)]
