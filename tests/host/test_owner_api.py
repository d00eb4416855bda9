"""The owner API against real file servers on loopback: tokens, source checks, own files only,
updates, and removal that keeps every device's place in its program."""

import hashlib
import json

import pytest

from host_server import fileserver
from host_server.services import owners
from host_server.app import init_app
from host_server.db import Database
from host_server.keys import DB
from hostutil import SECRET, bearer, dump, free_port, login, sql

DATA = {name: (name.encode() * 997)[:5000 + i] for i, name in enumerate(("a", "x", "b", "c"))}


def sha(data):
    return hashlib.sha256(data).hexdigest()


@pytest.fixture
async def servers(tmp_path, aiohttp_server):
    """Primary P holds every file; mirror M holds them too, except c; bad B holds wrong bytes."""
    roots = {k: tmp_path / k for k in "PMB"}
    for name, data in DATA.items():
        (roots["P"] / "music").mkdir(parents=True, exist_ok=True)
        (roots["P"] / "music" / f"{name}.wav").write_bytes(data)
        if name != "c":
            (roots["M"] / "mirror").mkdir(parents=True, exist_ok=True)
            (roots["M"] / "mirror" / f"{name}.wav").write_bytes(data)
        (roots["B"] / "mirror").mkdir(parents=True, exist_ok=True)
        (roots["B"] / "mirror" / f"{name}.wav").write_bytes(data[:-1] + b"!")
    out = {}
    for key, root in roots.items():
        srv = await aiohttp_server(fileserver.init_app(str(root)))
        out[key] = f"http://127.0.0.1:{srv.port}"
    out["DOWN"] = f"http://127.0.0.1:{free_port()}"   # nothing listens there
    return out


@pytest.fixture
async def meta(aiohttp_client, db_path):
    db = await Database(db_path).connect()
    _, token1 = await owners.create_owner(db, "Label One")
    _, token2 = await owners.create_owner(db, "Label Two")
    await db.close()
    client = await aiohttp_client(init_app(probe_interval=0, db=db_path, source_timeout=2.0,
                                           allow_source_nets=("127.0.0.0/8",)))
    client.tokens = {"one": bearer(token1), "two": bearer(token2)}
    return client


def doc(servers, name, alternates=(), **extra):
    d = {"size": len(DATA[name]), "sha256": sha(DATA[name]), "type": "audio/wav",
         "primary_address": servers["P"], "primary_directory": "/music", "file_name": f"{name}.wav",
         "alternates": [{"address": servers[k], "directory": "/mirror"} for k in alternates],
         "title": f"Title {name}", "performers": [f"Performer {name}"], "composers": ["Someone"]}
    d.update(extra)
    return d


async def register(meta, servers, name, who="one", status=201, **kw):
    resp = await meta.post("/api/v1/owner/media", json=doc(servers, name, **kw),
                           headers=meta.tokens[who])
    body = await resp.json()
    assert resp.status == status, body
    return body


async def test_owner_api_needs_a_live_owner_token(meta):
    assert (await meta.get("/api/v1/owner/media")).status == 401
    resp = await meta.get("/api/v1/owner/media", headers=bearer("own_not-a-token"))
    assert resp.status == 401
    assert "owner token" in (await resp.json())["error"]
    resp = await meta.get("/api/v1/owner", headers=meta.tokens["one"])
    assert (await resp.json())["name"] == "Label One"


async def test_a_revoked_owner_is_refused_and_a_new_token_works(meta):
    db = meta.server.app[DB]
    assert await db.owners.revoke("Label One") == 1
    assert (await meta.get("/api/v1/owner", headers=meta.tokens["one"])).status == 401
    token = await owners.issue_token(db, "Label One")
    assert (await meta.get("/api/v1/owner", headers=bearer(token))).status == 200
    assert (await meta.get("/api/v1/owner", headers=meta.tokens["one"])).status == 401


async def test_tokens_are_stored_only_as_hashes(meta, db_path):
    token = meta.tokens["one"]["Authorization"].split()[1]
    assert token not in dump(db_path)
    rows = sql(db_path, "SELECT token_sha256 FROM owner_tokens")
    assert hashlib.sha256(token.encode()).hexdigest() in {r[0] for r in rows}


