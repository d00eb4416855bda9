"""The meta server application: init_app() builds it from settings."""

import dataclasses
import time

from aiohttp import web

from .auth import Auth
from .db import Database
from .keys import AUTH, DB, SETTINGS
from .probe import health_context
from .routes import setup_routes
from .sealing import Sealer, load_master_key
from .views import json_errors


@dataclasses.dataclass
class Settings:
    db: str = "meta.db"
    token_ttl: int = 3600          # s a login token lives
    nonce_ttl: int = 60            # s a login nonce lives
    max_failures: int = 5          # failed logins per device within failure_window → 429
    failure_window: int = 300      # s
    max_address_failures: int = 30  # failed logins from one address within failure_window → 429
    max_body: int = 64 * 1024      # bytes of a request body
    clock: object = time.time      # tests substitute a fake clock
    probe_interval: float = 0.0    # s between probes of the file servers; 0: health off
    probe_timeout: float = 2.0     # s a probe of one file server may take
    source_timeout: float = 5.0    # s to connect / between data when checking an owner's source
    master_key_file: str = None    # seals secure items' keys; None: $META_MASTER_KEY_FILE or none
    trusted_proxies: tuple = ()    # addresses of load balancers whose X-Forwarded-For is believed

    def __post_init__(self):
        for name in ("token_ttl", "nonce_ttl", "max_failures", "failure_window", "max_body",
                     "max_address_failures"):
            if not isinstance(getattr(self, name), int) or getattr(self, name) <= 0:
                raise ValueError(f"setting {name} must be a positive integer")
        for name in ("probe_interval", "probe_timeout", "source_timeout"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or value < 0 or (value == 0 and name != "probe_interval"):
                raise ValueError(f"setting {name} must be a positive number of seconds")


async def _database(app):
    settings = app[SETTINGS]
    key = load_master_key(settings.master_key_file)   # before the database: fail early
    db = await Database(settings.db, clock=settings.clock).connect()
    db.sealer = Sealer(key) if key else None
    app[DB] = db
    app[AUTH] = Auth(db, settings.token_ttl, settings.nonce_ttl, settings.max_failures,
                       settings.failure_window, settings.max_address_failures)
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
