"""Fair load over equal sources: servers' weights, the order each device gets, and health over it.

The distribution is a property of model/spread.py; the rest runs on both database engines and
through the real API: weights set by owners and the operator reach GET /next at once, an owner's
apply to their own media only, and a server found down still comes last."""

import asyncio
import collections
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from host_server import fileserver
from host_server.app import init_app
from host_server.db import Database
from host_server.db.weights import OPERATOR
from host_server.keys import HEALTH
from host_server.model import catalog, spread
from host_server.model.errors import Invalid, NotFound, QuotaExceeded
from host_server.services import owners
from hostutil import SECRET, bearer, free_port, login, run_cli

A, B, C, S = (f"http://127.0.0.1:{p}" for p in (8101, 8102, 8103, 8109))
DEVICES = 3000


def urls_of(addresses):
    return [f"{a}/m/x.wav" for a in addresses]


# -- the order, pure ------------------------------------------------------------------------

@settings(max_examples=25, deadline=None)
@given(weights=st.lists(st.integers(1, 20), min_size=2, max_size=4),
       standbys=st.integers(0, 2), media_id=st.integers(1, 10 ** 9))
def test_devices_take_each_sharing_source_first_in_proportion_to_its_weight(weights, standbys,
                                                                             media_id):
    urls = urls_of(f"http://10.0.0.{i}" for i in range(len(weights) + standbys))
    stored = tuple(weights) + (0,) * standbys
    first = collections.Counter()
    for d in range(DEVICES):
        order = spread.spread_order(urls, stored, f"dev{d:05d}", media_id)
        assert sorted(order) == sorted(urls)                       # every source, once
        assert order[len(weights):] == urls[len(weights):]         # standbys last, as registered
        first[order[0]] += 1
    total = sum(weights)
    for url, w in zip(urls, weights):
        # 3000 draws: one standard deviation of a share is at most 0.009
        assert abs(first[url] / DEVICES - w / total) < 0.04, (url, first, weights)


def test_a_device_keeps_its_order_and_the_fleet_spreads_per_item():
    urls = urls_of((A, B, C))
    once = [spread.spread_order(urls, (1, 2, 1), f"dev{d}", 7) for d in range(50)]
    assert once == [spread.spread_order(urls, (1, 2, 1), f"dev{d}", 7) for d in range(50)]
    assert len({o[0] for o in once}) == 3
    # the same device does not take the same server first for every item
    assert len({spread.spread_order(urls, (1, 1, 1), "dev1", m)[0] for m in range(30)}) == 3


def test_without_a_weighted_alternate_sources_stay_as_registered():
    weigh = {B: 3}.get
    assert spread.source_weights([A, B], lambda a: None) is None   # nothing set
    assert spread.source_weights([A, B], {A: 5}.get) is None       # the primary alone shares
    assert spread.source_weights([A, B, C], weigh) == [1, 3, 0]   # C stands by
    doc = {"id": 1, "pos": 0, "src": urls_of((A, B))}
    assert spread.order(doc, None, "dev1") is doc
    assert spread.spread_order(doc["src"], (1, 2, 3), "dev1", 1) == doc["src"]   # stale: as is


@pytest.mark.parametrize("bad", [0, -1, 1001, 1.5, True, "2", None])
def test_a_weight_is_a_whole_number_from_1_to_the_bound(bad):
    with pytest.raises(Invalid, match="weight must be a whole number from 1 to 1000"):
        spread.check_weight(bad)


# -- stored, on both engines --------------------------------------------------------------

def record(primary=A, alternates=(B, C)):
    return catalog.validate_media({
        "size": 3, "sha256": "ab" * 32, "type": "audio/wav", "primary_address": primary,
        "primary_directory": "/m", "file_name": "x.wav",
        "alternates": [{"address": a, "directory": "/m"} for a in alternates]})


async def stored_spread(db, media_id):
    text = (await db.fetchone("SELECT spread FROM media WHERE id = ?", (media_id,)))[0]
    return None if text is None else json.loads(text)


@pytest.fixture
async def db(db_path):
    d = await Database(db_path).connect()
    yield d
    await d.close()


