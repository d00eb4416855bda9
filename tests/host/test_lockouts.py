"""Limits a stranger cannot turn against a device, and a device the operator can stop: guesses
from one address never lock a device out at another; a guesser behind a home router does not
lock out the devices that log in from there; a disabled device is refused on every
replica within the hot path's TRUST (0.8 s); a rotated secret ends the old one."""

import time

import pytest

from host_server.app import init_app
from host_server.db import Database
from host_server.services.auth import proof
from hostutil import SECRET, bearer, refused_soon, run_cli

STRANGER, HOME, ELSEWHERE = "203.0.113.66", "198.51.100.7", "192.0.2.44"


@pytest.fixture
async def behind(aiohttp_client, db_path, clock, seeded):
    """An app behind a trusted balancer: X-Forwarded-For says where a request comes from."""
    return await aiohttp_client(init_app(probe_interval=0, db=db_path, clock=clock,
                                         trusted_proxies=("127.0.0.1",)))


async def attempt(client, device, address, secret=SECRET, good=True):
    where = {"X-Forwarded-For": address}
    resp = await client.post("/api/v1/login/challenge", json={"device": device}, headers=where)
    nonce = (await resp.json())["nonce"]
    answer = proof(secret, device, nonce) if good else "00" * 32
    return await client.post("/api/v1/login", headers=where,
                             json={"device": device, "nonce": nonce, "proof": answer})


async def test_a_strangers_guesses_never_lock_the_device_out_where_it_is(behind):
    for _ in range(12):
        assert (await attempt(behind, "dev1", STRANGER, good=False)).status in (401, 429)
    assert (await attempt(behind, "dev1", STRANGER)).status == 429   # the guesser is stopped
    resp = await attempt(behind, "dev1", HOME)                       # the device is not
    assert resp.status == 200, await resp.text()


async def test_a_guesser_behind_a_router_spares_the_devices_known_there(aiohttp_client, db_path,
                                                                         clock, seeded):
    client = await aiohttp_client(init_app(probe_interval=0, db=db_path, clock=clock,
                                           trusted_proxies=("127.0.0.1",), max_address_failures=8))
    assert (await attempt(client, "dev1", HOME)).status == 200      # dev1 lives there
    for i in range(8):
        assert (await attempt(client, f"guess{i}", HOME, good=False)).status == 401
    resp = await attempt(client, "dev2", HOME)     # never logged in from there: limited
    assert resp.status == 429 and "address" in (await resp.json())["error"]
    assert (await attempt(client, "dev1", HOME)).status == 200      # known there: not
    assert (await attempt(client, "dev2", ELSEWHERE)).status == 200


async def test_a_disabled_device_is_refused_at_once_on_every_replica(aiohttp_client, db_path,
                                                                      clock, seeded):
    replicas = [await aiohttp_client(init_app(probe_interval=0, db=db_path, clock=clock))
                for _ in range(2)]
    resp = await attempt(replicas[0], "dev1", "")
    token = (await resp.json())["token"]
    for r in replicas:
        assert (await r.get("/api/v1/next", headers=bearer(token))).status == 200
    db = await Database(db_path, clock=clock).connect()   # the operator's CLI, a third process
    try:
        await db.devices.disable("dev1")
        since = time.monotonic()
        for r in replicas:
            await refused_soon(lambda: r.get("/api/v1/next", headers=bearer(token)), since)
            assert (await r.post("/api/v1/media/1/key", headers=bearer(token),
                                 json={"nonce": "0" * 32, "proof": "0" * 64})).status == 401
            resp = await attempt(r, "dev1", "")
            assert resp.status == 403 and "disabled" in (await resp.json())["error"]
        await db.devices.enable("dev1")
        assert (await attempt(replicas[1], "dev1", "")).status == 200
    finally:
        await db.close()


async def test_rotating_a_secret_ends_the_old_one_and_its_tokens(client, db_path, clock):
    token = (await (await attempt(client, "dev1", "")).json())["token"]
    new = "ab" * 16
    db = await Database(db_path, clock=clock).connect()
    try:
        await db.devices.rotate_secret("dev1", new)
    finally:
        await db.close()
    assert (await client.get("/api/v1/next", headers=bearer(token))).status == 401
    assert (await attempt(client, "dev1", "")).status == 401
    assert (await attempt(client, "dev1", "", secret=new)).status == 200


def test_the_operator_disables_enables_rotates_and_removes_devices_from_the_cli(db_path):
    run_cli("add-device", "dev9", db=db_path, check=0)
    assert "disabled" in run_cli("disable-device", "dev9", db=db_path, check=0).stdout
    run_cli("enable-device", "dev9", db=db_path, check=0)
    out = run_cli("rotate-secret", "dev9", db=db_path, check=0).stdout
    assert "new secret (shown once)" in out
    run_cli("remove-device", "dev9", db=db_path, check=0)
    assert "no device 'dev9'" in run_cli("disable-device", "dev9", db=db_path, check=1).stderr
    assert "no device 'dev9'" in run_cli("remove-device", "dev9", db=db_path, check=1).stderr
