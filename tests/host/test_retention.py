"""What a device may cost the server over time: its reports are rate-limited, and reports and key
requests are kept for the retention the operator sets, then pruned."""

from host_server.app import init_app, prune
from host_server.db import Database
from hostutil import bearer, login


def report(media, pos, n=0):
    return {"id": media, "pos": pos, "status": "failed", "bytes": n, "errors": []}


async def test_a_device_sending_reports_without_end_is_slowed(aiohttp_client, db_path, clock, seeded):
    client = await aiohttp_client(init_app(probe_interval=0, db=db_path, clock=clock,
                                           max_device_reports=3))
    h = bearer(await login(client))
    for n in range(3):
        resp = await client.post("/api/v1/report", headers=h, json=report(seeded["media"][0], 9, n))
        assert resp.status == 200
    again = await client.post("/api/v1/report", headers=h, json=report(seeded["media"][0], 9, 2))
    assert again.status == 200   # a retry of the last one is not another report
    resp = await client.post("/api/v1/report", headers=h, json=report(seeded["media"][0], 9, 7))
    assert resp.status == 429 and 1 <= int(resp.headers["Retry-After"]) <= 60
    clock.advance(61)
    resp = await client.post("/api/v1/report", headers=h, json=report(seeded["media"][0], 9, 7))
    assert resp.status == 200


async def test_reports_and_key_requests_past_their_retention_are_pruned(db_path, clock, seeded):
    db = await Database(db_path, clock=clock).connect()
    try:
        await db.devices.add_report("dev1", {**report(seeded["media"][0], 0), "src": None, "ms": 0})
        await db.secure.log_key_request("dev1", 1, "127.0.0.1", 403, "not entitled")
        clock.advance(10 * 86400)
        await db.devices.add_report("dev1", {**report(seeded["media"][1], 1), "src": None, "ms": 0})
        assert await prune(db, retention_days=30) == (0, 0)
        clock.advance(25 * 86400)   # the first ones are 35 days old, the last 25
        assert await prune(db, retention_days=30) == (1, 1)
        assert [r["media"] for r in await db.devices.reports()] == [seeded["media"][1]]
        assert await db.secure.key_requests() == []
    finally:
        await db.close()
