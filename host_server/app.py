"""The meta server application: init_app() builds it from settings."""

import asyncio
import contextlib
import dataclasses
import logging

from aiohttp import web

from .api.middleware import json_errors
from .api.monitoring import measure
from .api.routes import setup_routes
from .db import Database
from .keys import AUTH, DB, HOT, METRICS, SETTINGS, SIGNER, SOURCE_CHECKS, SOURCE_POLICY
from .metrics import MetaMetrics
from .model.sealing import ENV_FILE, Sealer, load_master_key
from .outbound.policy import SourcePolicy
from .outbound.probe import health_context
from .outbound.sourcecheck import CheckSlots
from .services.auth import Auth
from .services.hotpath import HotPath
from .services.signing import UrlSigner
from .settings import Settings

log = logging.getLogger("host_server.app")


async def _database(app):
    settings = app[SETTINGS]
    key = load_master_key(settings.master_key_file)   # before the database: fail early
    db = await Database(settings.db, clock=settings.clock,
                        sealer=Sealer(key) if key else None).connect()
    if db.sealed_without_key:
        log.error("this database holds sealed %s but the server was given no master key:"
                  " until it is (--master-key-file or $%s), what needs them answers 503 (those"
                  " devices' logins, key requests; with signing secrets, every next item)",
                  " and ".join(db.sealed_without_key), ENV_FILE)
    app[DB] = db
    app[AUTH] = Auth(db, settings)
    app[SIGNER] = UrlSigner(db, settings.signed_url_ttl)
    hot = app[HOT] = HotPath(db)
    await hot.start()
    task = asyncio.create_task(hot.run())
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    try:
        await hot.flush()   # the last "now playing" rows
    except Exception as exc:   # the database is away: they are lost, nothing else
        log.warning("the last \"now playing\" rows were not written: %s", exc)
    await db.close()


PRUNE_EVERY = 3600.0   # s between deletions of reports and key requests past their retention
PRUNE_FIRST = 30.0     # s after start: a server that fails to start never prunes mid-way


async def prune(db, retention_days):
    """Delete what is past its retention; returns (reports, key requests) deleted."""
    before = db.clock() - retention_days * 86400
    return await db.devices.prune_reports(before), await db.secure.prune_key_requests(before)


async def _retention(app):
    """cleanup_ctx: prune soon after start and every PRUNE_EVERY seconds while the app runs."""
    async def loop():
        await asyncio.sleep(PRUNE_FIRST)
        while True:
            try:
                deleted = await prune(app[DB], app[SETTINGS].retention_days)
                if any(deleted):
                    log.info("pruned %d reports and %d key requests past %d days", *deleted,
                             app[SETTINGS].retention_days)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("pruning failed; trying again in %d s", PRUNE_EVERY)
            await asyncio.sleep(PRUNE_EVERY)
    task = asyncio.create_task(loop())
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


def init_app(settings=None, **overrides):
    """The aiohttp application; the database opens (and migrates) when the app starts."""
    settings = dataclasses.replace(settings or Settings(), **overrides)
    # measure outermost (the status sent); json_errors counts database errors as it answers
    app = web.Application(client_max_size=settings.max_body,
                          middlewares=[measure, json_errors])
    app[SETTINGS] = settings
    app[METRICS] = MetaMetrics(settings.metrics_nets)   # a bad network fails here
    # a bad network or CA file fails here
    app[SOURCE_POLICY] = SourcePolicy(settings.allow_source_nets, settings.source_ca_file)
    app[SOURCE_CHECKS] = CheckSlots(settings.max_checks, settings.max_owner_checks)
    app.cleanup_ctx.append(_database)
    app.cleanup_ctx.append(health_context)
    app.cleanup_ctx.append(_retention)
    setup_routes(app)
    return app
