"""Restarts: a device killed in the middle of an item gets the same item back and completes it;
a file server restarting mid-stream and the meta server restarting (the device's token refused
after it) do not stop a device playing."""
import asyncio
import json
import os

import pytest

from simulator.devices import DeviceProcess
from simulator.faults import Fault
from simulator.network import PRIMARY_OF
from simulator.procs import run_cli
from tests.e2e.conftest import INTERPRETERS, firmware_entry, play
from tools.filehash import file_sha256

pytestmark = pytest.mark.timeout(120)


@pytest.mark.parametrize("interpreter", INTERPRETERS)
async def test_device_killed_mid_item_gets_the_same_item_and_completes_it(network_factory, interpreter):
    net = await network_factory(faults=())
    first = next(m for m in net.media if m["name"] == "morning.wav")
    stall_at = first["size"] * 2 // 5
    stall = Fault("stall", "/music/a/morning.wav", at=stall_at)
    net.proxies["A"].faults.append(stall)

    dev = DeviceProcess(net.workdir, "dev1", net.devices["dev1"], net.meta.url,
                        interpreter=interpreter, items=1, read_timeout=60, connect_timeout=1.0,
                        entry=firmware_entry(interpreter, os.path.dirname(net.workdir)))
    await dev.start()
    drained = asyncio.ensure_future(_drain(dev))
    for _ in range(400):
        if stall.fired:
            break
        await asyncio.sleep(0.05)
    assert stall.fired, "the device never reached the middle of its first item"
    await asyncio.sleep(0.5)
    dev.kill()  # power cut in the middle of the item
    await drained
    await dev.wait()
    assert await net.reports(device="dev1") == []  # nothing was reported for it

    net.proxies["A"].faults.clear()
    again = await play(net, interpreter, items=1, read_timeout=5)
    assert again.rc == 0, again.console()
    (item,) = again.items
    assert item["id"] == net.media_ids["morning.wav"] and item["pos"] == 0
    assert item["status"] == "played" and item["verified"]
    assert file_sha256("%s/%d" % (again.dev.out_dir, item["id"])) == first["sha256"]
    # It picked up from what it had kept instead of starting over.
    ranges = [r["range"] for r in net.proxies["A"].requests]
    assert ranges[0] is None and len(ranges) == 2, ranges
    resumed_at = int(ranges[1].split("=")[1].rstrip("-"))
    assert 0 < resumed_at <= stall_at
    reports = await net.reports(device="dev1")
    assert [(r["media"], r["pos"], r["status"]) for r in reports] == [
        (net.media_ids["morning.wav"], 0, "played")]


async def _drain(dev):
    async for _ in dev.events():
        pass


async def test_a_device_plays_on_through_a_file_server_restart_mid_stream_and_a_meta_server_restart(
        network_factory):
    # health probing on (every 0.2 s), as a real meta server has it
    net = await network_factory(faults=(), probe_interval=0.2)
    a_items = {net.media_ids[m["name"]] for m in net.media if PRIMARY_OF[m["name"]] == "A"}
    first = next(m for m in net.media if m["name"] == "morning.wav")
    hold = Fault("stall", "/music/a/morning.wav", at=first["size"] * 2 // 5)
    net.proxies["A"].faults.append(hold)

    device = asyncio.ensure_future(play(net, "micropython", items=1, read_timeout=30))
    for _ in range(400):
        if hold.fired:
            break
        await asyncio.sleep(0.05)
    assert hold.fired, "the device never reached the middle of its first item"
    # file server A restarts while the device is in the middle of one of its files
    net.servers["A"].proc.kill()
    await net.servers["A"].stop()
    await net.start_file_server("A")
    net.proxies["A"].release()   # the connection to the dead process ends
    first_run = await device
    assert first_run.rc == 0, first_run.console()
    (item,) = first_run.items
    assert item["verified"] and item["resumed"] and net.server_name(item["src"]) == "ABC"

    # the probe sees A up again, so A's later items come from A
    for _ in range(100):
        servers = json.loads(await run_cli(["--db", net.db, "list", "servers", "--json"]))
        if any(s["address"] == net.address["A"] and s["up"] for s in servers):
            break
        await asyncio.sleep(0.1)
    else:
        raise AssertionError("the probe never saw A up again: %s" % servers)

    # the meta server restarts while the device plays, and its token is refused afterwards
    port = int(net.meta.url.rsplit(":", 1)[1])

    async def restart_meta(dev, tag, ev):
        if tag == "ITEM" and ev["pos"] == 2:
            await net.stop_meta()
            await run_cli(["--db", net.db, "revoke-device", "dev1"])
            await net.start_meta(port=port)
    second = await play(net, "micropython", items=len(net.media) - 1, read_timeout=5,
                        on_event=restart_meta)
    assert second.rc == 0, second.console()
    assert [ev["pos"] for ev in second.items] == list(range(1, len(net.media)))
    assert all(ev["status"] == "played" and ev["verified"] for ev in second.items)
    # it started with the token it had saved, and logged in again only once that was refused
    tags = [(t, ev.get("pos")) for t, ev in second.events if t in ("ITEM", "LOGIN")]
    assert tags.count(("LOGIN", None)) == 1
    assert tags.index(("LOGIN", None)) > tags.index(("ITEM", 2)), tags
    for ev in second.items:
        if ev["id"] in a_items:
            assert net.server_name(ev["src"]) == "A", ev
