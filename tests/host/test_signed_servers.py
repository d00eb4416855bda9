"""Owners require signed, expiring URLs on their file servers (owner API, db.signing), on both
database engines: the meta server signs what it hands out and what it fetches itself for those
servers, our file server checks the signature, no list shows a secret."""

import hashlib
import math
import time
from urllib.parse import parse_qs, urlsplit

import aiohttp
import pytest
import yarl

from host_server import fileserver
from host_server.app import init_app
from host_server.db import Database
from host_server.keys import DB, SIGNER
from host_server.model import catalog, signing
from host_server.model.sealing import MasterKeyError, Sealer, load_master_key, new_master_key_file
from host_server.outbound.policy import SourcePolicy
from host_server.outbound.probe import probe_all
from host_server.services import owners
from host_server.services.health import Health
from host_server.services.signing import REFRESH, UrlSigner
from hostutil import SECRET, bearer, dump, login, run_cli, sql

DATA = {name: name.encode() * (4000 + i) for i, name in enumerate(("a", "b"))}
RATE = 1000   # bytes/s the records say: "dur" of a is 4 s, of b 4.001 s
TTL = 60
P_SECRET, M_SECRET = "primary-secret-0123456789", "mirror-secret-0123456789"


@pytest.fixture
async def world(tmp_path, aiohttp_server, aiohttp_client, db_path):
    """Primary P (checks P_SECRET) and mirror M (M_SECRET) hold a and b, open O holds a; owner
    one registered a and b on P with M as alternate, owner two a on O with P as alternate;
    dev1 plays a, b."""
    servers = {}
    for key, secret in (("P", P_SECRET), ("M", M_SECRET), ("O", None)):
        root = tmp_path / key / "music"
        root.mkdir(parents=True)
        for name, data in DATA.items():
            (root / f"{name}.wav").write_bytes(data)
        srv = await aiohttp_server(fileserver.init_app(str(tmp_path / key), signing_secret=secret))
        servers[key] = f"http://127.0.0.1:{srv.port}"
    key_file = str(tmp_path / "master.key")
    new_master_key_file(key_file)
    db = await Database(db_path).connect()
    _, one = await owners.create_owner(db, "One")
    _, two = await owners.create_owner(db, "Two")
    await db.close()
    client = await aiohttp_client(init_app(
        probe_interval=0, db=db_path, master_key_file=key_file, signed_url_ttl=TTL,
        source_timeout=2.0, allow_source_nets=("127.0.0.0/8",)))
    client.tokens = {"one": bearer(one), "two": bearer(two)}
    client.servers = servers
    return client


def media(servers, name, primary="P", alternates=("M",)):
    return {"size": len(DATA[name]), "sha256": hashlib.sha256(DATA[name]).hexdigest(),
            "type": "audio/x-test", "rate": RATE, "dur": len(DATA[name]),
            "primary_address": servers[primary], "primary_directory": "/music",
            "file_name": f"{name}.wav",
            "alternates": [{"address": servers[k], "directory": "/music"} for k in alternates]}


async def call(client, method, path, who="one", status=200, **kw):
    resp = await client.request(method, "/api/v1/owner" + path, headers=client.tokens[who], **kw)
    body = await resp.json()
    assert resp.status == status, body
    return body


async def sign(client, server, who="one", secret=None, status=201):
    body = {"address": client.servers[server]}
    if secret is not None:
        body["secret"] = secret
    return await call(client, "POST", "/signing", who, status, json=body)


async def fetch(url):
    async with aiohttp.ClientSession() as session:
        async with session.get(yarl.URL(url, encoded=True)) as resp:
            return resp.status, await resp.read()


def expires_of(url):
    return int(parse_qs(urlsplit(url).query)["expires"][0])


