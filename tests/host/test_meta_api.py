import asyncio
import re
import time

import pytest

from host_server.app import init_app
from host_server.services.auth import proof
from host_server.db import is_postgres_url
from host_server.db import Database, migrations
from hostutil import SECRET, SHA, bearer, dump, login, refused_soon, sql


def count(db_path, table):
    return sql(db_path, f"SELECT count(*) FROM {table}")[0][0]


async def challenge(client, device="dev1"):
    resp = await client.post("/api/v1/login/challenge", json={"device": device})
    assert resp.status == 200
    return await resp.json()


async def try_login(client, device, nonce, answer):
    return await client.post("/api/v1/login", json={"device": device, "nonce": nonce, "proof": answer})


# -- login -------------------------------------------------------------------------------

async def test_correct_proof_gets_token_and_program(client, seeded):
    doc = await challenge(client)
    assert re.fullmatch(r"[0-9a-f]{32}", doc["nonce"]) and doc["ttl"] == 60
    resp = await try_login(client, "dev1", doc["nonce"], proof(SECRET, "dev1", doc["nonce"]))
    assert resp.status == 200
    body = await resp.json()
    assert body["ttl"] == 3600 and body["program"] == seeded["three"] and len(body["token"]) >= 32
    resp = await client.get("/api/v1/programs", headers=bearer(body["token"]))
    assert resp.status == 200


async def test_token_is_stored_only_as_its_hash(client, db_path):
    token = await login(client)
    assert token not in dump(db_path)


async def test_wrong_proof_is_401(client):
    doc = await challenge(client)
    resp = await try_login(client, "dev1", doc["nonce"], proof("ff" * 16, "dev1", doc["nonce"]))
    assert resp.status == 401
    assert "error" in await resp.json()


@pytest.mark.parametrize("trusted, counted", [((), "127.0.0.1"), (("127.0.0.1",), "203.0.113.9")])
async def test_failed_logins_count_the_address_only_a_trusted_balancer_forwards(
        aiohttp_client, db_path, clock, seeded, trusted, counted):
    # behind nginx every request comes from the balancer: its X-Forwarded-For names the device,
    # but a device's own X-Forwarded-For must not let it dodge the per-address limit
    client = await aiohttp_client(init_app(probe_interval=0, db=db_path, clock=clock, trusted_proxies=trusted))
    doc = await challenge(client)
    resp = await client.post("/api/v1/login", headers={"X-Forwarded-For": "10.9.9.9, 203.0.113.9"},
                             json={"device": "dev1", "nonce": doc["nonce"], "proof": "00" * 32})
    assert resp.status == 401
    assert sql(db_path, "SELECT address FROM login_failures") == [(counted,)]


async def test_replayed_proof_is_401(client):
    doc = await challenge(client)
    answer = proof(SECRET, "dev1", doc["nonce"])
    assert (await try_login(client, "dev1", doc["nonce"], answer)).status == 200
    assert (await try_login(client, "dev1", doc["nonce"], answer)).status == 401


async def test_nonce_is_bound_to_its_device(client):
    doc = await challenge(client, "dev2")
    resp = await try_login(client, "dev1", doc["nonce"], proof(SECRET, "dev1", doc["nonce"]))
    assert resp.status == 401


async def test_expired_nonce_is_401(client, clock):
    doc = await challenge(client)
    clock.advance(61)
    resp = await try_login(client, "dev1", doc["nonce"], proof(SECRET, "dev1", doc["nonce"]))
    assert resp.status == 401


async def test_unknown_device_gets_a_nonce_like_any_other_then_401(client):
    known, unknown = await challenge(client, "dev1"), await challenge(client, "nobody")
    assert set(known) == set(unknown) == {"nonce", "ttl"}
    assert re.fullmatch(r"[0-9a-f]{32}", unknown["nonce"]) and unknown["ttl"] == known["ttl"]
    resp = await try_login(client, "nobody", unknown["nonce"], proof(SECRET, "nobody", unknown["nonce"]))
    assert resp.status == 401


