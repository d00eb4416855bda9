"""The meta server on PostgreSQL while its database server stops and starts again: requests in
between get 503 with a clear error (devices back off on a 5xx), none a 500 or a traceback, and
once PostgreSQL is back the same server process answers as before, nothing lost."""
import logging

import pytest

from host_server.model import catalog
from host_server.app import init_app
from host_server.db import Database
from hostutil import SECRET, bearer, login, media_doc
from simulator.pgcluster import Cluster

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def own_cluster():
    """A cluster of this test's own: it is stopped and started, which the shared one must not be."""
    cluster = Cluster().start()
    yield cluster
    cluster.stop()


async def test_a_database_restart_gives_503_meanwhile_and_nothing_is_lost(
        aiohttp_client, own_cluster, caplog):
    url = own_cluster.create_database("meta")
    db = await Database(url).connect()
    ids = [await db.catalog.add_media(catalog.validate_media(media_doc(n))) for n in (1, 2)]
    await db.catalog.add_program("P", ids)
    await db.devices.add("dev1", "", SECRET)
    await db.devices.assign("dev1", "P", default=True)
    await db.close()
    client = await aiohttp_client(init_app(probe_interval=0, db=url))
    auth = bearer(await login(client))
    item = await (await client.get("/api/v1/next", headers=auth)).json()
    assert item["pos"] == 0

    own_cluster.stop_server()
    caplog.set_level(logging.WARNING)
    for _ in range(3):   # connections cut, then refused
        resp = await client.get("/api/v1/next", headers=auth)
        assert resp.status == 503, await resp.text()
        assert "database unavailable" in (await resp.json())["error"]
        assert resp.headers["Retry-After"] == "5"
    assert "Traceback" not in caplog.text and "internal error" not in caplog.text

    own_cluster.start_server()
    rep = {"id": item["id"], "pos": 0, "status": "played", "src": item["src"][0], "bytes": 1,
           "ms": 1, "errors": []}
    for _ in range(20):   # the pool replaces the connections it lost
        resp = await client.post("/api/v1/report", json=rep, headers=auth)
        if resp.status != 503:
            break
    assert resp.status == 200, await resp.text()
    assert (await (await client.get("/api/v1/next", headers=auth)).json())["pos"] == 1
