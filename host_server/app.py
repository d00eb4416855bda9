"""The meta server application: init_app() builds it from settings."""

import dataclasses

from aiohttp import web

from .api.middleware import json_errors
from .api.routes import setup_routes
from .db import Database
from .keys import AUTH, DB, SETTINGS
from .model.sealing import Sealer, load_master_key
from .outbound.probe import health_context
from .services.auth import Auth
from .settings import Settings


async def _database(app):
    settings = app[SETTINGS]
    key = load_master_key(settings.master_key_file)   # before the database: fail early
    db = await Database(settings.db, clock=settings.clock,
                        sealer=Sealer(key) if key else None).connect()
    app[DB] = db
    app[AUTH] = Auth(db, settings)
    yield
    await db.close()


def init_app(settings=None, **overrides):
    """The aiohttp application; the database opens (and migrates) when the app starts."""
    settings = dataclasses.replace(settings or Settings(), **overrides)
    app = web.Application(client_max_size=settings.max_body, middlewares=[json_errors])
    app[SETTINGS] = settings
    app.cleanup_ctx.append(_database)
    app.cleanup_ctx.append(health_context)
    setup_routes(app)
    return app