async def test_five_failures_give_429_with_retry_after_until_window_passes(client, clock):
    for _ in range(5):
        doc = await challenge(client)
        assert (await try_login(client, "dev1", doc["nonce"], "00" * 32)).status == 401
        clock.advance(10)
    doc = await challenge(client)
    resp = await try_login(client, "dev1", doc["nonce"], proof(SECRET, "dev1", doc["nonce"]))
    assert resp.status == 429
    assert int(resp.headers["Retry-After"]) == 300 - 50
    # the refused nonce was not consumed, and other devices are not affected
    assert (await try_login(client, "dev2", (await challenge(client, "dev2"))["nonce"], "00")).status == 401
    clock.advance(249)
    doc = await challenge(client)
    assert (await try_login(client, "dev1", doc["nonce"], proof(SECRET, "dev1", doc["nonce"]))).status == 429
    clock.advance(2)     # the first failure has left the window: 4 remain
    await login(client)


async def test_unknown_device_is_rate_limited_the_same_way(client):
    for _ in range(5):
        doc = await challenge(client, "nobody")
        assert (await try_login(client, "nobody", doc["nonce"], "00" * 32)).status == 401
    doc = await challenge(client, "nobody")
    assert (await try_login(client, "nobody", doc["nonce"], "00" * 32)).status == 429


async def test_one_address_guessing_at_many_devices_is_limited(aiohttp_client, db_path, clock, seeded):
    from host_server.app import init_app
    client = await aiohttp_client(init_app(probe_interval=0, db=db_path, clock=clock, max_address_failures=8))
    for i in range(8):     # 8 different device ids, 1 failure each: no per-device limit reached
        doc = await challenge(client, "guess%d" % i)
        assert (await try_login(client, "guess%d" % i, doc["nonce"], "00" * 32)).status == 401
    doc = await challenge(client)
    resp = await try_login(client, "dev1", doc["nonce"], proof(SECRET, "dev1", doc["nonce"]))
    assert resp.status == 429 and "address" in (await resp.json())["error"]
    assert int(resp.headers["Retry-After"]) == 300
    clock.advance(301)
    await login(client)


async def test_revoked_tokens_stop_working_at_once(client, db_path, clock):
    from host_server.db import Database
    token = await login(client)
    assert (await client.get("/api/v1/programs", headers=bearer(token))).status == 200
    db = await Database(db_path, clock=clock).connect()
    try:
        assert await db.logins.revoke_tokens("dev1") == 1
    finally:
        await db.close()
    since = time.monotonic()
    await refused_soon(lambda: client.get("/api/v1/programs", headers=bearer(token)), since)
    await login(client)    # a new login works


async def test_expired_token_is_401(client, clock):
    token = await login(client)
    assert (await client.get("/api/v1/programs", headers=bearer(token))).status == 200
    clock.advance(3601)
    resp = await client.get("/api/v1/programs", headers=bearer(token))
    assert resp.status == 401
    assert "error" in await resp.json()


@pytest.mark.parametrize("header", [None, "Bearer", "Bearer nonsense", "Basic abc"])
async def test_missing_or_unknown_token_is_401(client, header):
    headers = {"Authorization": header} if header else {}
    for path in ("/api/v1/programs", "/api/v1/next", "/api/v1/media/1"):
        assert (await client.get(path, headers=headers)).status == 401


# -- programs ----------------------------------------------------------------------------

async def test_programs_lists_entitled_programs_and_selected(client, seeded):
    token = await login(client)
    body = await (await client.get("/api/v1/programs", headers=bearer(token))).json()
    assert body == {"programs": [{"id": seeded["three"], "name": "Three", "items": 3},
                                 {"id": seeded["empty"], "name": "Empty", "items": 0}],
                    "selected": seeded["three"]}


async def test_select_requires_entitlement(client, seeded):
    token = await login(client)
    resp = await client.post("/api/v1/programs/select", json={"program": seeded["other"]},
                             headers=bearer(token))
    assert resp.status == 403
    resp = await client.post("/api/v1/programs/select", json={"program": 999}, headers=bearer(token))
    assert resp.status == 404
    resp = await client.post("/api/v1/programs/select", json={"program": seeded["empty"]},
                             headers=bearer(token))
    assert resp.status == 200 and await resp.json() == {"selected": seeded["empty"]}
    body = await (await client.get("/api/v1/programs", headers=bearer(token))).json()
    assert body["selected"] == seeded["empty"]


