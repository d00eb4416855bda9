"""A device killed in the middle of an item gets the same item back and completes it."""
import asyncio
import os

import pytest

from simulator.devices import DeviceProcess
from simulator.faults import Fault
from tests.e2e.conftest import INTERPRETERS, firmware_entry, play, sha256_of

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
    assert sha256_of("%s/%d" % (again.dev.out_dir, item["id"])) == first["sha256"]
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
