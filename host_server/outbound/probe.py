"""Background probing of the file servers the meta server knows.

Every probe_interval seconds each server gets a HEAD request for one file it should hold (a
server that refuses HEAD gets a GET for its first byte), with a short timeout. 2xx and 3xx mean
up; anything else, a refused connection or a timeout means down, with the reason kept.
"""

import asyncio
import logging

import aiohttp

from ..keys import DB, HEALTH, SETTINGS, SIGNER, SOURCE_POLICY
from ..services.health import Health
from .sourcecheck import connect_error

log = logging.getLogger("host_server.probe")
PARALLEL = 16   # probes in flight at once


async def probe_one(session, url):
    """(up, why) for one server, by one file it should hold."""
    try:
        async with session.head(url, allow_redirects=False) as resp:
            status = resp.status
        if status in (405, 501):
            async with session.get(url, headers={"Range": "bytes=0-0"}, allow_redirects=False) as resp:
                status = resp.status
    except asyncio.TimeoutError:
        return False, f"probe timed out ({url})"
    except aiohttp.ClientConnectorError as exc:
        return False, f"probe: {connect_error(exc)} ({url})"
    except aiohttp.ClientError as exc:
        return False, f"probe failed: {exc.__class__.__name__} ({url})"
    if status < 400:
        return True, f"probe {status} ({url})"
    return False, f"probe {status} ({url})"


async def probe_all(health, timeout, policy, signer=None):
    """Probe every known server once and record what was seen; a server the source policy
    does not allow is down, and is never connected to. signer (services/signing.py): a server
    that requires signed URLs is probed with one."""
    targets = await health.db.health.probe_targets()
    health.known = set(targets)
    if not targets:
        return
    if signer is not None:
        targets = dict(zip(targets, await signer.sign_urls(list(targets.values()))))
    gate = asyncio.Semaphore(PARALLEL)

    async def one(session, address, url):
        async with gate:
            up, why = await probe_one(session, url)
        return address, up, why

    client_timeout = aiohttp.ClientTimeout(total=timeout)
    async with aiohttp.ClientSession(timeout=client_timeout, auto_decompress=False,
                                     connector=policy.connector()) as session:
        results = await asyncio.gather(*(one(session, a, u) for a, u in sorted(targets.items())))
    await health.record(results)


class ProbeRounds:
    """Probe rounds that log changes, not rounds: a servers' change of state (Health.record), the
    first round that fails for a reason (with its traceback) and the first that works again; a
    round failing as the one before it did is logged at debug level only."""

    def __init__(self, health, interval, timeout, policy, signer=None):
        self.health, self.interval, self.timeout, self.policy = health, interval, timeout, policy
        self.signer = signer
        self.failing = None   # the reason the last round failed, None while they work
        self.failed = 0       # rounds failed in a row

    async def round(self):
        try:
            await probe_all(self.health, self.timeout, self.policy, self.signer)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            why = f"{exc.__class__.__name__}: {exc}"
            self.failed += 1
            if why != self.failing:
                log.exception("probing file servers failed; trying again every %s s", self.interval)
            else:
                log.debug("probing file servers failed again (%d rounds): %s", self.failed, why)
            self.failing = why
            return False
        if self.failing is not None:
            log.info("probing file servers works again, after %d failed round(s)", self.failed)
        self.failing, self.failed = None, 0
        return True


async def _probe_forever(health, interval, timeout, policy, signer):
    rounds = ProbeRounds(health, interval, timeout, policy, signer)
    while True:
        await rounds.round()
        await asyncio.sleep(interval)


async def health_context(app):
    """cleanup_ctx: the Health state, and the probe loop when settings.probe_interval > 0."""
    settings = app[SETTINGS]
    health = await Health(app[DB]).load()
    app[HEALTH] = health
    task = None
    if settings.probe_interval > 0:
        task = asyncio.create_task(_probe_forever(health, settings.probe_interval,
                                                  settings.probe_timeout, app[SOURCE_POLICY],
                                                  app[SIGNER]))
    yield
    if task is not None:
        task.cancel()
        try:
            await task
        except asyncio.CancelledError:
            pass