# -- next / report -----------------------------------------------------------------------

async def next_doc(client, token):
    resp = await client.get("/api/v1/next", headers=bearer(token))
    assert resp.status == 200
    return await resp.json()


async def send_report(client, token, doc, **extra):
    rep = {"id": doc["id"], "pos": doc["pos"], "status": "played", "src": doc["src"][0],
           "bytes": doc["size"], "ms": 812, "errors": []}
    rep.update(extra)
    return await client.post("/api/v1/report", json=rep, headers=bearer(token))


async def test_next_is_the_compact_document(client, seeded):
    token = await login(client)
    resp = await client.get("/api/v1/next", headers=bearer(token))
    raw = await resp.read()
    assert resp.content_type == "application/json"
    assert len(raw) < 2048
    assert await resp.json() == {
        "id": seeded["media"][0], "pos": 0, "size": 1001, "sha256": SHA, "type": "audio/wav",
        "title": "Tone 1", "by": "Demo Ensemble",
        "src": ["http://127.0.0.1:8101/music/1/tone-1.wav", "http://127.0.0.1:8104/mirror/1/tone-1.wav"]}


async def test_next_repeats_until_reported_then_advances_and_wraps(client, seeded):
    token = await login(client)
    first = await next_doc(client, token)
    assert await next_doc(client, token) == first     # a crash mid-item gets it again
    seen = []
    for _ in range(4):
        doc = await next_doc(client, token)
        seen.append((doc["id"], doc["pos"]))
        resp = await send_report(client, token, doc)
        assert resp.status == 200
        assert await resp.json() == {"next_pos": (doc["pos"] + 1) % 3}
    m = seeded["media"]
    assert seen == [(m[0], 0), (m[1], 1), (m[2], 2), (m[0], 0)]


async def test_failed_report_also_advances(client):
    token = await login(client)
    doc = await next_doc(client, token)
    resp = await send_report(client, token, doc, status="failed", src=None, bytes=0,
                             errors=[[doc["src"][0], "refused"], [doc["src"][1], "404"]])
    assert await resp.json() == {"next_pos": 1}


async def test_repeated_report_is_stored_once_and_advances_once(client, db_path):
    token = await login(client)
    doc = await next_doc(client, token)
    assert await (await send_report(client, token, doc)).json() == {"next_pos": 1}
    resp = await send_report(client, token, doc)
    assert resp.status == 200 and await resp.json() == {"next_pos": 1}
    assert count(db_path, "reports") == 1
    assert (await next_doc(client, token))["pos"] == 1


async def test_report_for_wrong_pos_or_id_does_not_advance(client, seeded):
    token = await login(client)
    doc = await next_doc(client, token)
    assert await (await send_report(client, token, doc, pos=1)).json() == {"next_pos": 0}
    assert await (await send_report(client, token, doc, id=seeded["media"][1])).json() == {"next_pos": 0}
    assert await next_doc(client, token) == doc


async def test_position_is_kept_per_program(client, seeded):
    token = await login(client)
    await send_report(client, token, await next_doc(client, token))
    await client.post("/api/v1/programs/select", json={"program": seeded["empty"]}, headers=bearer(token))
    await client.post("/api/v1/programs/select", json={"program": seeded["three"]}, headers=bearer(token))
    assert (await next_doc(client, token))["pos"] == 1


async def test_next_is_204_for_empty_program_or_none(client, seeded):
    token = await login(client)
    await client.post("/api/v1/programs/select", json={"program": seeded["empty"]}, headers=bearer(token))
    resp = await client.get("/api/v1/next", headers=bearer(token))
    assert resp.status == 204 and await resp.read() == b""
    token2 = await login(client, "dev2")
    assert (await client.get("/api/v1/next", headers=bearer(token2))).status == 204


# -- full record -------------------------------------------------------------------------