async def test_registering_checks_every_source_and_keeps_only_the_good_ones(meta, servers):
    body = await register(meta, servers, "a", alternates=("M", "B", "DOWN"))
    checks = {s["url"].split("/mirror")[0].split("/music")[0]: s for s in body["sources"]}
    assert checks[servers["P"]]["ok"] and checks[servers["M"]]["ok"]
    assert not checks[servers["B"]]["ok"] and "sha256" in checks[servers["B"]]["why"]
    assert not checks[servers["DOWN"]]["ok"] and "connect" in checks[servers["DOWN"]]["why"]
    resp = await meta.get(f"/api/v1/owner/media/{body['id']}", headers=meta.tokens["one"])
    rec = await resp.json()
    assert rec["alternates"] == [{"address": servers["M"], "directory": "/mirror"}]
    assert rec["owner"] == "Label One"      # the account's name when the record names none
    assert rec["title"] == "Title a" and rec["composers"] == ["Someone"]


async def test_an_owner_cannot_register_or_update_media_as_another_owner(meta, servers):
    body = await register(meta, servers, "x", owner="Label Two")
    url = f"/api/v1/owner/media/{body['id']}"
    assert (await (await meta.get(url, headers=meta.tokens["one"])).json())["owner"] == "Label One"
    resp = await meta.patch(url, json={"owner": "Label Two"}, headers=meta.tokens["one"])
    assert resp.status == 200 and (await resp.json())["record"]["owner"] == "Label One"


async def test_an_alternate_lacking_the_file_is_reported_as_its_status(meta, servers):
    body = await register(meta, servers, "c", alternates=("M",))
    assert [(s["ok"], s["why"]) for s in body["sources"]] == [(True, ""), (False, "status 404")]


async def test_a_failing_primary_stores_nothing(meta, servers):
    wrong_size = await register(meta, servers, "a", status=422, size=len(DATA["a"]) + 1)
    assert wrong_size["sources"][0]["why"] == "size differs from the claimed one"   # no length told
    assert "primary source failed" in wrong_size["error"]
    wrong_hash = await register(meta, servers, "a", status=422, sha256="0" * 64)
    assert wrong_hash["sources"][0]["why"] == "sha256 differs from the claimed one"
    missing = await register(meta, servers, "a", status=422, file_name="nothing.wav")
    assert missing["sources"][0]["why"] == "status 404"
    resp = await meta.get("/api/v1/owner/media", headers=meta.tokens["one"])
    assert (await resp.json())["media"] == []


async def test_bad_input_names_the_field(meta, servers):
    resp = await meta.post("/api/v1/owner/media", json={"size": 1}, headers=meta.tokens["one"])
    assert resp.status == 400
    assert "sha256" in (await resp.json())["error"]


async def test_registering_the_same_file_twice_is_a_conflict(meta, servers):
    first = await register(meta, servers, "a")
    again = await register(meta, servers, "a", status=409)
    assert str(first["id"]) in again["error"]


async def test_an_owner_sees_and_changes_only_their_own_files(meta, servers):
    mine = (await register(meta, servers, "a"))["id"]
    theirs = (await register(meta, servers, "x", who="two"))["id"]
    listed = await (await meta.get("/api/v1/owner/media", headers=meta.tokens["one"])).json()
    assert [m["id"] for m in listed["media"]] == [mine]
    h = meta.tokens["one"]
    for method in ("get", "patch", "delete"):
        kw = {"json": {"title": "mine now"}} if method == "patch" else {}
        resp = await getattr(meta, method)(f"/api/v1/owner/media/{theirs}", headers=h, **kw)
        assert resp.status == 403, method
        resp = await getattr(meta, method)("/api/v1/owner/media/999", headers=h, **kw)
        assert resp.status == 404, method
    resp = await meta.get(f"/api/v1/owner/media/{theirs}", headers=meta.tokens["two"])
    assert (await resp.json())["title"] == "Title x"


async def _device(meta, program_items, positions):
    """Program P holding program_items; devices d0.. entitled, at the given positions."""
    db = meta.server.app[DB]
    await db.catalog.add_program("P", program_items)
    for i, pos in enumerate(positions):
        await db.devices.add(f"d{i}", "", SECRET)
        await db.devices.assign(f"d{i}", "P", default=True)
        await db.execute("UPDATE entitlements SET pos = ? WHERE device = ?", (pos, f"d{i}"))
    return [bearer(await login(meta, f"d{i}")) for i in range(len(positions))]


async def _next(meta, h):
    resp = await meta.get("/api/v1/next", headers=h)
    assert resp.status == 200
    return await resp.json()