async def test_an_owners_weights_apply_to_their_media_over_the_operators(db):
    alice, _ = await owners.create_owner(db, "alice")
    bob, _ = await owners.create_owner(db, "bob")
    ops = await db.catalog.add_media(record())
    mine = await db.owners.add_media(alice, record())
    theirs = await db.owners.add_media(bob, dict(record(), file_name="y.wav"))
    assert [await stored_spread(db, m) for m in (ops, mine, theirs)] == [None, None, None]
    assert await db.weights.set(OPERATOR, B, 2) == 3
    assert await db.weights.set(alice, C + "/", 4) == 1        # an address as typed, "/" and all
    assert await stored_spread(db, ops) == [1, 2, 0]
    assert await stored_spread(db, mine) == [1, 2, 4]           # the operator's B, her own C
    assert await stored_spread(db, theirs) == [1, 2, 0]
    await db.weights.set(alice, B, 1)                           # hers over the operator's
    assert await stored_spread(db, mine) == [1, 1, 4]
    await db.weights.unset(alice, B)
    assert await stored_spread(db, mine) == [1, 2, 4]
    assert [(w["owner"], w["address"], w["weight"], w["media"]) for w in await db.weights.list()] == [
        ("", B, 2, 3), ("alice", C, 4, 1)]
    assert [w["address"] for w in await db.weights.list(bob)] == []
    await db.weights.unset(OPERATOR, B)
    assert await stored_spread(db, ops) is None


async def test_a_weight_set_first_applies_to_records_registered_or_changed_later(db):
    await db.weights.set(OPERATOR, C, 3)
    media_id = await db.catalog.add_media(record(alternates=(B,)))
    assert await stored_spread(db, media_id) is None
    async with db.transaction() as c:
        await db.catalog.update_media(c, media_id, record(alternates=(C, B)))
    assert await stored_spread(db, media_id) == [1, 3, 0]
    async with db.transaction() as c:
        await db.catalog.update_media(c, media_id, record(alternates=()))
    assert await stored_spread(db, media_id) is None


async def test_bad_weights_and_addresses_store_nothing(db):
    alice, _ = await owners.create_owner(db, "alice")
    for address, weight, message in ((B, 0, "from 1 to 1000"), (B, 5000, "from 1 to 1000"),
                                     ("files.example.org", 2, "must start with http"),
                                     (B + "/music", 2, "must not have a path")):
        with pytest.raises(Invalid, match=message):
            await db.weights.set(alice, address, weight)
    assert await db.weights.list() == []
    with pytest.raises(NotFound, match="no weight is set for http://127.0.0.1:8102 by you"):
        await db.weights.unset(alice, B)
    spread_max, spread.MAX_OWNER_WEIGHTS = spread.MAX_OWNER_WEIGHTS, 2
    try:
        await db.weights.set(alice, A, 1)
        await db.weights.set(alice, B, 1)
        await db.weights.set(alice, B, 3)                       # a change is not one more
        with pytest.raises(QuotaExceeded, match="2 servers carry a weight already"):
            await db.weights.set(alice, C, 1)
    finally:
        spread.MAX_OWNER_WEIGHTS = spread_max
    assert len(await db.weights.list(alice)) == 2


# -- through the API -------------------------------------------------------------------------

async def seed(db_path, n_devices, rec):
    db = await Database(db_path).connect()
    alice, token = await owners.create_owner(db, "alice")
    mid = await db.owners.add_media(alice, rec)
    await db.catalog.add_program("P", [mid])
    for d in range(n_devices):
        await db.devices.add(f"dev{d}", "", SECRET)
        await db.devices.assign(f"dev{d}", "P", default=True)
    await db.close()
    return mid, token