async def test_full_record_has_all_fields(aiohttp_client, db_path, seeded):
    from host_server.model import catalog
    full = {key: f"value of {key}" for key in catalog.TEXT_FIELDS}
    full.update(performers=["P1", "P2"], composers=["C1"], creators=["K1", "K2"])
    db = await Database(db_path).connect()
    doc = {"size": 5, "sha256": "CD" * 32, "type": "audio/mpeg",
           "primary_address": "http://10.0.0.1:81/", "primary_directory": "/a b",
           "file_name": "x y.mp3",
           "alternates": [{"address": "http://10.0.0.2", "directory": "/m1"},
                          {"address": "https://10.0.0.3:8443", "directory": "m2/deep"}],
           "rate": 16000, "dur": 180250, **full}
    media_id = await db.catalog.add_media(catalog.validate_media(doc))
    await db.close()
    client = await aiohttp_client(init_app(probe_interval=0, db=db_path))
    token = await login(client)
    resp = await client.get(f"/api/v1/media/{media_id}", headers=bearer(token))
    assert resp.status == 200
    body = await resp.json()
    expected = dict(doc, id=media_id, sha256="cd" * 32, primary_address="http://10.0.0.1:81",
                    alternates=[{"address": "http://10.0.0.2", "directory": "/m1"},
                                {"address": "https://10.0.0.3:8443", "directory": "m2/deep"}])
    assert body == expected
    # 25 seed fields (4 and 5 in alternates) + id, size, sha256, type + playback rate, duration
    assert len(body) == 24 + 4 + 2
    assert list(body)[:8] == ["id", "size", "sha256", "type", "primary_address",
                              "primary_directory", "file_name", "alternates"]


async def test_unknown_or_bad_media_id(client):
    token = await login(client)
    assert (await client.get("/api/v1/media/999", headers=bearer(token))).status == 404
    resp = await client.get("/api/v1/media/abc", headers=bearer(token))
    assert resp.status == 400 and "error" in await resp.json()
    # '¹' passes str.isdigit() but not int(): a 400 too, not a 500
    resp = await client.get("/api/v1/media/%C2%B9", headers=bearer(token))
    assert resp.status == 400 and "media id" in (await resp.json())["error"]


async def test_expired_nonces_and_tokens_are_swept_away(client, db_path, clock):
    await login(client)
    await challenge(client)
    assert count(db_path, "tokens") == 1 and count(db_path, "login_nonces") == 1
    clock.advance(3600 + 1)   # past the token's and the nonce's lives (and the sweep's interval)
    await challenge(client)
    assert count(db_path, "tokens") == 0 and count(db_path, "login_nonces") == 1


# -- bad input ---------------------------------------------------------------------------

@pytest.mark.parametrize("body, message", [
    (b"not json", "JSON"),
    (b"[1, 2]", "JSON object"),
    (b'{"pos": 0, "status": "played"}', "'id'"),
    (b'{"id": "1", "pos": 0, "status": "played"}', "'id'"),
    (b'{"id": true, "pos": 0, "status": "played"}', "'id'"),
    (b'{"id": 1, "pos": 0, "status": "done"}', "'status'"),
    (b'{"id": 1, "pos": -1, "status": "played"}', "'pos'"),
    (b'{"id": 1, "pos": 0, "status": "played", "bytes": 1.5}', "'bytes'"),
    (b'{"id": 1, "pos": 0, "status": "played", "errors": ["x"]}', "'errors'"),
    (b'{"id": 1, "pos": 0, "status": "played", "src": 5}', "'src'"),
    (b"\xff\xfe", "JSON"),
])
async def test_malformed_report_is_400_and_nothing_stored(client, db_path, body, message):
    token = await login(client)
    resp = await client.post("/api/v1/report", data=body, headers=bearer(token))
    assert resp.status == 400
    assert message in (await resp.json())["error"]
    assert count(db_path, "reports") == 0
    assert (await next_doc(client, token))["pos"] == 0


async def test_oversize_body_is_refused_with_json_error(client, db_path):
    token = await login(client)
    body = b'{"id": 1, "pos": 0, "status": "played", "pad": "' + b"x" * 70000 + b'"}'
    resp = await client.post("/api/v1/report", data=body, headers=bearer(token))
    assert resp.status == 413
    assert "too large" in (await resp.json())["error"]
    assert count(db_path, "reports") == 0