async def test_an_update_changes_what_devices_get_and_checks_new_alternates(meta, servers):
    mid = (await register(meta, servers, "a"))["id"]
    [dev] = await _device(meta, [mid], [0])
    resp = await meta.patch(f"/api/v1/owner/media/{mid}", headers=meta.tokens["one"], json={
        "title": "New title", "performers": ["New performer"],
        "alternates": [{"address": servers["M"], "directory": "/mirror"},
                       {"address": servers["B"], "directory": "/mirror"}]})
    body = await resp.json()
    assert resp.status == 200, body
    assert [s["ok"] for s in body["sources"]] == [True, False]
    assert body["record"]["alternates"] == [{"address": servers["M"], "directory": "/mirror"}]
    item = await _next(meta, dev)
    assert (item["title"], item["by"]) == ("New title", "New performer")
    assert item["src"] == [f"{servers['P']}/music/a.wav", f"{servers['M']}/mirror/a.wav"]


async def test_an_update_cannot_change_which_bytes_the_record_is_about(meta, servers):
    mid = (await register(meta, servers, "a"))["id"]
    resp = await meta.patch(f"/api/v1/owner/media/{mid}", headers=meta.tokens["one"],
                            json={"sha256": "0" * 64})
    assert resp.status == 400
    assert "sha256" in (await resp.json())["error"]
    resp = await meta.patch(f"/api/v1/owner/media/{mid}", headers=meta.tokens["one"],
                            json={"performers": "not a list"})
    assert resp.status == 400 and "performers" in (await resp.json())["error"]
    resp = await meta.patch(f"/api/v1/owner/media/{mid}", headers=meta.tokens["one"],
                            json={"secure": {"key": "00" * 16}})
    assert resp.status == 400 and "secure" in (await resp.json())["error"]


async def test_an_update_keeps_compact_keys_it_does_not_build(meta, servers):
    """A key another feature put into the stored compact document (a secure item's "sec")
    survives an owner's update."""
    mid = (await register(meta, servers, "a"))["id"]
    db = meta.server.app[DB]
    compact = json.loads((await db.fetchone("SELECT compact FROM media WHERE id = ?", (mid,)))[0])
    compact["sec"] = {"k": 1}
    await db.execute("UPDATE media SET compact = ? WHERE id = ?", (json.dumps(compact), mid))
    resp = await meta.patch(f"/api/v1/owner/media/{mid}", headers=meta.tokens["one"],
                            json={"title": "Renamed"})
    assert resp.status == 200
    stored = json.loads((await db.fetchone("SELECT compact FROM media WHERE id = ?", (mid,)))[0])
    assert stored["sec"] == {"k": 1} and stored["title"] == "Renamed"


async def test_removal_takes_the_file_out_without_moving_devices_off_their_place(meta, servers):
    ids = {n: (await register(meta, servers, n))["id"] for n in ("a", "x", "b", "c")}
    # Devices at a (0), at x (1, the one removed), at b (2), at c (3).
    devs = await _device(meta, [ids[n] for n in ("a", "x", "b", "c")], [0, 1, 2, 3])
    playing_x = await _next(meta, devs[1])
    assert playing_x["id"] == ids["x"]
    resp = await meta.delete(f"/api/v1/owner/media/{ids['x']}", headers=meta.tokens["one"])
    assert resp.status == 200
    assert (await resp.json())["removed"] == ids["x"]
    got = [(await _next(meta, h))["id"] for h in devs]
    assert got == [ids["a"], ids["b"], ids["b"], ids["c"]]
    # The device that was playing x reports it: stored, but it does not skip b.
    resp = await meta.post("/api/v1/report", headers=devs[1], json={
        "id": ids["x"], "pos": playing_x["pos"], "status": "played"})
    assert resp.status == 200
    assert (await _next(meta, devs[1]))["id"] == ids["b"]
    # Playing on from c wraps to a: x is gone from the program.
    resp = await meta.post("/api/v1/report", headers=devs[3], json={"id": ids["c"], "pos": 2,
                                                                      "status": "played"})
    assert (await resp.json())["next_pos"] == 0
    assert (await _next(meta, devs[3]))["id"] == ids["a"]
    resp = await meta.get(f"/api/v1/media/{ids['x']}", headers=devs[0])
    assert resp.status == 404
    db = meta.server.app[DB]
    assert await db.catalog.list_programs() == [{
        "id": 1, "name": "P", "items": [ids["a"], ids["b"], ids["c"]],
        "titles": ["Title a", "Title b", "Title c"], "devices": ["d0", "d1", "d2", "d3"]}]


async def test_removing_the_last_item_wraps_a_device_there_to_the_start(meta, servers):
    ids = [(await register(meta, servers, n))["id"] for n in ("a", "x")]
    [dev] = await _device(meta, ids, [1])
    assert (await meta.delete(f"/api/v1/owner/media/{ids[1]}", headers=meta.tokens["one"])).status == 200
    item = await _next(meta, dev)
    assert (item["id"], item["pos"]) == (ids[0], 0)
