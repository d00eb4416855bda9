"""The CircuitPython path (firmware/code.py + cpytransport over adafruit_requests, the libraries
as a board gets them, from .venv/cplib) on CPython against the real servers: the meta server and
file servers of the simulator, with a 404, a server down and one dying mid-file."""
import asyncio
import os

import hwpaths
import pytest
from simulator.devices import DeviceProcess
from simulator.network import Network
from tools.filehash import file_sha256

CPLIB = os.path.join(hwpaths.ROOT, ".venv", "cplib")
CODE = os.path.join(hwpaths.FIRMWARE, "code.py")


async def test_circuitpython_path_plays_the_demo_with_failover_over_adafruit_requests(
        tmp_path, monkeypatch):
    if not os.path.exists(os.path.join(CPLIB, "adafruit_requests.py")):
        pytest.fail("no %s: run `make test` (it installs tests/hw/cplib.txt)" % CPLIB)
    monkeypatch.setenv("PYTHONPATH", CPLIB)
    net = Network(str(tmp_path / "net"))
    await net.start()
    try:
        dev = DeviceProcess(net.workdir, "dev1", net.devices["dev1"], net.meta.url,
                            interpreter="cpython", items=len(net.media), read_timeout=1.0,
                            connect_timeout=1.0, entry=CODE)
        await dev.start()
        events = [ev async for ev in dev.events()]
        rc = await asyncio.wait_for(dev.wait(), 60)
    finally:
        await net.stop()
    items = [v for t, v in events if t == "ITEM"]
    fails = [v for t, v in events if t == "FAIL"]
    assert rc == 0, events
    assert len(items) == len(net.media) and all(i["verified"] == 1 for i in items), items
    whys = {f["why"].split(" ")[0] for f in fails}
    assert {"404", "refused"} <= whys and any(i["resumed"] for i in items), fails
    for mid, facts in net.expected().items():
        assert file_sha256(os.path.join(dev.out_dir, str(mid))) == facts["sha256"], facts["name"]
