"""End-to-end helpers: the real network (servers as processes) and real device processes."""
import os

import pytest

from simulator.devices import FIRMWARE_ENTRY, HEAP, DeviceProcess, compile_firmware
from simulator.network import Network
from tools.filehash import file_sha256

INTERPRETERS = ["micropython", "cpython"]


class Played:
    """What one device run did: exit code, its events, and the device."""

    def __init__(self, rc, events, dev):
        self.rc = rc
        self.events = events
        self.dev = dev

    def of(self, tag):
        return [ev for t, ev in self.events if t == tag]

    @property
    def items(self):
        return self.of("ITEM")

    def item(self, net, name):
        mid = net.media_ids[name]
        found = [ev for ev in self.items if ev["id"] == mid]
        assert found, "no ITEM for %s in %s" % (name, self.items)
        return found[-1]

    def fails(self, net, name):
        mid = net.media_ids[name]
        return [ev for ev in self.of("FAIL") if ev["id"] == mid]

    def console(self):
        with open(self.dev.log_path, encoding="utf-8", errors="replace") as f:
            return f.read()


_compiled = {}


def firmware_entry(interpreter, tmp_root):
    """micropython runs the firmware compiled to .mpy, as on a board (simulator.devices.HEAP); CPython from
    source. Compiled once per test process."""
    if interpreter != "micropython":
        return FIRMWARE_ENTRY
    if "entry" not in _compiled:
        _compiled["entry"] = compile_firmware(os.path.join(tmp_root, "firmware-mpy-%d" % os.getpid()))
    return _compiled["entry"]


async def play(net, interpreter, device="dev1", items=None, heap=HEAP, read_timeout=1.0,
               sink="file", on_event=None, **config):
    config.setdefault("entry", firmware_entry(interpreter, os.path.dirname(net.workdir)))
    dev = DeviceProcess(net.workdir, device, net.devices[device], net.meta.url,
                        interpreter=interpreter, heap=heap, sink=sink,
                        items=len(net.media) if items is None else items,
                        read_timeout=read_timeout, connect_timeout=1.0, **config)
    await dev.start()
    events = []
    async for tag, ev in dev.events():
        events.append((tag, ev))
        if on_event is not None:
            await on_event(dev, tag, ev)
    return Played(await dev.wait(), events, dev)


def assert_delivered(net, played):
    """Every file the device kept is byte-identical to the original."""
    for mid, facts in net.expected().items():
        path = os.path.join(played.dev.out_dir, str(mid))
        assert os.path.exists(path), "nothing kept for %s" % facts["name"]
        assert file_sha256(path) == facts["sha256"], "%s differs from the original" % facts["name"]


@pytest.fixture
async def network_factory(tmp_path):
    nets = []

    async def make(faults=(), devices=1, **kw):   # kw: Network's (db=, replicas=, token_ttl=)
        net = Network(str(tmp_path / ("net%d" % len(nets))), faults=faults, devices=devices, **kw)
        nets.append(net)
        await net.start()
        return net

    yield make
    for net in nets:
        await net.stop()
