"""File server health: probes against real servers on loopback, devices' reports folded in,
sources ordered by health in the compact document, and what the operator sees."""

import asyncio
import json

import pytest

from host_server import fileserver
from host_server.model import catalog
from host_server.app import init_app
from host_server.db import Database
from host_server.keys import HEALTH
from host_server.services.health import Health, address_of, server_failed
from host_server.keys import DB
from host_server.outbound.policy import SourcePolicy
from host_server.outbound.probe import probe_all
from hostutil import SECRET, FakeClock, bearer, free_port, login, run_cli

SHA = "ab" * 32
LOOPBACK = SourcePolicy(["127.0.0.0/8"])   # the test's servers are on loopback


def record(primary, alternates, name="x.wav"):
    return catalog.validate_media({
        "size": 3, "sha256": SHA, "type": "audio/wav", "primary_address": primary,
        "primary_directory": "/m", "file_name": name,
        "alternates": [{"address": a, "directory": "/alt"} for a in alternates]})


@pytest.fixture
async def up_server(tmp_path, aiohttp_server):
    for folder in ("m", "alt"):
        (tmp_path / "root" / folder).mkdir(parents=True)
        (tmp_path / "root" / folder / "x.wav").write_bytes(b"abc")
    srv = await aiohttp_server(fileserver.init_app(str(tmp_path / "root")))
    return f"http://127.0.0.1:{srv.port}"


@pytest.fixture
async def db(tmp_path):
    d = await Database(str(tmp_path / "meta.db"), clock=FakeClock()).connect()
    yield d
    await d.close()


def test_address_of_a_source_url_is_its_scheme_host_and_port():
    assert address_of("http://127.0.0.1:8101/music/a%20b/x.wav") == "http://127.0.0.1:8101"
    assert address_of("https://files.example.org/x") == "https://files.example.org"


def test_only_server_failures_count_against_a_server():
    assert all(map(server_failed, ("refused", "timeout", "dropped at 4096", "503", "bad response: x")))
    assert not any(map(server_failed, ("404", "416", "sha256")))


def test_a_reason_of_non_ascii_digits_is_not_a_server_failure():
    # schemathesis found '¹' (isdigit() but not int()) crashing the report endpoint with a 500
    assert not any(map(server_failed, ("¹", "٥٠٣", "5\u00b2")))


async def test_probe_marks_a_refusing_server_down_with_why_and_since(db, up_server):
    down = f"http://127.0.0.1:{free_port()}"
    await db.catalog.add_media(record(up_server, [down]))
    health = await Health(db).load()
    await probe_all(health, 2.0, LOOPBACK)
    assert health.down == {down}
    servers = {s["address"]: s for s in await db.health.list_servers()}
    assert servers[down]["up"] is False and servers[up_server]["up"] is True
    assert "refused" in servers[down]["why"].lower() and down in servers[down]["why"]
    assert servers[down]["since"] == db.clock.now == servers[down]["checked"]
    # Still down an hour later: "since" stays, "checked" moves.
    db.clock.advance(3600)
    await probe_all(health, 2.0, LOOPBACK)
    servers = {s["address"]: s for s in await db.health.list_servers()}
    assert servers[down]["since"] == db.clock.now - 3600
    assert servers[down]["checked"] == db.clock.now
    assert [s["address"] for s in await db.health.list_servers()] == [down, up_server]   # down first


async def test_the_probe_never_connects_where_the_source_policy_does_not_allow(db, up_server):
    await db.catalog.add_media(record(up_server, []))
    health = await Health(db).load()
    await probe_all(health, 2.0, SourcePolicy())   # public addresses only: loopback is refused
    [srv] = await db.health.list_servers()
    assert srv["up"] is False and "loopback address, not allowed" in srv["why"]


async def test_a_server_missing_its_probe_file_is_down_with_the_status(db, up_server):
    await db.catalog.add_media(record(up_server, [], name="gone.wav"))
    health = await Health(db).load()
    await probe_all(health, 2.0, LOOPBACK)
    [srv] = await db.health.list_servers()
    assert srv["up"] is False and srv["why"].startswith("probe 404")


async def test_a_server_never_checked_is_listed_as_unknown(db):
    await db.catalog.add_media(record("http://127.0.0.1:9", []))
    assert await db.health.list_servers() == [{"address": "http://127.0.0.1:9", "up": None, "since": None,
                                       "why": "not checked yet", "checked": None}]


async def test_devices_reports_mark_servers_down_and_up(db):
    a, b = "http://127.0.0.1:1", "http://127.0.0.1:2"
    await db.catalog.add_media(record(a, [b]))
    health = await Health(db).load()
    stranger = "http://127.0.0.1:3"   # no media record names it: a report cannot plant it
    failing = {"status": "played", "src": f"{b}/alt/x.wav",
               "errors": [[f"{a}/m/x.wav", "refused"], [f"{stranger}/x.wav", "refused"]]}
    await health.fold_report("dev1", failing)
    await health.fold_report("dev1", failing)
    assert health.down == set()   # one device alone does not take a server down for everyone
    db.clock.advance(60)
    await health.fold_report("dev3", failing)
    assert health.down == {a}
    assert stranger not in {s["address"] for s in await db.health.list_servers()}
    srv = (await db.health.list_servers())[0]
    assert srv["address"] == a and srv["why"] == (
        f"device dev3 reported refused for {a}/m/x.wav (and 1 other device(s) lately)")
    await health.fold_report("dev2", {"status": "failed", "src": None,
                                      "errors": [[f"{b}/alt/x.wav", "404"]]})
    assert health.down == {a}    # a missing file is not a server failure
    await health.fold_report("dev2", {"status": "played", "src": f"{a}/m/x.wav", "errors": []})
    assert health.down == set()
    by_address = {s["address"]: s for s in await db.health.list_servers()}
    assert by_address[a]["up"] is True and by_address[a]["why"] == f"device dev2 played {a}/m/x.wav"
    # Health survives a restart of the meta server.
    for device in ("dev1", "dev2"):
        await health.fold_report(device, {"status": "failed", "src": None,
                                          "errors": [[f"{b}/alt/x.wav", "timeout"]]})
    assert (await Health(db).load()).down == {b}