async def test_owners_weights_reach_every_devices_next_at_once(aiohttp_client, db_path):
    mid, token = await seed(db_path, 12, record())
    client = await aiohttp_client(init_app(probe_interval=0, db=db_path))
    me = bearer(token)
    devices = [bearer(await login(client, f"dev{d}")) for d in range(12)]

    async def firsts():
        return [(await (await client.get("/api/v1/next", headers=h)).json())["src"] for h in devices]

    assert await firsts() == [urls_of((A, B, C))] * 12          # nothing set: as registered
    resp = await client.put("/api/v1/owner/weights", headers=me, json={"address": B, "weight": 3})
    assert resp.status == 200 and await resp.json() == {"address": B, "weight": 3, "media": 1}
    got = await firsts()
    assert got == [spread.spread_order(urls_of((A, B)), (1, 3), f"dev{d}", mid) + urls_of((C,))
                   for d in range(12)]
    assert {g[0] for g in got} == set(urls_of((A, B)))          # spread, C standing by
    for h, g in zip(devices, got):                              # a horizon hands out the same
        horizon = await (await client.get("/api/v1/horizon", headers=h, params={"k": 1})).json()
        assert horizon["items"][0]["src"] == g
    body = await (await client.get("/api/v1/owner/weights", headers=me)).json()
    assert [(w["address"], w["weight"], w["media"]) for w in body["weights"]] == [(B, 3, 1)]
    resp = await client.put("/api/v1/owner/weights", headers=me, json={"address": B, "weight": "3"})
    assert resp.status == 400 and "field 'weight' must be an integer" in (await resp.json())["error"]
    resp = await client.delete("/api/v1/owner/weights", headers=me, params={"address": B})
    assert resp.status == 200 and (await resp.json())["weight"] is None
    assert await firsts() == [urls_of((A, B, C))] * 12
    resp = await client.delete("/api/v1/owner/weights", headers=me, params={"address": B})
    assert resp.status == 404


async def test_a_server_found_down_comes_last_whatever_its_weight(aiohttp_client, tmp_path):
    root = tmp_path / "root" / "m"
    root.mkdir(parents=True)
    (root / "x.wav").write_bytes(b"abc")
    up = [await aiohttp_client(fileserver.init_app(str(tmp_path / "root"))) for _ in range(2)]
    a, s = (f"http://127.0.0.1:{u.server.port}" for u in up)
    dead = f"http://127.0.0.1:{free_port()}"
    db_path = str(tmp_path / "meta.db")
    mid, token = await seed(db_path, 20, record(a, (dead, s)))
    db = await Database(db_path).connect()
    await db.weights.set(OPERATOR, dead, 50)                    # nearly every device's first
    await db.close()
    client = await aiohttp_client(init_app(db=db_path, probe_interval=0.05, probe_timeout=1.0,
                                           allow_source_nets=("127.0.0.0/8",)))
    health = client.server.app[HEALTH]
    for _ in range(400):                                        # the first probe, at start-up
        if health.down:
            break
        await asyncio.sleep(0.05)
    assert health.down == {dead}
    for d in range(20):
        h = bearer(await login(client, f"dev{d}"))
        src = (await (await client.get("/api/v1/next", headers=h)).json())["src"]
        assert src == urls_of((a, s, dead)), d                  # the standby before the down one


def test_the_operator_weighs_servers_from_the_command_line(db_path):
    run_cli("init", db=db_path, check=0)
    run_cli("add-owner", "alice", db=db_path, check=0)
    out = run_cli("set-weight", B, "2", db=db_path, check=0).stdout
    assert out == f"{B}: weight 2 (the operator's); 0 media record(s) name it\n"
    run_cli("set-weight", C, "5", "--owner", "alice", db=db_path, check=0)
    rows = json.loads(run_cli("weights", "--json", db=db_path, check=0).stdout)
    assert [(r["owner"], r["address"], r["weight"]) for r in rows] == [("", B, 2), ("alice", C, 5)]
    listed = run_cli("weights", db=db_path, check=0).stdout
    assert "(operator)" in listed and "alice" in listed
    bad = run_cli("set-weight", B, "0", db=db_path, check=1)
    assert "error: weight must be a whole number from 1 to 1000" in bad.stderr
    bad = run_cli("set-weight", B, "2", "--owner", "nobody", db=db_path, check=1)
    assert "no owner 'nobody'" in bad.stderr and "alice" in bad.stderr
    run_cli("unset-weight", B, db=db_path, check=0)
    bad = run_cli("unset-weight", B, db=db_path, check=1)
    assert f"error: no weight is set for {B}" in bad.stderr
