"""The meta server's side of the device as a player (issue 14): playback rate and duration in
the compact document, underruns in reports, the horizon, batched reports applied exactly once.
On SQLite and PostgreSQL (db_path)."""

import struct

import pytest

from host_server.app import init_app
from host_server.db import Database
from host_server.model import catalog
from host_server.model.errors import Invalid
from host_server.model.playback import wav_facts
from hostutil import bearer, login, media_doc, run_cli, sql, write_json
from simulator.media import tone_wav


def count(db_path, table):
    return sql(db_path, f"SELECT count(*) FROM {table}")[0][0]


async def get(client, token, path, status=200):
    resp = await client.get(path, headers=bearer(token))
    assert resp.status == status, await resp.text()
    return await resp.json() if status == 200 else None


def report_of(doc, seq=None, **extra):
    rep = {"id": doc["id"], "pos": doc["pos"], "status": "played", "src": doc["src"][0],
           "bytes": doc["size"], "ms": 4000, "errors": []}
    if seq is not None:
        rep["seq"] = seq
    rep.update(extra)
    return rep


async def post(client, token, path, body, status=200):
    resp = await client.post(path, json=body, headers=bearer(token))
    answer = await resp.json()
    assert resp.status == status, answer
    return answer


# -- rate and duration -----------------------------------------------------------------------

def test_a_wav_header_gives_its_byte_rate_and_the_data_chunks_duration():
    blob = tone_wav(2, (440.0,), "T", "P", rate=8000)   # 16-bit mono: 16000 B/s; a LIST chunk first
    assert wav_facts(blob, len(blob)) == (16000, 2000)
    assert wav_facts(blob[:100], len(blob)) == (16000, 2000)   # the header alone is enough
    assert wav_facts(blob[:30]) is None                        # the data chunk not reached
    assert wav_facts(b"ID3" + blob[3:]) is None
    # a stream writer's placeholder size: the rest of the file
    at = blob.index(b"data")
    streamed = blob[:at + 4] + b"\xff\xff\xff\xff" + blob[at + 8:]
    assert wav_facts(streamed, len(streamed)) == (16000, 2000)
    stereo = struct.pack("<HHIIHH", 1, 2, 44100, 176400, 4, 16)
    cd = (b"RIFF" + struct.pack("<I", 36 + 176400) + b"WAVEfmt " + struct.pack("<I", 16) + stereo
          + b"data" + struct.pack("<I", 176400 * 3))
    assert wav_facts(cd) == (176400, 3000)


@pytest.mark.parametrize("field, value", [
    ("rate", 0), ("rate", -1), ("rate", "44100"), ("rate", True), ("rate", 1.5),
    ("rate", 100_000_001), ("dur", 0), ("dur", 2 ** 31), ("dur", [1])])
def test_rate_and_dur_must_be_positive_bounded_integers(field, value):
    with pytest.raises(Invalid, match=repr(field)):
        catalog.validate_media(media_doc(1, **{field: value}))


async def test_next_and_the_full_record_carry_rate_and_dur_when_known(aiohttp_client, db_path, clock):
    db = await Database(db_path, clock=clock).connect()
    known = await db.catalog.add_media(catalog.validate_media(media_doc(1, rate=44100, dur=6000)))
    unknown = await db.catalog.add_media(catalog.validate_media(media_doc(2, rate=None)))
    await db.catalog.add_program("P", [known, unknown])
    await db.devices.add("dev1", "", "00112233445566778899aabbccddeeff")
    await db.devices.assign("dev1", "P", default=True)
    await db.close()
    client = await aiohttp_client(init_app(probe_interval=0, db=db_path, clock=clock))
    token = await login(client)
    doc = await get(client, token, "/api/v1/next")
    assert doc["rate"] == 44100 and doc["dur"] == 6000
    assert list(doc)[:7] == ["id", "pos", "size", "sha256", "type", "rate", "dur"]
    record = await get(client, token, f"/api/v1/media/{known}")
    assert (record["rate"], record["dur"]) == (44100, 6000)
    await post(client, token, "/api/v1/report", report_of(doc))
    doc = await get(client, token, "/api/v1/next")
    assert doc["id"] == unknown and "rate" not in doc and "dur" not in doc
    record = await get(client, token, f"/api/v1/media/{unknown}")
    assert record["rate"] is None and record["dur"] is None