async def test_reports_of_two_devices_count_together_only_within_a_while(db):
    a = "http://127.0.0.1:1"
    await db.catalog.add_media(record(a, []))
    health = await Health(db).load()
    failing = {"status": "failed", "src": None, "errors": [[f"{a}/m/x.wav", "503"]]}
    await health.fold_report("dev1", failing)
    db.clock.advance(400)   # past the window: dev1's word has expired
    await health.fold_report("dev2", failing)
    assert health.down == set()
    await health.fold_report("dev1", failing)
    assert health.down == {a}


async def test_sources_are_ordered_down_after_up_and_never_dropped(db):
    a, b, c = (f"http://127.0.0.1:{p}" for p in (1, 2, 3))
    health = await Health(db).load()
    doc = {"id": 1, "pos": 0, "size": 3, "src": [f"{a}/x", f"{b}/x", f"{c}/x"], "sec": {"k": 1}}
    assert health.order(doc) is doc           # nothing down: untouched
    await health.record([(a, False, "probe: refused"), (b, True, "ok")])
    ordered = health.order(doc)
    assert ordered["src"] == [f"{b}/x", f"{c}/x", f"{a}/x"]
    assert ordered["sec"] == {"k": 1} and list(ordered)[:3] == ["id", "pos", "size"]
    assert doc["src"] == [f"{a}/x", f"{b}/x", f"{c}/x"]   # the shared document is not changed
    await health.record([(a, True, "ok"), (c, False, "timeout")])
    assert health.order(doc)["src"] == [f"{a}/x", f"{b}/x", f"{c}/x"]


async def test_next_orders_sources_by_what_the_background_probe_found(
        aiohttp_client, tmp_path, up_server):
    down = f"http://127.0.0.1:{free_port()}"
    db = await Database(str(tmp_path / "meta.db")).connect()
    mid = await db.catalog.add_media(record(down, [up_server]))
    await db.catalog.add_program("P", [mid])
    await db.devices.add("dev1", "", SECRET)
    await db.devices.assign("dev1", "P", default=True)
    await db.close()
    client = await aiohttp_client(init_app(db=str(tmp_path / "meta.db"), probe_interval=0.05,
                                           probe_timeout=1.0, allow_source_nets=("127.0.0.0/8",)))
    health = client.server.app[HEALTH]
    for _ in range(400):                       # the first probe runs at start-up
        if health.down:
            break
        await asyncio.sleep(0.05)
    assert health.down == {down}
    h = bearer(await login(client))
    item = await (await client.get("/api/v1/next", headers=h)).json()
    assert item["src"] == [f"{up_server}/alt/x.wav", f"{down}/m/x.wav"]
    # The full record still names the primary first: only what devices get is reordered.
    rec = await (await client.get(f"/api/v1/media/{mid}", headers=h)).json()
    assert rec["primary_address"] == down
    servers = await client.server.app[DB].health.list_servers()
    assert [(s["address"], s["up"]) for s in servers] == [(down, False), (up_server, True)]


async def test_with_health_off_next_keeps_the_stored_order(aiohttp_client, tmp_path):
    db = await Database(str(tmp_path / "meta.db")).connect()
    a, b = "http://127.0.0.1:1", "http://127.0.0.1:2"
    mid = await db.catalog.add_media(record(a, [b]))
    await db.catalog.add_program("P", [mid])
    await db.devices.add("dev1", "", SECRET)
    await db.devices.assign("dev1", "P", default=True)
    await db.close()
    client = await aiohttp_client(init_app(probe_interval=0, db=str(tmp_path / "meta.db")))
    await client.server.app[HEALTH].record([(a, False, "refused")])
    h = bearer(await login(client))
    item = await (await client.get("/api/v1/next", headers=h)).json()
    assert item["src"] == [f"{a}/m/x.wav", f"{b}/alt/x.wav"]


async def test_operator_lists_servers_with_why_and_since(db, tmp_path):
    a = "http://127.0.0.1:1"
    await db.catalog.add_media(record(a, ["http://127.0.0.1:2"]))
    await Health(db).record([(a, False, "probe: Connection refused (http://127.0.0.1:1/m/x.wav)")])
    proc = run_cli("list", "servers", db=db.path, check=0)
    lines = proc.stdout.splitlines()
    assert lines[0].split() == ["address", "state", "since_time", "checked_time", "why"]
    assert lines[1].startswith(a) and " DOWN " in lines[1]
    assert "Connection refused" in lines[1] and "2027-01-15" in lines[1]   # FakeClock's day
    assert lines[2].startswith("http://127.0.0.1:2") and "not checked yet" in lines[2]
    rows = json.loads(run_cli("list", "servers", "--json", db=db.path, check=0).stdout)
    assert rows[0]["up"] is False and rows[0]["since"] == db.clock.now
