"""A device entitled to several programs plays the one it selects, like a channel."""
import json

import pytest

from simulator.procs import run_cli
from tests.e2e.conftest import INTERPRETERS, play

pytestmark = pytest.mark.timeout(120)


@pytest.mark.parametrize("interpreter", INTERPRETERS)
async def test_a_device_plays_the_program_it_selected_and_its_position_there(network_factory, interpreter):
    net = await network_factory(faults=())
    night = [net.media_ids[n] for n in ("after.wav", "down.wav")]
    out = await run_cli(["--db", net.db, "add-program", "Night", "--items", ",".join(map(str, night))])
    await run_cli(["--db", net.db, "assign", "dev1", "Night"])
    programs = json.loads(await run_cli(["--db", net.db, "list", "programs", "--json"]))
    night_id = next(p["id"] for p in programs if p["name"] == "Night")
    assert "Night" in out

    played = await play(net, interpreter, items=3, program=night_id)
    assert played.rc == 0, played.console()
    assert played.of("PROGRAM") == [{"program": night_id}]
    # Night's two items, then it wraps to the first again.
    assert [ev["id"] for ev in played.items] == night + night[:1]
    assert all(ev["verified"] for ev in played.items)
    reports = await net.reports(device="dev1")
    assert sorted(r["media"] for r in reports) == sorted(night + night[:1])

    # Back on the default program, its position there is untouched: it starts at its first item.
    again = await play(net, interpreter, items=1, program=1)
    assert [ev["id"] for ev in again.items] == [net.media_ids["morning.wav"]]
