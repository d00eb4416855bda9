"""Each fault class, end to end on real processes, under micropython (simulator.devices.HEAP) and CPython.

The device must deliver every demo item byte-identical, fail over the way the seed's Figure 2
says, resume at the byte reached, and the meta server must record which source served it.
"""
import pytest

from tests.e2e.conftest import INTERPRETERS, assert_delivered, play

pytestmark = pytest.mark.timeout(180)


def served_from(net, name, report_or_item):
    return net.server_name(report_or_item["src"]) if report_or_item.get("src") else None


def reports_by_media(reports):
    out = {}
    for r in reports:
        out.setdefault(r["media"], []).append(r)
    return out


async def check_all_played(net, played):
    assert played.rc == 0, played.console()
    assert len(played.items) == len(net.media), played.console()
    assert all(ev["status"] == "played" and ev["verified"] for ev in played.items), played.items
    assert_delivered(net, played)
    reports = await net.reports(device="dev1")
    assert len(reports) == len(net.media)
    assert {r["status"] for r in reports} == {"played"}
    return reports_by_media(reports)


@pytest.mark.parametrize("interpreter", INTERPRETERS)
async def test_without_faults_every_item_comes_from_its_primary(network_factory, interpreter):
    net = await network_factory(faults=())
    played = await play(net, interpreter)
    await check_all_played(net, played)
    assert played.of("FAIL") == []
    assert {served_from(net, n, played.item(net, n)) for n in ("morning.wav", "breaking.wav")} == {"A"}
    assert served_from(net, "down.wav", played.item(net, "down.wav")) == "C"
    assert net.proxies["ABC"].requests == []


@pytest.mark.parametrize("interpreter", INTERPRETERS)
async def test_not_found_on_the_primary_goes_to_the_alternate(network_factory, interpreter):
    net = await network_factory(faults=("404",))
    played = await play(net, interpreter)
    by_media = await check_all_played(net, played)
    item = played.item(net, "missing.wav")
    assert served_from(net, "missing.wav", item) == "ABC"
    assert item["failovers"] == 1 and not item["resumed"]
    assert [f["why"] for f in played.fails(net, "missing.wav")] == ["404"]
    rep = by_media[net.media_ids["missing.wav"]][0]
    assert net.server_name(rep["src"]) == "ABC"
    assert [net.server_name(u) for u, why in rep["errors"]] == ["B"]
    assert rep["errors"][0][1] == "404"
    # B's other file still came from B.
    assert served_from(net, "signal.wav", played.item(net, "signal.wav")) == "B"


@pytest.mark.parametrize("interpreter", INTERPRETERS)
async def test_refused_connection_goes_to_the_alternate(network_factory, interpreter):
    net = await network_factory(faults=("refused",))
    played = await play(net, interpreter)
    by_media = await check_all_played(net, played)
    assert served_from(net, "down.wav", played.item(net, "down.wav")) == "ABC"
    assert [f["why"] for f in played.fails(net, "down.wav")] == ["refused"]
    rep = by_media[net.media_ids["down.wav"]][0]
    assert rep["errors"][0][1] == "refused" and net.server_name(rep["errors"][0][0]) == "C"


@pytest.mark.parametrize("interpreter", INTERPRETERS)
async def test_primary_dying_mid_file_resumes_on_the_alternate_at_the_byte_reached(
        network_factory, interpreter):
    net = await network_factory(faults=("drop",))
    played = await play(net, interpreter)
    by_media = await check_all_played(net, played)
    item = played.item(net, "breaking.wav")
    assert served_from(net, "breaking.wav", item) == "ABC"
    assert item["resumed"] and item["failovers"] == 1
    (fail,) = played.fails(net, "breaking.wav")
    assert fail["at"] > 0 and fail["why"] == "dropped at %d" % fail["at"]
    # The alternate was asked only for the bytes the device did not have yet.
    asked = [r for r in net.proxies["ABC"].requests if r["path"].endswith("/breaking.wav")]
    assert [r["range"] for r in asked] == ["bytes=%d-" % fail["at"]]
    # A is dead now: the item after it is refused there and served by the alternate.
    assert [f["why"] for f in played.fails(net, "after.wav")] == ["refused"]
    rep = by_media[net.media_ids["breaking.wav"]][0]
    assert rep["errors"][0][1] == "dropped at %d" % fail["at"]


@pytest.mark.parametrize("interpreter", INTERPRETERS)
async def test_a_stalled_primary_times_out_and_resumes_on_the_alternate(network_factory, interpreter):
    net = await network_factory(faults=("stall",))
    played = await play(net, interpreter, read_timeout=0.5)
    await check_all_played(net, played)
    item = played.item(net, "signal.wav")
    assert served_from(net, "signal.wav", item) == "ABC" and item["resumed"]
    (fail,) = played.fails(net, "signal.wav")
    assert fail["why"] == "timeout" and fail["at"] > 0
    asked = [r for r in net.proxies["ABC"].requests if r["path"].endswith("/signal.wav")]
    assert [r["range"] for r in asked] == ["bytes=%d-" % fail["at"]]


@pytest.mark.parametrize("interpreter", INTERPRETERS)
async def test_a_corrupted_byte_fails_the_hash_and_the_alternate_serves_it_whole(
        network_factory, interpreter):
    net = await network_factory(faults=("corrupt",))
    played = await play(net, interpreter)
    await check_all_played(net, played)
    item = played.item(net, "morning.wav")
    assert served_from(net, "morning.wav", item) == "ABC"
    assert [f["why"] for f in played.fails(net, "morning.wav")] == ["sha256"]
    asked = [r for r in net.proxies["ABC"].requests if r["path"].endswith("/morning.wav")]
    assert [r["range"] for r in asked] == [None]


@pytest.mark.parametrize("interpreter", INTERPRETERS)
async def test_when_every_source_fails_the_device_reports_it_and_moves_on(network_factory, interpreter):
    net = await network_factory(faults=("404",))
    await net.stop_file_server("ABC")  # the only alternate is gone too
    played = await play(net, interpreter)
    assert played.rc == 0, played.console()
    failed = [ev for ev in played.items if ev["status"] == "failed"]
    assert [ev["id"] for ev in failed] == [net.media_ids["missing.wav"]]
    assert len(played.items) == len(net.media)
    reports = await net.reports(device="dev1")
    rep = [r for r in reports if r["media"] == net.media_ids["missing.wav"]]
    assert rep[0]["status"] == "failed"
    assert [why for _, why in rep[0]["errors"]] == ["404", "refused"]


@pytest.mark.parametrize("interpreter", INTERPRETERS)
async def test_a_connection_cut_mid_file_resumes_on_the_alternate(network_factory, interpreter):
    net = await network_factory(faults=("cut",))
    played = await play(net, interpreter)
    await check_all_played(net, played)
    item = played.item(net, "interlude.wav")
    (fail,) = played.fails(net, "interlude.wav")
    assert fail["why"] == "dropped at %d" % fail["at"] and fail["at"] > 0
    assert served_from(net, "interlude.wav", item) == "ABC" and item["resumed"]
    # B itself stayed up: its next file came from it.
    assert served_from(net, "missing.wav", played.item(net, "missing.wav")) == "B"
