"""Health-aware sources end to end: with a primary stopped, a device's very first request for its
files already goes to the alternate, once the meta server's probe has seen the primary down."""
import asyncio
import json
import os

import pytest

from simulator.procs import ServerProcess, run_cli
from tests.e2e.conftest import INTERPRETERS, assert_delivered, play

pytestmark = pytest.mark.timeout(180)

PROBE_INTERVAL = "0.2"
A_FILES = ("morning.wav", "breaking.wav", "after.wav")


async def restart_meta_with_health(net):
    """The network's meta server again, as the simulator starts it, with the probe on."""
    args = list(net.meta.args)
    assert "serve" in args
    await net.stop_meta()
    net.meta = ServerProcess("meta-health", args + ["--probe-interval", PROBE_INTERVAL],
                             net.log_path("meta-health"))
    await net.meta.start()


async def servers(net):
    rows = json.loads(await run_cli(["--db", net.db, "list", "servers", "--json"]))
    return {r["address"]: r for r in rows}


async def wait_until_down(net, name, why=""):
    """The server's row once it is down and its latest probe's reason has `why` in it (a probe
    made while the server was shutting down may have seen its connection dropped instead)."""
    for _ in range(600):
        row = (await servers(net)).get(net.address[name])
        if row is not None and row["up"] is False and why in row["why"]:
            return row
        await asyncio.sleep(0.1)
    raise AssertionError("the meta server never marked %s down: %s" % (name, await servers(net)))


@pytest.mark.parametrize("interpreter", INTERPRETERS)
async def test_with_a_primary_stopped_the_first_request_goes_to_the_alternate(
        network_factory, interpreter):
    net = await network_factory(faults=())
    await restart_meta_with_health(net)
    address_a = net.address["A"]
    await net.stop_file_server("A")
    row = await wait_until_down(net, "A", "connection refused")
    assert row["since"] is not None

    played = await play(net, interpreter)
    assert played.rc == 0, played.console()
    assert len(played.items) == len(net.media)
    assert all(ev["status"] == "played" and ev["verified"] for ev in played.items)
    assert_delivered(net, played)
    # Not one request went to the stopped primary: no source failed, no failover.
    assert played.of("FAIL") == [], played.of("FAIL")
    for name in A_FILES:
        item = played.item(net, name)
        assert net.server_name(item["src"]) == "ABC" and item["failovers"] == 0, item
    for name in ("signal.wav", "down.wav"):
        assert net.server_name(played.item(net, name)["src"]) != "ABC"
    reports = await net.reports(device="dev1")
    assert all(r["errors"] == [] for r in reports)
    # The operator still sees A down, since the probe first found it so.
    row = (await servers(net))[address_a]
    assert row["up"] is False and "connection refused" in row["why"]
    with open(os.path.join(net.logs, "meta-health.log"), encoding="utf-8") as f:
        assert "file server %s is down" % address_a in f.read()
