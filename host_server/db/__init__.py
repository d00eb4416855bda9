"""The meta server's database: what the device, owner and operator APIs store and read.

Two engines give the same query interface (sqlite: one SQLite file, the default; postgres:
PostgreSQL through asyncpg, for several replicas), chosen by the database target: a path, or a
postgresql:// URL. The engine module is imported only when it is used, so that a CLI command on
SQLite never loads asyncpg.

`Database` holds one store per domain, each in its own module, each querying only through
fetchone, fetchall, execute and, inside `async with db.transaction() as c`, executemany and insert,
in SQL both engines speak with `?` placeholders. Write transactions are serial on either engine;
an exception rolls one back.

    db.logins     device login: nonces, tokens, failed logins          (logins.py)
    db.devices    devices, their programs and positions, reports       (devices.py)
    db.catalog    media records and programs                           (catalog.py)
    db.owners     owner accounts and the media they registered         (owners.py)
    db.secure     secure items' sealed keys and key requests           (secure.py)
    db.health     file servers' health                                 (health.py)
    db.operators  dashboard operators, sessions, failed sign-ins       (operators.py)
    db.activity   what each device is doing ("now playing")            (activity.py)
    db.stats      the overview's and the metrics' figures, from the above (stats.py)
"""

import logging
import pathlib
import re
import time

from .activity import Activity
from .catalog import Catalog
from .devices import Devices
from .health import FileServerHealth
from .logins import Logins
from .operators import Operators
from .owners import Owners
from .secure import Secure
from .stats import Stats

log = logging.getLogger("host_server.db")
MIGRATIONS = pathlib.Path(__file__).with_name("migrations")


def migrations():
    """[(version, path)] of migrations/NNNN_*.sql, in order."""
    found = []
    for path in sorted(MIGRATIONS.glob("*.sql")):
        match = re.match(r"(\d{4})_", path.name)
        if match:
            found.append((int(match.group(1)), path))
    return found


def is_postgres_url(target):
    return str(target).startswith(("postgresql://", "postgres://"))


def engine_for(target):
    """A postgresql:// URL -> PostgreSQL; anything else is a SQLite file's path."""
    target = str(target)
    if is_postgres_url(target):
        from .postgres import PostgresEngine
        return PostgresEngine(target)
    from .sqlite import SQLiteEngine
    return SQLiteEngine(target)


class Database:
    def __init__(self, target, clock=time.time, sealer=None):
        """sealer (model.sealing.Sealer) seals secure items' keys: needed to store secure media
        and to hand their keys out; None when the server has no master key."""
        self.path = str(target)   # a SQLite file, or a postgresql:// URL
        self.engine = engine_for(target)
        self.clock = clock
        self.sealer = sealer
        self.activity = Activity(self)
        self.logins = Logins(self)
        self.secure = Secure(self)
        self.catalog = Catalog(self)
        self.devices = Devices(self)
        self.owners = Owners(self)
        self.health = FileServerHealth(self)
        self.operators = Operators(self)
        self.stats = Stats(self)

    def describe(self):
        """Which database this is, fit for a log line (no password)."""
        return f"{self.engine.name} {self.engine.describe()}"

    async def connect(self):
        """Open the database, creating it if needed, and apply pending migrations."""
        engine = self.engine
        await engine.connect(migrations())
        # the query interface, bound once: reads outside a transaction go through the
        # Database itself; writes through what `async with db.transaction() as c` gives
        self.fetchone = engine.fetchone
        self.fetchall = engine.fetchall
        self.execute = engine.execute
        self.transaction = engine.transaction
        if self.sealer is not None:
            sealed = await self.devices.seal_clear_secrets()
            if sealed:
                log.info("sealed %d device secrets kept in clear under the master key", sealed)
        return self

    async def close(self):
        await self.engine.close()

    async def schema_version(self):
        return await self.engine.schema_version()

    async def integrity_problems(self):
        return await self.engine.integrity_problems()

    LISTS = ("devices", "media", "programs", "owners", "servers")

    async def list_of(self, what):
        """The rows of one of LISTS: the one query behind both the CLI's `list` and the
        dashboard's pages (and its /api/v1/operator/<what> JSON)."""
        lists = {"devices": self.devices.list, "media": self.catalog.list_media,
                 "programs": self.catalog.list_programs, "owners": self.owners.list,
                 "servers": self.health.list_servers}
        return await lists[what]()
