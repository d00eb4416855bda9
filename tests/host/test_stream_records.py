"""Stream items on the meta server (PROTOCOL.md "Live items"): live mounts and HLS presentations
as records without size or hash, their compact documents, an HLS key handed only to an entitled
device, a stream's report with its mounts, and the title a device tells for "now playing"."""

import json

import pytest

from host_server.app import init_app
from host_server.db import Database
from host_server.model import catalog, sealing, streams
from host_server.model.errors import Invalid
from hostutil import SECRET, bearer, flush_now_playing, login, media_doc, run_cli, sql
from test_secure_api import key_request, master_file, unwrap  # noqa: F401 (a fixture)

KEY = bytes(range(100, 116))
A, B = "http://127.0.0.1:8201", "http://127.0.0.1:8202"


def live_doc(**extra):
    doc = streams.record_from_urls("live", [A + "/live", B + "/live"], type="audio/mpeg",
                                   rate=4000, dur=60000, title="Demo Radio")
    doc.update(extra)
    return doc


def hls_doc(**extra):
    doc = streams.record_from_urls("hls", [A + "/hls/master.m3u8"], type="audio/aac",
                                   title="Demo HLS", secure={"hls_key": KEY.hex()})
    doc.update(extra)
    return doc


def test_a_live_record_has_no_size_or_hash_and_its_compact_document_says_stream():
    rec = catalog.validate_media(live_doc())
    doc = json.loads(catalog.compact_json(rec))
    assert doc == {"stream": "live", "type": "audio/mpeg", "rate": 4000, "dur": 60000,
                   "title": "Demo Radio", "by": "", "src": [A + "/live", B + "/live"]}
    assert rec["size"] == 0
    # its identity: of the kind and the primary; the full record given back keeps it
    again = catalog.validate_media(catalog.full_record(7, rec))
    assert again["sha256"] == rec["sha256"] and len(rec["sha256"]) == 64
    assert catalog.full_record(7, rec)["stream"] == "live"
    assert "stream" not in catalog.full_record(7, catalog.validate_media(media_doc(1)))


@pytest.mark.parametrize("change, message", [
    ({"alternates": []}, "2 or more mounts"),
    ({"rate": None}, "needs field 'rate'"),
    ({"dur": None}, "needs field 'dur'"),
    ({"type": "audio/wav-ish"}, "type"),
    ({"stream": "radio"}, "must be one of live, hls"),
    ({"size": 5}, "has no size"),
    ({"sha256": "ab" * 32}, "identity"),
    ({"secure": {"hls_key": "00" * 16}}, "cannot be secure"),
])
def test_a_malformed_live_record_is_refused_naming_what(change, message):
    with pytest.raises(Invalid, match=message):
        catalog.validate_media(live_doc(**change))


@pytest.mark.parametrize("secure", [{"hls_key": "00"}, {"key": "00" * 16}, "x"])
def test_an_hls_key_must_be_32_hex(secure):
    with pytest.raises(Invalid, match="hls_key"):
        catalog.validate_media(hls_doc(secure=secure))


def test_urls_of_a_stream_must_end_in_one_name():
    with pytest.raises(Invalid, match="same name"):
        streams.record_from_urls("live", [A + "/live", B + "/relay"])
    with pytest.raises(Invalid, match="query"):
        streams.record_from_urls("live", [A + "/live?x=1"])


@pytest.fixture
async def stream_client(aiohttp_client, db_path, clock, master_file):
    db = await Database(db_path, clock=clock,
                        sealer=sealing.Sealer(sealing.load_master_key(master_file))).connect()
    live = await db.catalog.add_media(catalog.validate_media(live_doc()))
    hls = await db.catalog.add_media(catalog.validate_media(hls_doc()))
    await db.catalog.add_program("Radio", [live, hls])
    await db.catalog.add_program("Other", [])
    await db.devices.add("dev1", "", SECRET)
    await db.devices.add("dev2", "", SECRET)
    await db.devices.assign("dev1", "Radio", default=True)
    await db.devices.assign("dev2", "Other", default=True)
    await db.close()
    client = await aiohttp_client(init_app(probe_interval=0, db=db_path, clock=clock,
                                           master_key_file=master_file))
    return client, live, hls