async def test_signed_servers_urls_are_signed_where_devices_get_them_and_fetch(world, db_path):
    s = world.servers
    # before signing, P's file server refuses what the meta server would fetch: registration fails
    body = await call(world, "POST", "/media", status=422, json=media(s, "a"))
    assert body["sources"][0]["url"] == s["P"] + "/music/a.wav" and "403" in body["sources"][0]["why"]
    assert (await sign(world, "P", secret=P_SECRET)) == {"address": s["P"], "signed": True, "ttl": TTL}
    await call(world, "POST", "/media", status=201, json=media(s, "a", alternates=()))   # checked, signed
    body = await call(world, "PATCH", "/media/1", json={"alternates": [{"address": s["M"], "directory": "/music"}]})
    assert [c["ok"] for c in body["sources"]] == [False] and "403" in body["sources"][0]["why"]
    await sign(world, "M", secret=M_SECRET)   # a server no media name yet
    body = await call(world, "PATCH", "/media/1", json={"alternates": [{"address": s["M"], "directory": "/music"}]})
    assert [c["ok"] for c in body["sources"]] == [True]
    await call(world, "DELETE", "/signing", params={"address": s["M"]})
    # an alternate of a record counts as naming it: a sign with a new secret, shown once
    await call(world, "POST", "/media", status=201, json=media(s, "b", alternates=("O",)))
    made = await sign(world, "O")
    assert signing.check_secret(made["secret"]) and made["signed"]
    await call(world, "DELETE", "/signing", params={"address": s["O"]})
    await sign(world, "O", who="two", status=403)              # others' media name it, none of two's
    await call(world, "POST", "/media", "two", 201, json=media(s, "a", primary="O", alternates=("P",)))
    await sign(world, "P", who="two", status=409)              # one requires it already
    await call(world, "DELETE", "/signing", "two", 403, params={"address": s["P"]})
    await call(world, "DELETE", "/signing", "two", 404, params={"address": s["M"]})

    devices = await Database(db_path).connect()
    await devices.catalog.add_program("Signed", [1, 2])
    await devices.devices.add("dev1", "", SECRET)
    await devices.devices.assign("dev1", "Signed", default=True)
    await devices.close()
    token = bearer(await login(world))
    before = time.time()
    item = await (await world.get("/api/v1/next", headers=token)).json()
    primary, alternate = item["src"]
    assert primary.startswith(s["P"] + "/music/a.wav?md5=") and alternate == s["M"] + "/music/a.wav"
    assert math.ceil(before + TTL + 4) <= expires_of(primary) <= math.ceil(time.time() + TTL + 4)
    assert await fetch(primary) == (200, DATA["a"])
    assert (await fetch(primary.split("?")[0]))[0] == 403
    assert (await fetch(primary.replace("a.wav", "b.wav")))[0] == 403
    assert (await fetch(alternate))[0] == 403   # M checks, and its owner stopped signing
    # a horizon's later item is valid for the items' before it too
    horizon = await (await world.get("/api/v1/horizon?k=2", headers=token)).json()
    a, b = (one["src"][0] for one in horizon["items"])
    assert expires_of(b) - expires_of(a) in (4, 5)    # a's 4 s ahead of b's own 4.001
    # the report keeps the source as the record names it
    resp = await world.post("/api/v1/report", headers=token, json={
        "id": item["id"], "pos": item["pos"], "status": "played", "src": primary,
        "bytes": len(DATA["a"]), "errors": [[alternate + "?md5=x&expires=1", "410"]]})
    assert resp.status == 200
    (source, errors), = sql(db_path, "SELECT source, errors FROM reports")
    assert source == s["P"] + "/music/a.wav" and "md5" not in errors and alternate in errors
    # no list holds a secret, nor does the database in clear (sealed under the master key)
    listed = (await call(world, "GET", "/servers"))["servers"]
    assert {x["address"]: x["signed"] for x in listed} == {s["P"]: True, s["M"]: False, s["O"]: False}
    assert all(set(x) == {"address", "signed", "since"} for x in listed)
    assert P_SECRET not in dump(db_path) and made["secret"] not in dump(db_path)
    assert P_SECRET not in str(await call(world, "GET", "/media"))
    # unsigned again: URLs handed out as the record names them
    await call(world, "DELETE", "/signing", params={"address": s["P"]})
    item = await (await world.get("/api/v1/next", headers=token)).json()
    assert item["src"][0] == s["P"] + "/music/b.wav"


