"""The meta server fetches what owners name: only from public addresses (unless the operator
allows a network), at every redirect hop, telling the owner the kind of failure and never what
answered; and one registration costs bounded work (size, deadline, duplicates, checks in flight
per owner and in all, registrations per hour, records per owner)."""

import asyncio
import hashlib

import pytest
from aiohttp import web

from host_server.app import init_app
from host_server.db import Database
from host_server.outbound.policy import SourcePolicy
from host_server.services import owners
from hostutil import bearer

BODY = b"x" * 4096
SHA = hashlib.sha256(BODY).hexdigest()


@pytest.mark.parametrize("address", [
    "127.0.0.1", "127.9.9.9", "::1", "::ffff:127.0.0.1", "::ffff:7f00:1", "::127.0.0.1",
    "10.1.2.3", "172.16.0.1", "192.168.1.1", "169.254.169.254", "fe80::1", "fe80::1%eth0",
    "fc00::1", "fd12:3456::1", "224.0.0.1", "239.255.255.250", "ff02::1", "0.0.0.0", "::",
    "100.64.0.1", "240.0.0.1", "255.255.255.255", "2002:7f00:1::", "2002:a00:1::",
    "64:ff9b::7f00:1", "64:ff9b::a00:1", "2001:db8::1", "192.0.2.1"])
def test_internal_addresses_are_refused_in_every_form(address):
    why = SourcePolicy().refusal(address)
    assert why and "not allowed" in why, address


@pytest.mark.parametrize("address", ["8.8.8.8", "1.1.1.1", "2606:4700::1111", "2a00:1450::1"])
def test_public_addresses_are_allowed(address):
    assert SourcePolicy().refusal(address) is None


def test_an_allowed_network_lets_its_addresses_in_mapped_forms_too():
    policy = SourcePolicy(["127.0.0.0/8", "fd00::/8"])
    assert policy.refusal("127.0.0.1") is None and policy.refusal("::ffff:127.0.0.1") is None
    assert policy.refusal("fd00::5") is None
    assert policy.refusal("10.0.0.1") and policy.refusal("::1")
    with pytest.raises(ValueError, match="allow-source-net"):
        SourcePolicy(["not a network"])


@pytest.fixture
async def internal(aiohttp_server):
    """A service only the meta server's own machine should reach: it counts who reached it."""
    hits = []

    async def secret(request):
        hits.append(request.path)
        return web.Response(body=BODY)
    app = web.Application()
    app.router.add_get("/{p:.*}", secret)
    srv = await aiohttp_server(app, host="127.0.0.1")
    srv.hits = hits
    return srv


@pytest.fixture
async def owner_client(aiohttp_client, db_path):
    async def make(**settings):
        db = await Database(db_path).connect()
        try:
            _, token = await owners.create_owner(db, f"Owner {len(made)}")
        finally:
            await db.close()
        client = await aiohttp_client(init_app(probe_interval=0, db=db_path, source_timeout=2.0,
                                               **settings))
        client.auth = bearer(token)
        made.append(client)
        return client
    made = []
    return make


def record(address, directory="/m", name="a.wav", alternates=(), size=len(BODY), sha=SHA):
    return {"size": size, "sha256": sha, "type": "audio/wav", "primary_address": address,
            "primary_directory": directory, "file_name": name,
            "alternates": [{"address": a, "directory": d} for a, d in alternates]}


async def register(client, rec):
    resp = await client.post("/api/v1/owner/media", json=rec, headers=client.auth)
    return resp.status, await resp.json()


async def test_an_owner_cannot_point_the_meta_server_at_loopback_in_any_spelling(owner_client, internal):
    client = await owner_client()          # the default policy: public addresses only
    port = internal.port
    for address in (f"http://127.0.0.1:{port}", f"http://localhost:{port}", f"http://[::1]:{port}",
                    f"http://[::ffff:127.0.0.1]:{port}", f"http://127.1:{port}",
                    f"http://2130706433:{port}"):
        status, body = await register(client, record(address))
        assert status in (400, 422), (address, body)
        assert not body.get("id"), address
        if status == 422:   # what it was, never what answered
            why = body["sources"][0]["why"]
            assert "refused" in why or "invalid" in why.lower() or "not found" in why, (address, why)
            assert str(len(BODY)) not in body["error"] + why
    assert internal.hits == []


async def test_a_redirect_to_an_internal_address_is_refused_at_that_hop(owner_client, internal,
                                                                        aiohttp_server):
    async def bounce(request):
        raise web.HTTPFound(f"http://127.0.0.1:{internal.port}/secret")
    app = web.Application()
    app.router.add_get("/{p:.*}", bounce)
    outside = await aiohttp_server(app, host="127.0.0.2")   # the one network the operator allows
    client = await owner_client(allow_source_nets=("127.0.0.2/32",))
    status, body = await register(client, record(f"http://127.0.0.2:{outside.port}"))
    assert status == 422
    assert body["sources"][0]["why"].startswith("cannot connect: refused: loopback address")
    assert internal.hits == []