def test_add_media_and_import_store_rate_and_dur_and_refuse_bad_ones(tmp_path, db_path):
    run_cli("add-media", "--json", write_json(tmp_path / "m.json", media_doc(1, rate=16000, dur=2500)),
            db=db_path, check=0)
    catalog_doc = {"media": [dict(media_doc(2, rate=176400, dur=1000), ref="a"),
                             dict(media_doc(3), ref="b")],
                   "programs": [{"name": "P", "items": ["a", "b"]}]}
    run_cli("import", write_json(tmp_path / "c.json", catalog_doc), db=db_path, check=0)
    rows = sql(db_path, "SELECT size, rate, dur, compact FROM media ORDER BY id")
    assert [r[:3] for r in rows] == [(1001, 16000, 2500), (1002, 176400, 1000), (1003, None, None)]
    assert '"rate":16000,"dur":2500' in rows[0][3] and '"rate"' not in rows[2][3]
    bad = run_cli("add-media", "--json", write_json(tmp_path / "b.json", media_doc(4, dur=-5)),
                  db=db_path, check=1)
    assert "'dur'" in bad.stderr
    assert count(db_path, "media") == 3


# -- underruns -------------------------------------------------------------------------------

async def test_underruns_are_stored_listed_and_part_of_a_repeats_comparison(client, db_path):
    token = await login(client)
    doc = await get(client, token, "/api/v1/next")
    assert await post(client, token, "/api/v1/report",
                      report_of(doc, underruns=3, underrun_ms=450)) == {"next_pos": 1}
    # the same report again is a repeat; one that differs only in its underruns is not
    assert await post(client, token, "/api/v1/report",
                      report_of(doc, underruns=3, underrun_ms=450)) == {"next_pos": 1}
    assert await post(client, token, "/api/v1/report",
                      report_of(doc, underruns=4, underrun_ms=450)) == {"next_pos": 1}
    assert sql(db_path, "SELECT underruns, underrun_ms, advanced FROM reports ORDER BY id") == [
        (3, 450, 1), (4, 450, 0)]
    out = run_cli("reports", db=db_path, check=0).stdout
    header, newest, oldest = out.splitlines()
    at = header.index("underruns  underrun_ms")
    assert oldest[at:].split()[:2] == ["3", "450"] and newest[at:].split()[:2] == ["4", "450"]
    listed = (await Database(db_path).connect())
    try:
        rows = await listed.devices.reports(device="dev1")
    finally:
        await listed.close()
    assert [(r["underruns"], r["underrun_ms"]) for r in rows] == [(4, 450), (3, 450)]


@pytest.mark.parametrize("extra, message", [
    ({"underruns": -1}, "'underruns'"), ({"underruns": "2"}, "'underruns'"),
    ({"underruns": 1_000_001}, "'underruns'"), ({"underrun_ms": -3}, "'underrun_ms'"),
    ({"underrun_ms": 2 ** 31}, "'underrun_ms'"), ({"seq": -1}, "'seq'"), ({"seq": 1.0}, "'seq'")])
async def test_bad_underruns_or_seq_are_400_and_nothing_stored(client, db_path, extra, message):
    token = await login(client)
    doc = await get(client, token, "/api/v1/next")
    answer = await post(client, token, "/api/v1/report", report_of(doc, **extra), status=400)
    assert message in answer["error"]
    assert count(db_path, "reports") == 0


async def test_the_dashboards_reports_list_shows_underruns(client, db_path):
    from host_server.dashboard.passwords import hash_password
    token = await login(client)
    doc = await get(client, token, "/api/v1/next")
    await post(client, token, "/api/v1/report", report_of(doc, underruns=7, underrun_ms=1234))
    db = await Database(db_path).connect()
    await db.operators.add("ops", hash_password("a long operator password"))
    await db.close()
    page = await (await client.get("/dashboard/login")).text()
    import re
    csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
    resp = await client.post("/dashboard/login", data={
        "csrf": csrf, "name": "ops", "password": "a long operator password"}, allow_redirects=False)
    assert resp.status == 303
    page = await (await client.get("/dashboard/reports")).text()
    assert "<th class=\"num\">underruns</th>" in page and "7 (1234 ms)" in page


