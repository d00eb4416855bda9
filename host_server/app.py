"""The meta server application: init_app() builds it from settings."""

import dataclasses
import time

from aiohttp import web

from .auth import Auth
from .db import Database
from .keys import AUTH, DB, SETTINGS
from .routes import setup_routes
from .views import json_errors


@dataclasses.dataclass
class Settings:
    db: str = "meta.db"
    token_ttl: int = 3600          # s a login token lives
    nonce_ttl: int = 60            # s a login nonce lives
    max_failures: int = 5          # failed logins per device within failure_window → 429
    failure_window: int = 300      # s
    max_body: int = 64 * 1024      # bytes of a request body
    clock: object = time.time      # tests substitute a fake clock

    def __post_init__(self):
        for name in ("token_ttl", "nonce_ttl", "max_failures", "failure_window", "max_body"):
            if not isinstance(getattr(self, name), int) or getattr(self, name) <= 0:
                raise ValueError(f"setting {name} must be a positive integer")


async def _database(app):
    settings = app[SETTINGS]
    db = await Database(settings.db, clock=settings.clock).connect()
    app[DB] = db
    app[AUTH] = Auth(db, settings.token_ttl, settings.nonce_ttl, settings.max_failures,
                       settings.failure_window)
    yield
    await db.close()


def init_app(settings=None, **overrides):
    """The aiohttp application; the database opens (and migrates) when the app starts."""
    settings = dataclasses.replace(settings or Settings(), **overrides)
    app = web.Application(client_max_size=settings.max_body, middlewares=[json_errors])
    app[SETTINGS] = settings
    app.cleanup_ctx.append(_database)
    setup_routes(app)
    return app