@pytest.fixture
async def endless(aiohttp_server):
    """/forever streams without end; /trickle sends a byte every 50 ms; both count what they sent."""
    sent = {"forever": 0, "trickle": 0}

    async def stream(request):
        kind = request.match_info["kind"]
        resp = web.StreamResponse()
        await resp.prepare(request)
        try:
            while True:
                chunk = b"x" * (65536 if kind == "forever" else 1)
                await resp.write(chunk)
                sent[kind] += len(chunk)
                if kind == "trickle":
                    await asyncio.sleep(0.05)
        except (ConnectionError, asyncio.CancelledError):
            pass
        return resp
    app = web.Application()
    app.router.add_get("/{kind}/a.wav", stream)
    srv = await aiohttp_server(app, host="127.0.0.1")
    srv.sent = sent
    return srv


async def test_an_endless_or_trickling_source_ends_within_its_deadline(owner_client, endless):
    client = await owner_client(allow_source_nets=("127.0.0.0/8",), source_deadline=1.0)
    address = f"http://127.0.0.1:{endless.port}"
    status, body = await register(client, record(address, "/forever", size=1_000_000))
    assert status == 422 and body["sources"][0]["why"] == "more bytes than the claimed size"
    status, body = await register(client, record(address, "/trickle", size=1_000_000))
    # a byte every 50 ms never trips the read timeout (2 s): only the deadline ends it
    assert status == 422 and body["sources"][0]["why"] == "timeout"
    assert endless.sent["trickle"] < 1_000_000


async def test_one_registration_cannot_claim_without_bound_or_name_a_source_twice(owner_client):
    client = await owner_client(allow_source_nets=("127.0.0.0/8",), max_source_size=10_000)
    status, body = await register(client, record("http://127.0.0.1:9", size=10_001))
    assert status == 400 and "10000" in body["error"]
    twice = record("http://127.0.0.1:9", alternates=[("http://127.0.0.1:9", "/m")] * 2)
    status, body = await register(client, twice)
    assert status == 400 and "same source twice" in body["error"]


async def test_checks_in_flight_are_limited_per_owner(owner_client, endless):
    client = await owner_client(allow_source_nets=("127.0.0.0/8",), max_owner_checks=1,
                                source_deadline=3.0)
    slow = record(f"http://127.0.0.1:{endless.port}", "/trickle", size=1_000_000)
    first = asyncio.ensure_future(register(client, slow))
    while endless.sent["trickle"] == 0:    # the first check is under way
        await asyncio.sleep(0.01)
    status, body = await register(client, slow)
    assert status == 429 and "being checked already" in body["error"]
    assert (await first)[0] == 422


async def test_registrations_per_hour_and_records_per_owner_are_limited(owner_client, internal):
    client = await owner_client(allow_source_nets=("127.0.0.0/8",), max_owner_registrations=2,
                                max_owner_media=1)
    address = f"http://127.0.0.1:{internal.port}"
    assert (await register(client, record(address, "/one")))[0] == 201
    status, body = await register(client, record(address, "/two"))
    assert status == 403 and "the most an owner may" in body["error"]   # one record at most
    other = await owner_client(allow_source_nets=("127.0.0.0/8",), max_owner_registrations=2)
    for n in range(2):
        assert (await register(other, record(address, f"/x{n}", sha="00" * 32)))[0] == 422
    resp = await other.post("/api/v1/owner/media", json=record(address, "/x9"), headers=other.auth)
    assert resp.status == 429 and int(resp.headers["Retry-After"]) > 3500


async def test_a_check_stops_when_the_owner_hangs_up(tmp_path, aiohttp_server):
    """The real `serve` cancels a request whose client has gone: the meta server stops fetching
    a stranger's trickling source then, not at its deadline (120 s by default)."""
    import re
    import subprocess
    import sys

    import aiohttp

    from hostutil import REPO, Server

    closed = asyncio.Event()

    async def trickle(request):
        resp = web.StreamResponse()
        await resp.prepare(request)
        try:
            while True:
                await resp.write(b"x")
                await asyncio.sleep(0.05)
        except (ConnectionError, asyncio.CancelledError):
            closed.set()
            raise
    app = web.Application()
    app.router.add_get("/{p:.*}", trickle)
    source = await aiohttp_server(app, host="127.0.0.1")
    db = str(tmp_path / "meta.db")
    out = subprocess.run([sys.executable, "-m", "host_server", "--db", db, "add-owner", "Hangs Up"],
                         cwd=REPO, capture_output=True, text=True, check=True).stdout
    token = re.search(r"(own_\S+)$", out.strip()).group(1)
    meta = await asyncio.to_thread(Server, "host_server", "--db", db, "serve", "--port", "0",
                                   "--allow-source-net", "127.0.0.0/8", "--no-access-log")
    try:
        async with aiohttp.ClientSession() as session:
            with pytest.raises(asyncio.TimeoutError):
                await session.post(f"http://127.0.0.1:{meta.port}/api/v1/owner/media",
                                   json=record(f"http://127.0.0.1:{source.port}", size=10 ** 9),
                                   headers=bearer(token), timeout=aiohttp.ClientTimeout(total=1))
        await asyncio.wait_for(closed.wait(), 30)   # far less than the source deadline
    finally:
        await asyncio.to_thread(meta.stop)