# -- horizon ---------------------------------------------------------------------------------

async def test_horizon_is_the_next_items_in_program_order_and_moves_nothing(client, seeded, db_path):
    token = await login(client)
    m = seeded["media"]
    first = await get(client, token, "/api/v1/next")
    body = await get(client, token, "/api/v1/horizon?k=2")
    assert body["program"] == seeded["three"] and body["n"] == 3
    assert body["items"][0] == first   # exactly what next hands out
    assert [(i["id"], i["pos"]) for i in body["items"]] == [(m[0], 0), (m[1], 1)]
    await post(client, token, "/api/v1/report", report_of(first))
    body = await get(client, token, "/api/v1/horizon?k=8")   # wraps, each position once
    assert [(i["id"], i["pos"]) for i in body["items"]] == [(m[1], 1), (m[2], 2), (m[0], 0)]
    assert len((await get(client, token, "/api/v1/horizon"))["items"]) == 3   # default 4
    for _ in range(3):
        await get(client, token, "/api/v1/horizon?k=8")
    assert (await get(client, token, "/api/v1/next"))["pos"] == 1   # only reports move it
    assert sql(db_path, "SELECT media, pos FROM device_activity") == [(m[1], 1)]   # handed out


@pytest.mark.parametrize("query", ["k=0", "k=17", "k=x", "k=-1", "k=1.5", "k=", "k=%C2%B9", "k=12345", "k=0001"])
async def test_horizon_k_out_of_bounds_is_400(client, query):
    token = await login(client)
    resp = await client.get("/api/v1/horizon?" + query, headers=bearer(token))
    if query == "k=0001":   # leading zeros are a number too
        assert resp.status == 200
        return
    assert resp.status == 400 and "'k'" in (await resp.json())["error"]


async def test_horizon_is_204_without_a_program(client, seeded):
    token = await login(client, "dev2")
    assert (await client.get("/api/v1/horizon", headers=bearer(token))).status == 204


async def test_horizon_holds_no_more_than_8192_bytes(aiohttp_client, db_path, clock):
    # eight items of about 1720-byte compact documents (room kept for signatures): four fit
    db = await Database(db_path, clock=clock).connect()
    long_dir = "/" + "d" * 760
    ids = [await db.catalog.add_media(catalog.validate_media(media_doc(
        n, primary_directory=long_dir, alternates=[{"address": "http://127.0.0.1:8104",
                                                    "directory": long_dir}]))) for n in range(8)]
    await db.catalog.add_program("Long", ids)
    await db.devices.add("dev1", "", "00112233445566778899aabbccddeeff")
    await db.devices.assign("dev1", "Long", default=True)
    await db.close()
    client = await aiohttp_client(init_app(probe_interval=0, db=db_path, clock=clock))
    token = await login(client)
    resp = await client.get("/api/v1/horizon?k=8", headers=bearer(token))
    raw = await resp.read()
    body = await resp.json()
    assert len(raw) <= 8192 and 1 <= len(body["items"]) < 8
    assert [i["pos"] for i in body["items"]] == list(range(len(body["items"])))
    assert len(raw) + 1700 > 8192   # no further item would have fitted


# -- batched reports -------------------------------------------------------------------------