async def test_a_bad_address_or_secret_is_refused_by_name(world):
    s = world.servers
    await call(world, "POST", "/media", status=422, json=media(s, "a"))
    for body, said in (({"address": "ftp://x"}, "field 'address'"), ({}, "'address'"),
                       ({"address": s["P"], "secret": "short"}, "field 'secret'"),
                       ({"address": s["P"], "secret": 'a"b' * 8}, "field 'secret'")):
        answer = await call(world, "POST", "/signing", status=400, json=body)
        assert said in answer["error"]
    answer = await call(world, "DELETE", "/signing", status=400)
    assert "query parameter 'address'" in answer["error"]


def test_a_record_keeps_room_for_its_sources_signatures():
    doc = {"size": 1, "sha256": "ab" * 32, "type": "audio/wav", "primary_address": "http://h",
           "primary_directory": "/" + "d" * 150, "file_name": "f.wav",
           "alternates": [{"address": f"http://m{i}", "directory": "/" + "d" * 150} for i in range(8)]}
    with pytest.raises(catalog.Invalid, match="with its sources signed"):
        catalog.validate_media(doc)
    rec = catalog.validate_media(dict(doc, primary_directory="/d", alternates=doc["alternates"][:7]))
    signed = {**catalog.compact_doc(catalog.compact_json(rec)), "id": 2 ** 31, "pos": 2 ** 31}
    signed["src"] = [signing.sign_url(u, P_SECRET, 2 ** 40) for u in signed["src"]]
    assert len(catalog.dumps(signed).encode()) <= 2048


async def test_the_operator_lists_signed_servers_without_secrets_and_can_unsign_one(world, db_path):
    await sign(world, "M", secret=M_SECRET)
    listed = run_cli("signed-servers", db=db_path, check=0).stdout
    assert world.servers["M"] in listed and "One" in listed and M_SECRET not in listed
    said = run_cli("unsign-server", world.servers["M"], db=db_path, check=0).stdout
    assert "unsigned again" in said
    assert run_cli("signed-servers", db=db_path, check=0).stdout.strip() == "(none)"
    gone = run_cli("unsign-server", world.servers["M"], db=db_path, check=1)
    assert "does not require signed URLs" in gone.stderr


async def test_a_sealed_signing_secret_needs_the_right_master_key(world, db_path, tmp_path):
    await sign(world, "M", secret=M_SECRET)
    db = await Database(db_path).connect()
    missing = db.sealed_without_key
    await db.close()
    assert missing == ["signing secrets"]
    other = str(tmp_path / "other.key")
    new_master_key_file(other)
    wrong = Database(db_path, sealer=Sealer(load_master_key(other)))
    with pytest.raises(MasterKeyError, match="server http://127.0.0.1"):
        await wrong.connect()
    await wrong.close()


async def test_the_health_probe_fetches_a_signed_server_with_a_signed_url(world):
    await sign(world, "P", secret=P_SECRET)
    await call(world, "POST", "/media", status=201, json=media(world.servers, "a", alternates=()))
    app = world.server.app
    health = await Health(app[DB]).load()
    await probe_all(health, 2.0, SourcePolicy(["127.0.0.0/8"]))   # unsigned: P refuses it
    assert health.down == {world.servers["P"]}
    await probe_all(health, 2.0, SourcePolicy(["127.0.0.0/8"]), app[SIGNER])
    assert health.down == set()


async def test_a_change_made_through_another_replica_counts_within_the_refresh(world):
    app, now = world.server.app, [100.0]
    signer = UrlSigner(app[DB], TTL, monotonic=lambda: now[0])
    url = world.servers["M"] + "/music/a.wav"
    assert await signer.sign_urls([url]) == [url]
    await app[DB].signing.require(1, world.servers["M"], M_SECRET)   # as another replica would
    now[0] += REFRESH - 0.5
    assert await signer.sign_urls([url]) == [url]
    now[0] += 0.5
    (signed,) = await signer.sign_urls([url])
    assert signed.startswith(url + "?md5=") and (await fetch(signed))[0] == 200
