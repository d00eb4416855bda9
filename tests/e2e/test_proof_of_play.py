"""Proof of play end to end: a real device plays the demo program through a failover, and the
operator's usage statement says what its reports said, before and after they are pruned."""
import json

import pytest

from host_server.db import Database
from simulator.procs import run_cli
from tests.e2e.conftest import play

pytestmark = pytest.mark.timeout(180)


async def test_the_usage_statement_counts_a_real_devices_plays_and_failover(network_factory):
    net = await network_factory(faults=("404",))
    played = await play(net, "cpython")
    assert played.rc == 0, played.console()
    reports = await net.reports(device="dev1")
    statement = json.loads(await run_cli(["--db", net.db, "usage", "--json"]))
    totals = statement["totals"]
    assert totals["plays"] == len(net.media) == len(reports) and totals["failed"] == 0
    assert totals["bytes"] == sum(r["bytes"] for r in reports)
    assert totals["devices"] == 1
    missing = [r for r in statement["rows"] if r["media"] == net.media_ids["missing.wav"]]
    by_server = {net.server_name(r["server"] + "/"): r for r in missing}
    assert (by_server["B"]["source_errors"], by_server["B"]["failovers_away"],
            by_server["B"]["plays"]) == (1, 1, 0)
    assert (by_server["ABC"]["plays"], by_server["ABC"]["failovers_onto"]) == (1, 1)

    db = await Database(net.db).connect()   # every report past its retention: rolled up
    try:
        assert await db.devices.prune_reports(db.clock() + 1) == len(reports)
    finally:
        await db.close()
    assert json.loads(await run_cli(["--db", net.db, "usage", "--json"])) == statement