async def test_a_batch_is_applied_in_order_and_a_retried_batch_advances_nothing_twice(
        client, seeded, db_path):
    # the batch spans the whole program: sent again, its first report is of the current item
    token = await login(client)
    items = (await get(client, token, "/api/v1/horizon?k=3"))["items"]
    batch = [report_of(doc, seq=10 + i, ms=4000) for i, doc in enumerate(items)]
    assert await post(client, token, "/api/v1/reports", {"reports": batch}) == {
        "applied": 3, "next_pos": 0}
    assert await post(client, token, "/api/v1/reports", {"reports": batch}) == {
        "applied": 3, "next_pos": 0}
    assert sql(db_path, "SELECT pos, seq, advanced FROM reports ORDER BY id") == [
        (0, 10, 1), (1, 11, 1), (2, 12, 1)]
    # a batch that repeats its first report and brings a new one takes only the new one
    batch2 = [batch[2], report_of(items[0], seq=13, ms=4000)]
    assert await post(client, token, "/api/v1/reports", {"reports": batch2}) == {
        "applied": 2, "next_pos": 1}
    assert count(db_path, "reports") == 4
    assert (await get(client, token, "/api/v1/next"))["pos"] == 1


async def test_a_single_report_with_a_seq_is_recognised_after_the_whole_program(client, db_path, clock):
    token = await login(client)
    first = await get(client, token, "/api/v1/next")
    rep = report_of(first, seq=1)
    assert await post(client, token, "/api/v1/report", rep) == {"next_pos": 1}
    for seq in (2, 3):
        doc = await get(client, token, "/api/v1/next")
        await post(client, token, "/api/v1/report", report_of(doc, seq=seq))
    clock.advance(3500)   # most of an hour offline: the retry of seq 1 is still a repeat
    assert await post(client, token, "/api/v1/report", rep) == {"next_pos": 0}
    assert count(db_path, "reports") == 3
    clock.advance(86400)   # after a day, a seq may come again (a device that lost its counter)
    token = await login(client)
    assert await post(client, token, "/api/v1/report", rep) == {"next_pos": 1}


@pytest.mark.parametrize("reports, message", [
    ([], "1 to 32"),
    ([{}] * 33, "1 to 32"),
    ("x", "'reports'"),
    ([5], "reports[0]"),
    ([{"id": 1, "pos": 0, "status": "played"}], "reports[0]: missing field 'seq'"),
    ("ok+bad", "reports[1]: field 'pos'"),
])
async def test_a_malformed_batch_is_400_and_none_of_it_stored(client, db_path, reports, message):
    token = await login(client)
    doc = await get(client, token, "/api/v1/next")
    if reports == "ok+bad":
        reports = [report_of(doc, seq=1), report_of(doc, seq=2, pos=-1)]
    answer = await post(client, token, "/api/v1/reports", {"reports": reports}, status=400)
    assert message in answer["error"]
    assert count(db_path, "reports") == 0
    assert (await get(client, token, "/api/v1/next"))["pos"] == 0


async def test_the_report_limit_stops_a_batch_part_way_and_then_refuses(
        aiohttp_client, db_path, clock, seeded):
    client = await aiohttp_client(init_app(probe_interval=0, db=db_path, clock=clock,
                                           max_device_reports=4))
    token = await login(client)
    items = (await get(client, token, "/api/v1/horizon?k=3"))["items"]
    batch = [report_of(items[i % 3], seq=i + 1) for i in range(6)]
    assert await post(client, token, "/api/v1/reports", {"reports": batch}) == {
        "applied": 4, "next_pos": 1}
    resp = await client.post("/api/v1/reports", json={"reports": batch[4:]}, headers=bearer(token))
    assert resp.status == 429 and int(resp.headers["Retry-After"]) > 0
    assert count(db_path, "reports") == 4
    # repeats are not counted: the whole batch again is taken while the limit holds
    assert (await post(client, token, "/api/v1/reports", {"reports": batch[:4]}))["applied"] == 4
    clock.advance(61)
    assert await post(client, token, "/api/v1/reports", {"reports": batch}) == {
        "applied": 6, "next_pos": 0}
    assert [r[0] for r in sql(db_path, "SELECT pos FROM reports ORDER BY id")] == [0, 1, 2, 0, 1, 2]


# -- where rate and duration come from: the owner API, the tools, the simulator --------------