async def test_next_hands_out_a_stream_its_report_keeps_the_mounts_and_the_hls_key_is_granted(
        stream_client, db_path):
    client, live, hls = stream_client
    auth = bearer(await login(client))
    item = await (await client.get("/api/v1/next", headers=auth)).json()
    assert item["id"] == live and item["stream"] == "live" and "size" not in item
    assert item["src"] == [A + "/live", B + "/live"]
    # the device tells the title its mount plays: the operator's devices list shows it
    resp = await client.post("/api/v1/playing", headers=auth, json={"id": live, "title": "Song 1"})
    assert resp.status == 200
    rows = sql(db_path, "SELECT stream_title FROM device_activity WHERE device = 'dev1'")
    assert rows == [("Song 1",)]
    # a title of another item than the one handed out is ignored
    await client.post("/api/v1/playing", headers=auth, json={"id": hls, "title": "late"})
    assert sql(db_path, "SELECT stream_title FROM device_activity WHERE device = 'dev1'") == [("Song 1",)]
    rep = {"id": live, "pos": 0, "status": "played", "src": B + "/live", "bytes": 240000,
           "ms": 60500, "underruns": 1, "underrun_ms": 300,
           "errors": [[A + "/live", "timeout"]], "mounts": [[A + "/live", 20000], [B + "/live", 40000]]}
    resp = await client.post("/api/v1/report", headers=auth, json=rep)
    assert resp.status == 200 and (await resp.json())["next_pos"] == 1
    (mounts,) = sql(db_path, "SELECT mounts FROM reports")[0]
    assert json.loads(mounts) == rep["mounts"]
    bad = dict(rep, mounts=[["x", -1]])
    assert (await client.post("/api/v1/report", headers=auth, json=bad)).status == 400
    # the next item: the HLS stream, its key for dev1 only
    item = await (await client.get("/api/v1/next", headers=auth)).json()
    assert item["id"] == hls and item["stream"] == "hls" and item["sec"] == {"hls": 1}
    await flush_now_playing(client)
    assert sql(db_path, "SELECT stream_title FROM device_activity WHERE device = 'dev1'") == [(None,)]
    req = key_request(SECRET, "dev1", hls)
    resp = await client.post(f"/api/v1/media/{hls}/key", headers=auth, json=req)
    assert resp.status == 200
    key, iv, piece = unwrap(SECRET, req["nonce"], await resp.read())
    assert key == KEY and piece == b""
    auth2 = bearer(await login(client, "dev2"))
    resp = await client.post(f"/api/v1/media/{hls}/key", headers=auth2,
                             json=key_request(SECRET, "dev2", hls))
    assert resp.status == 403


def test_the_cli_adds_streams_and_says_what_is_wrong(tmp_path, master_file):
    db = str(tmp_path / "cli.db")
    run_cli("init", db=db, check=0)
    proc = run_cli("add-stream", "live", A + "/live", B + "/live", "--type", "audio/mpeg",
                   "--rate", "4000", "--dur", "60000", "--title", "Radio", db=db, check=0)
    assert "media 1 added (live stream, 2 sources)" in proc.stdout
    proc = run_cli("add-stream", "live", A + "/live", "--type", "audio/mpeg", "--rate", "4000",
                   "--dur", "1000", db=db, check=1)
    assert "2 or more mounts" in proc.stderr
    key = tmp_path / "key.bin"
    key.write_bytes(KEY)
    proc = run_cli("--master-key-file", master_file, "add-stream", "hls", A + "/hls/master.m3u8",
                   "--type", "audio/aac", "--hls-key-file", str(key), db=db, check=0)
    assert "media 2 added (hls stream, 1 source)" in proc.stdout
    key.write_bytes(b"short")
    proc = run_cli("--master-key-file", master_file, "add-stream", "hls", A + "/x/master.m3u8",
                   "--type", "audio/aac", "--hls-key-file", str(key), db=db, check=1)
    assert "exactly 16 bytes" in proc.stderr
    proc = run_cli("list", "media", "--json", db=db, check=0)
    assert [m["id"] for m in json.loads(proc.stdout)] == [1, 2]


async def test_an_owner_registers_streams_whose_sources_are_checked_for_their_kind(
        aiohttp_client, aiohttp_server, db_path, tmp_path):
    from aiohttp import web

    from host_server import fileserver
    from host_server.services import owners

    async def mount(request):   # a live mount: audio that does not end
        resp = web.StreamResponse(headers={"Content-Type": "audio/mpeg", "icy-metaint": "16000"})
        await resp.prepare(request)
        await resp.write(b"\xff\xfb" + bytes(20000))
        return resp

    app = web.Application()
    app.router.add_get("/live", mount)
    radio_a, radio_b = await aiohttp_server(app), await aiohttp_server(app)
    root = tmp_path / "files"
    (root / "hls").mkdir(parents=True)
    (root / "hls" / "master.m3u8").write_text("#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\nv.m3u8\n")
    (root / "hls" / "fake.m3u8").write_text("not a playlist\n")
    files = await aiohttp_server(fileserver.init_app(str(root)))
    db = await Database(db_path).connect()
    _, token = await owners.create_owner(db, "Label One")
    await db.close()
    meta = await aiohttp_client(init_app(probe_interval=0, db=db_path, source_timeout=2.0,
                                         allow_source_nets=("127.0.0.0/8",)))
    auth = bearer(token)
    a, b = f"http://127.0.0.1:{radio_a.port}", f"http://127.0.0.1:{radio_b.port}"
    body = streams.record_from_urls("live", [a + "/live", b + "/live"], type="audio/mpeg",
                                    rate=4000, dur=60000, title="Radio")
    resp = await meta.post("/api/v1/owner/media", json=body, headers=auth)
    answer = await resp.json()
    assert resp.status == 201, answer
    assert [s["ok"] for s in answer["sources"]] == [True, True]
    record = await (await meta.get(f"/api/v1/owner/media/{answer['id']}", headers=auth)).json()
    assert record["stream"] == "live" and record["owner"] == "Label One"
    f = f"http://127.0.0.1:{files.port}"
    resp = await meta.post("/api/v1/owner/media", headers=auth, json=streams.record_from_urls(
        "hls", [f + "/hls/master.m3u8"], type="audio/aac"))
    assert resp.status == 201, await resp.text()
    resp = await meta.post("/api/v1/owner/media", headers=auth, json=streams.record_from_urls(
        "hls", [f + "/hls/fake.m3u8"], type="audio/aac"))
    answer = await resp.json()
    assert resp.status == 422 and "no #EXTM3U" in answer["sources"][0]["why"], answer
    # a stream's primary cannot change by an update: its identity
    resp = await meta.patch(f"/api/v1/owner/media/{record['id']}", headers=auth,
                            json={"stream": "hls"})
    assert resp.status == 400
