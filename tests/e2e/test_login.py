"""Logging in as a real device does it: backoff while the meta server is away, refusal of a bad secret."""
import asyncio
import os

import pytest

from simulator.devices import DeviceProcess
from tests.e2e.conftest import INTERPRETERS, firmware_entry, play

pytestmark = pytest.mark.timeout(120)


def device(net, interpreter, secret=None, items=1):
    return DeviceProcess(net.workdir, "dev1", secret or net.devices["dev1"], net.meta.url,
                         interpreter=interpreter, items=items, read_timeout=2.0,
                         entry=firmware_entry(interpreter, os.path.dirname(net.workdir)),
                         connect_timeout=1.0, backoff_base=0.2, backoff_cap=0.5)


@pytest.mark.parametrize("interpreter", INTERPRETERS)
async def test_a_device_booted_before_the_meta_server_backs_off_then_plays(network_factory, interpreter):
    net = await network_factory(faults=())
    port = net.meta.hostport[1]
    await net.stop_meta()
    dev = await device(net, interpreter).start()
    events = []
    restarted = False
    async for tag, ev in dev.events():
        events.append((tag, ev))
        if tag == "BACKOFF" and not restarted and sum(t == "BACKOFF" for t, _ in events) >= 3:
            await net.start_meta(port)  # the power comes back for the server too
            restarted = True
    assert await dev.wait() == 0
    backoffs = [ev for t, ev in events if t == "BACKOFF"]
    assert len(backoffs) >= 3 and all(0 <= b["s"] <= 0.5 for b in backoffs)
    assert all("refused" in b["why"] for b in backoffs[:3]), backoffs
    (item,) = [ev for t, ev in events if t == "ITEM"]
    assert item["status"] == "played" and item["verified"]
    assert [r["status"] for r in await net.reports(device="dev1")] == ["played"]


@pytest.mark.parametrize("interpreter", INTERPRETERS)
async def test_a_wrong_secret_is_refused_and_the_device_backs_off_until_rate_limited(
        network_factory, interpreter):
    net = await network_factory(faults=())
    dev = await device(net, interpreter, secret="0" * 32).start()
    whys = []
    async for tag, ev in dev.events():
        if tag == "BACKOFF":
            whys.append(ev["why"])
            if "429" in ev["why"]:
                break
        assert tag != "ITEM"
    dev.kill()
    async for _ in dev.events():
        pass
    await dev.wait()
    # Five refused proofs, then the server slows it down with 429.
    assert whys[:5] == ["401"] * 5 and whys[5] == "429", whys
    assert await net.reports(device="dev1") == []


@pytest.mark.parametrize("interpreter", INTERPRETERS)
async def test_an_expired_token_from_the_state_file_means_logging_in_again(network_factory, interpreter):
    net = await network_factory(faults=(), token_ttl=1)
    first = await play(net, interpreter, items=1)
    assert first.rc == 0 and len(first.of("LOGIN")) == 1, first.console()
    await asyncio.sleep(1.5)  # the token saved in the device's state file expires
    second = await play(net, interpreter, items=1)
    assert second.rc == 0, second.console()
    assert len(second.of("LOGIN")) == 1
    assert "I token refused, logging in again" in second.console()
    (item,) = second.items
    assert item["pos"] == 1 and item["verified"]