@pytest.mark.parametrize("path, body", [
    ("/api/v1/login/challenge", b"{}"),
    ("/api/v1/login/challenge", b'{"device": 5}'),
    ("/api/v1/login/challenge", b"nope"),
    ("/api/v1/login", b'{"device": "dev1", "nonce": "ab"}'),
    ("/api/v1/login", b'{"device": "dev1", "nonce": 1, "proof": "ab"}'),
    ("/api/v1/login/challenge", b'{"device": "dev\\u0000"}'),   # PostgreSQL refuses NUL in text
    ("/api/v1/login/challenge", b'{"device": "dev\\ud800"}'),   # a lone surrogate: not UTF-8
    ("/api/v1/login/challenge", b'{"device": "dev1", "x": "\\udfff"}'),
    ("/api/v1/login/challenge", b'{"device": "dev1\\nFAKE login ok for dev2"}'),   # forged log line
    ("/api/v1/login/challenge", b'{"device": "dev1\\u001b[2J"}'),   # a terminal escape
    ("/api/v1/login/challenge", b"[" * 20000 + b"]" * 20000),
    ("/api/v1/login/challenge", b'{"device": "dev1", "x": ' + b"[" * 20000 + b"]" * 20000 + b"}"),
    ("/api/v1/login/challenge", b'{"device": "dev1", "x": ' + b"[" * 40 + b"]" * 40 + b"}"),
])
async def test_malformed_login_is_400_and_nothing_stored(client, db_path, path, body):
    resp = await client.post(path, data=body)
    assert resp.status == 400 and "error" in await resp.json()
    assert count(db_path, "login_nonces") == 0 and count(db_path, "login_failures") == 0


async def test_malformed_select_is_400(client, seeded):
    token = await login(client)
    for body in (b'{"program": "1"}', b"{}", b"[]"):
        resp = await client.post("/api/v1/programs/select", data=body, headers=bearer(token))
        assert resp.status == 400


async def test_unknown_route_and_method_give_json_errors(client):
    resp = await client.get("/api/v1/nothing")
    assert resp.status == 404 and "error" in await resp.json()
    resp = await client.get("/api/v1/report")
    assert resp.status == 405 and "error" in await resp.json()


# -- migrations --------------------------------------------------------------------------

async def test_migrations_are_versioned_and_idempotent(db_path, seeded, aiohttp_client):
    latest = migrations()[-1][0]
    for _ in range(2):
        db = await Database(db_path).connect()
        assert await db.schema_version() == latest
        assert len(await db.catalog.list_media()) == 3
        assert await db.integrity_problems() == []
        await db.close()
    if not is_postgres_url(db_path):
        assert sql(db_path, "PRAGMA journal_mode")[0][0] == "wal"
    client = await aiohttp_client(init_app(probe_interval=0, db=db_path))   # the server migrates at start too
    await login(client)


async def test_one_report_sent_at_once_to_several_replicas_is_stored_and_advances_once(
        db_path, seeded, clock):
    # as when a device's report times out on one replica and its retry lands on another while
    # the first is still at work: each replica its own Database (connection pool) on one database
    dbs = [await Database(db_path, clock=clock).connect() for _ in range(4)]
    try:
        mid, pos, _, _ = await dbs[0].devices.next_item("dev1")
        rep = {"id": mid, "pos": pos, "status": "played", "src": None, "bytes": 1, "ms": 1,
               "errors": []}
        others = [{**rep, "id": seeded["media"][2], "pos": 0}]   # another device's, meanwhile
        await dbs[0].devices.assign("dev2", "Other", default=True)
        results = await asyncio.gather(*[d.devices.add_report("dev1", rep) for d in dbs],
                                       *[d.devices.add_report("dev2", o) for d in dbs[:2] for o in others])
        assert results[:4] == [pos + 1] * 4
        stored = await dbs[0].devices.reports(device="dev1")
        assert [(r["pos"], r["advanced"]) for r in stored] == [(pos, True)]
        assert [r["advanced"] for r in await dbs[0].devices.reports(device="dev2")] == [True]
        assert (await dbs[1].devices.next_item("dev1"))[1] == pos + 1
    finally:
        for d in dbs:
            await d.close()
