"""The meta server killed with SIGKILL in the middle of writes (logins, reports, position
updates), again and again: after each restart nothing it acknowledged is lost, no position is
advanced twice or without its report, and the database passes its integrity check. On SQLite and
on PostgreSQL (whose own server is not killed: its durability is PostgreSQL's business)."""
import asyncio
import json
import random

import aiohttp
import pytest

from host_server.services.auth import proof
from simulator.procs import ServerProcess, run_cli
from tests.host.hostutil import integrity_problems, sql

pytestmark = pytest.mark.timeout(240)

DEVICES = ["crash%d" % i for i in range(6)]
SECRET = "0123456789abcdef0123456789abcdef"
N_ITEMS = 3


def catalog():
    media = [{"ref": "m%d" % i, "size": 1000 + i, "sha256": "%02x" % i * 32, "type": "audio/wav",
              "primary_address": "http://127.0.0.1:9", "primary_directory": "/m",
              "file_name": "m%d.wav" % i} for i in range(N_ITEMS)]
    return {"media": media, "programs": [{"name": "P", "items": [m["ref"] for m in media]}],
            "devices": [{"id": d, "secret": SECRET, "programs": ["P"], "default": "P"} for d in DEVICES]}


async def device(session, url, dev, acked, counter):
    """Log in, then next + report as fast as the server answers, until it dies."""
    api = url + "/api/v1"
    async with session.post(api + "/login/challenge", json={"device": dev}) as r:
        nonce = (await r.json())["nonce"]
    async with session.post(api + "/login", json={"device": dev, "nonce": nonce,
                                                  "proof": proof(SECRET, dev, nonce)}) as r:
        assert r.status == 200
        token = (await r.json())["token"]
    auth = {"Authorization": "Bearer " + token}
    while True:
        async with session.get(api + "/next", headers=auth) as r:
            item = await r.json()
        counter[0] += 1
        rep = {"id": item["id"], "pos": item["pos"], "status": "played", "src": None,
               "bytes": counter[0], "ms": 1, "errors": []}
        async with session.post(api + "/report", json=rep, headers=auth) as r:
            if r.status == 200:
                await r.json()
                acked.append((dev, rep["id"], rep["pos"], rep["bytes"]))


async def test_sigkill_in_the_middle_of_writes_loses_nothing_acknowledged(tmp_path, db_path):
    db = db_path
    path = tmp_path / "catalog.json"
    path.write_text(json.dumps(catalog()))
    await run_cli(["--db", db, "import", str(path)])
    acked, counter = [], [0]
    rng = random.Random(7)
    for round_ in range(6):
        # devices report as fast as they can here: beyond --max-device-reports' guard against
        # abuse, which would stop acknowledging after the first rounds
        srv = ServerProcess("meta", ["-m", "host_server", "--db", db, "serve", "--port", "0",
                                     "--no-access-log", "--max-device-reports", "1000000"],
                            str(tmp_path / "meta.log"))
        await srv.start()
        before = len(acked)
        async with aiohttp.ClientSession() as session:
            tasks = [asyncio.ensure_future(device(session, srv.url, d, acked, counter)) for d in DEVICES]
            for _ in range(200):   # let writes get going, then kill at a random moment
                if len(acked) - before >= 30:
                    break
                await asyncio.sleep(0.02)
            await asyncio.sleep(rng.uniform(0.0, 0.3))
            srv.proc.kill()
            await srv.proc.wait()
            await asyncio.gather(*tasks, return_exceptions=True)
        await srv.stop()
        assert len(acked) > before, "round %d: the server acknowledged nothing before the kill" % round_

    assert await integrity_problems(db) == []
    stored = set(sql(db, "SELECT device, media, pos, bytes FROM reports"))
    missing = [a for a in acked if a not in stored]
    assert not missing, "%d acknowledged reports lost, e.g. %s" % (len(missing), missing[:3])
    for dev in DEVICES:
        advanced = sql(db, "SELECT count(*) FROM reports WHERE device = ? AND advanced = 1", (dev,))[0][0]
        pos = sql(db, "SELECT pos FROM entitlements WHERE device = ?", (dev,))[0][0]
        assert pos == advanced % N_ITEMS, (dev, pos, advanced)
    assert len(acked) >= 6 * 30 * 0.5

