"""The health probe's log says what changed, not what every round saw: a server going down or up
once, a probe round that fails once with its reason (not a traceback every interval), and when
probing works again."""

import logging

import pytest

from host_server import fileserver
from host_server.db import Database
from host_server.model import catalog
from host_server.outbound.policy import SourcePolicy
from host_server.outbound.probe import ProbeRounds
from host_server.services.health import Health
from hostutil import FakeClock, free_port

LOOPBACK = SourcePolicy(["127.0.0.0/8"])


@pytest.fixture
async def db(tmp_path):
    d = await Database(str(tmp_path / "meta.db"), clock=FakeClock()).connect()
    yield d
    await d.close()


def logged(caplog):
    return [r.getMessage() for r in caplog.records
            if r.name.startswith("host_server") and r.levelno >= logging.INFO]


async def test_a_server_down_round_after_round_is_logged_once_and_again_when_it_is_up(
        db, tmp_path, aiohttp_server, caplog):
    (tmp_path / "root" / "m").mkdir(parents=True)
    (tmp_path / "root" / "m" / "x.wav").write_bytes(b"abc")
    up = f"http://127.0.0.1:{(await aiohttp_server(fileserver.init_app(str(tmp_path / 'root')))).port}"
    down = f"http://127.0.0.1:{free_port()}"
    await db.catalog.add_media(catalog.validate_media({
        "size": 3, "sha256": "ab" * 32, "type": "audio/wav", "primary_address": down,
        "primary_directory": "/m", "file_name": "x.wav",
        "alternates": [{"address": up, "directory": "/m"}]}))
    rounds = ProbeRounds(await Health(db).load(), 30, 2.0, LOOPBACK)
    caplog.set_level(logging.DEBUG)
    for _ in range(4):
        assert await rounds.round()
        db.clock.advance(30)
    lines = logged(caplog)
    assert len(lines) == 2, lines
    assert any(down in l and "is down" in l for l in lines) and any(up in l and "is up" in l for l in lines)


class FailingTargets:
    """db.health whose probe_targets fails as a database that is away does, until told not to."""

    def __init__(self, real):
        self.real, self.fail = real, True

    async def probe_targets(self):
        if self.fail:
            raise OSError("database unavailable")
        return await self.real.probe_targets()

    def __getattr__(self, name):
        return getattr(self.real, name)


async def test_a_round_that_fails_the_same_way_is_logged_once_and_its_recovery_too(db, caplog):
    health = await Health(db).load()
    failing = FailingTargets(db.health)
    db.health = failing
    rounds = ProbeRounds(health, 30, 2.0, LOOPBACK)
    caplog.set_level(logging.DEBUG)
    assert [await rounds.round() for _ in range(5)] == [False] * 5
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1 and errors[0].exc_info and "every 30 s" in errors[0].getMessage()
    assert sum("failed again (5 rounds)" in r.getMessage() for r in caplog.records) == 1
    failing.fail = False
    assert await rounds.round() and await rounds.round()
    assert logged(caplog)[-1] == "probing file servers works again, after 5 failed round(s)"
    assert sum("works again" in l for l in logged(caplog)) == 1