@pytest.fixture
async def owner_world(tmp_path, aiohttp_server, aiohttp_client, db_path):
    from host_server import fileserver
    from host_server.services import owners
    (tmp_path / "files").mkdir()
    wav = tone_wav(1, (440.0,), "T", "P", rate=8000)
    (tmp_path / "files" / "t.wav").write_bytes(wav)
    (tmp_path / "files" / "t.mp3").write_bytes(b"\xff\xfb" + bytes(3000))
    srv = await aiohttp_server(fileserver.init_app(str(tmp_path)))
    db = await Database(db_path).connect()
    _, token = await owners.create_owner(db, "Label")
    await db.close()
    client = await aiohttp_client(init_app(probe_interval=0, db=db_path, source_timeout=2.0,
                                           allow_source_nets=("127.0.0.0/8",)))
    return client, bearer(token), f"http://127.0.0.1:{srv.port}", tmp_path / "files"


def _registration(address, folder, name, **extra):
    import hashlib
    data = (folder / name).read_bytes()
    return {"size": len(data), "sha256": hashlib.sha256(data).hexdigest(), "type": "audio/wav",
            "primary_address": address, "primary_directory": "/files", "file_name": name, **extra}


async def test_registration_measures_a_wavs_rate_and_duration_over_what_the_owner_says(owner_world):
    client, auth, address, folder = owner_world
    resp = await client.post("/api/v1/owner/media", headers=auth,
                             json=_registration(address, folder, "t.wav", rate=1, dur=99))
    assert resp.status == 201, await resp.text()
    media_id = (await resp.json())["id"]
    record = await (await client.get(f"/api/v1/owner/media/{media_id}", headers=auth)).json()
    assert (record["rate"], record["dur"]) == (16000, 1000)
    # a compressed file's are taken as given (validated), and an update may change them
    resp = await client.post("/api/v1/owner/media", headers=auth, json=_registration(
        address, folder, "t.mp3", type="audio/mpeg", rate=16000, dur=188))
    assert resp.status == 201, await resp.text()
    mp3 = (await resp.json())["id"]
    record = await (await client.get(f"/api/v1/owner/media/{mp3}", headers=auth)).json()
    assert (record["rate"], record["dur"]) == (16000, 188)
    resp = await client.patch(f"/api/v1/owner/media/{mp3}", headers=auth, json={"dur": None})
    assert resp.status == 200
    assert (await resp.json())["record"]["dur"] is None
    resp = await client.post("/api/v1/owner/media", headers=auth, json=_registration(
        address, folder, "t.mp3", type="audio/mpeg", rate=0))
    assert resp.status == 400 and "'rate'" in (await resp.json())["error"]


def _flac(sample_rate, samples):
    """A FLAC file's marker and STREAMINFO block, no audio frames: enough for its tags reader."""
    info = struct.pack(">HH", 4096, 4096) + bytes(6)
    bits = (sample_rate << 44) | (1 << 41) | (15 << 36) | samples   # 2 channels, 16 bits
    info += bits.to_bytes(8, "big") + bytes(16)
    return b"fLaC" + bytes([0x80]) + len(info).to_bytes(3, "big") + info + bytes(1000)


def test_the_tools_read_rate_and_duration_from_the_local_file(tmp_path):
    from tools.media import prepare_file, record_for
    from tools.playback import playback_fields
    wav = tmp_path / "a.wav"
    wav.write_bytes(tone_wav(3, (440.0,), "T", "P", rate=11025))
    assert playback_fields(str(wav)) == {"rate": 22050, "dur": 3000}
    flac = tmp_path / "b.flac"
    flac.write_bytes(_flac(44100, 44100 * 90))
    assert playback_fields(str(flac)) == {"rate": round(flac.stat().st_size / 90), "dur": 90000}
    junk = tmp_path / "c.mp3"
    junk.write_bytes(b"not audio at all" * 10)
    assert playback_fields(str(junk)) == {}
    # a secure item's record: the original's rate and duration, not the encrypted bytes'
    facts = prepare_file(str(wav), str(tmp_path / "stored.wav"))
    rec = record_for(str(wav), facts)
    assert (rec["rate"], rec["dur"]) == (22050, 3000)
    assert catalog.validate_media({**rec, "primary_address": "http://127.0.0.1:1",
                                   "primary_directory": "/"})["rate"] == 22050


