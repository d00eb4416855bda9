"""Two meta server replicas on one PostgreSQL database behind nginx (host_server/nginx/
replicas.conf), devices under micropython playing through it; one replica is SIGKILLed while
they play. They keep playing, and no position or report is lost or counted twice, though one
device's requests land on both replicas."""
import asyncio
import re

import pytest

from tests.e2e.conftest import play
from tests.host.hostutil import integrity_problems, sql

pytestmark = pytest.mark.timeout(240)

DEVICES = 3
ROUNDS = 1.5      # each device plays the 10-item demo program one and a half times
KILL_AFTER = 6    # items played (all devices together) before replica 1 is killed


def next_requests(log_path):
    with open(log_path, errors="replace") as f:
        return len(re.findall(r'"GET /api/v1/next(?:\?pos=\d+)? HTTP', f.read()))


async def test_devices_keep_playing_when_a_replica_dies_and_nothing_is_counted_twice(
        network_factory, pg_cluster):
    url = pg_cluster.create_database("replicas", template="meta_template")
    net = await network_factory(faults=(), devices=DEVICES, db=url, replicas=2)
    n = len(net.media)
    items = int(n * ROUNDS)
    played = {"count": 0}
    served_before_kill = {}

    async def on_event(dev, tag, ev):
        if tag != "ITEM":
            return
        played["count"] += 1
        if played["count"] == KILL_AFTER:
            for r in net.replicas:
                served_before_kill[r.name] = next_requests(r.log_path)
            net.replicas[0].proc.kill()

    runs = await asyncio.gather(*[
        play(net, "micropython", device="dev%d" % (i + 1), items=items, read_timeout=2.0,
             on_event=on_event) for i in range(DEVICES)])

    assert net.replicas[0].proc.returncode is not None, "replica 1 was never killed"
    # before the kill, both replicas were serving; after it, the survivor served the rest
    assert all(count > 0 for count in served_before_kill.values()), served_before_kill
    assert next_requests(net.replicas[1].log_path) > served_before_kill["meta2"]
    upstreams = set(re.findall(r"upstream=(\S+)", net.balancer.requests()))
    assert {"%s:%d" % r.hostport for r in net.replicas} <= {u.rstrip(",") for u in upstreams}

    for run in runs:
        device = run.dev.id
        assert run.rc == 0, run.console()[-3000:]
        # every item in program order, none skipped or repeated: positions advanced exactly
        # once per item, whichever replica took the report
        assert [ev["pos"] for ev in run.items] == [i % n for i in range(items)], device
        assert all(ev["status"] == "played" and ev["verified"] for ev in run.items), device
        reports = await net.reports(device=device)
        advanced = [r for r in reports if r["advanced"]]
        assert len(advanced) == items, (device, len(advanced), items)
        assert len(reports) == items, "a report was stored twice"
        [(pos,)] = sql(net.db, "SELECT pos FROM entitlements WHERE device = ?", (device,))
        assert pos == items % n
    assert await integrity_problems(net.db) == []