def test_the_owner_tool_sends_rate_and_duration(tmp_path):
    from tools import owner
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "a.wav").write_bytes(tone_wav(2, (440.0,), "T", "P", rate=8000))
    sent = []

    class FakeAPI:
        def call(self, method, path="", body=None):
            sent.append(body)
            return 201, {"id": 1, "sources": []}
    args = owner._parser().parse_args(["register", str(tmp_path / "m"), "--address",
                                       "http://127.0.0.1:1", "--directory", "/m"])
    assert owner.cmd_register(FakeAPI(), args) == 0
    assert (sent[0]["rate"], sent[0]["dur"]) == (16000, 2000)


def test_the_simulators_catalog_carries_its_wavs_rate_and_duration(tmp_path):
    from simulator.media import DEMO_ITEMS, SECURE_ITEMS, write_demo_media
    from simulator.network import Network
    net = Network(str(tmp_path / "w"))
    net.media = write_demo_media(str(tmp_path / "media"))
    net.address = {k: "http://127.0.0.1:%d" % (9000 + i) for i, k in enumerate(("A", "B", "C", "ABC"))}
    doc = net.catalog()
    seconds = {name: secs for name, secs, *_ in DEMO_ITEMS + SECURE_ITEMS}
    for m in doc["media"]:
        assert (m["rate"], m["dur"]) == (44100, seconds[m["ref"]] * 1000), m["ref"]
    catalog.validate_catalog(doc)


async def test_a_horizon_is_gzipped_with_a_small_window_for_a_device_that_asks(client):
    import zlib
    token = await login(client)
    plain = await client.get("/api/v1/horizon?k=3", headers=bearer(token),
                             skip_auto_headers=("Accept-Encoding",))
    assert "Content-Encoding" not in plain.headers
    raw = await plain.read()
    resp = await client.get("/api/v1/horizon?k=3", auto_decompress=False,
                            headers={**bearer(token), "Accept-Encoding": "gzip"})
    assert resp.headers["Content-Encoding"] == "gzip" and resp.headers["Vary"] == "Accept-Encoding"
    packed = await resp.read()
    assert len(packed) < len(raw)
    # a device inflates it with a 1 KiB window
    assert zlib.decompressobj(16 + 10).decompress(packed) == raw
    refused = await client.get("/api/v1/horizon?k=3", auto_decompress=False,
                               headers={**bearer(token), "Accept-Encoding": "gzip;q=0, deflate"})
    assert "Content-Encoding" not in refused.headers and await refused.read() == raw


async def test_a_gzipped_batch_is_taken_and_a_broken_one_is_400(client, db_path):
    import gzip
    import json
    token = await login(client)
    doc = await get(client, token, "/api/v1/next")
    body = gzip.compress(json.dumps({"reports": [report_of(doc, seq=1)]}).encode())
    resp = await client.post("/api/v1/reports", data=body, headers={
        **bearer(token), "Content-Encoding": "gzip", "Content-Type": "application/json"})
    assert resp.status == 200 and await resp.json() == {"applied": 1, "next_pos": 1}
    resp = await client.post("/api/v1/reports", data=b"not gzip at all", headers={
        **bearer(token), "Content-Encoding": "gzip", "Content-Type": "application/json"})
    assert resp.status == 400 and "Content-Encoding" in (await resp.json())["error"]
    assert count(db_path, "reports") == 1


def test_the_bench_measures_meta_bytes_per_media_byte_of_each_way(tmp_path):
    # real processes (a meta server, a file server), the bench's quick mode: what was measured,
    # not how fast; each way delivered every item whole and checked
    from bench import metabytes
    (sec,) = metabytes.run(str(tmp_path), quick=True)
    media = {name: sec.figures[name][1] for name, _ in metabytes.WAYS}
    assert set(media.values()) == {4 * 64 * 1024}
    meta = {name: sec.figures[name][0] for name, _ in metabytes.WAYS}
    assert meta["one_by_one"] > meta["horizon"] > meta["horizon_gzip"] > meta["horizon_gzip_both"] > 0
    assert sec.figures["login_bytes"] > 0 and len(sec.targets) == 1
