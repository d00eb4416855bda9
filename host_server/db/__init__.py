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
    db.usage      usage statements: live reports and their daily rollup (usage.py)
    db.signing    file servers that require signed URLs, their secrets (signing.py)
    db.weights    file servers' weights and each record's spread       (weights.py)
    db.changes    the feed of what changed devices' tokens, programs and positions,
                  or the catalog, for the replicas' memory             (changes.py)
"""

import logging
import pathlib
import re
import time

from ..model import sealing
from .activity import Activity
from .catalog import Catalog
from .changes import Changes
from .devices import Devices
from .health import FileServerHealth
from .logins import Logins
from .operators import Operators
from .owners import Owners
from .secure import Secure
from .signing import KIND as SIGNING_KIND
from .signing import SignedServers
from .stats import Stats
from .usage import Usage
from .weights import Weights

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
        self.sealed_without_key = []   # what is sealed that this server cannot open (no key)
        self.activity = Activity(self)
        self.logins = Logins(self)
        self.secure = Secure(self)
        self.catalog = Catalog(self)
        self.devices = Devices(self)
        self.owners = Owners(self)
        self.health = FileServerHealth(self)
        self.operators = Operators(self)
        self.stats = Stats(self)
        self.usage = Usage(self)
        self.signing = SignedServers(self)
        self.weights = Weights(self)
        self.changes = Changes(self)

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
        self.sealed_without_key = await self.check_master_key()
        if self.sealer is not None:
            for what, table, holder, kind in (("device", "devices", "id", "device"),
                                              ("file server signing", "signed_servers", "address",
                                               SIGNING_KIND)):
                sealed = await self._seal_clear_secrets(table, holder, kind)
                if sealed:
                    log.info("sealed %d %s secrets kept in clear under the master key", sealed, what)
        return self

    async def _seal_clear_secrets(self, table, holder, kind):
        """Seal the secrets of table kept in clear (stored before the server had a master key),
        each bound to its holder column's value; returns how many."""
        async with self.transaction() as c:
            rows = await c.fetchall(f"SELECT {holder}, secret FROM {table}"
                                    f" WHERE secret NOT LIKE '{sealing.SEALED}%'")
            await c.executemany(f"UPDATE {table} SET secret = ? WHERE {holder} = ?",
                                [(sealing.store_secret(self.sealer, h, s, kind), h) for h, s in rows])
        return len(rows)

    async def check_master_key(self):
        """Open one sealed item key and one sealed device secret as canaries, so that a wrong
        master key stops the server (or the CLI) at once, rather than every key request failing
        and new secrets being sealed under a second key. Without a key: what is sealed, e.g.
        ["secure items"], that cannot be opened until one is given (the app logs it)."""
        item = await self.fetchone("SELECT m.id, m.sha256, s.sealed FROM media m"
                                   " JOIN media_secrets s ON s.media = m.id LIMIT 1")
        device = await self.fetchone("SELECT id, secret FROM devices WHERE secret LIKE ? LIMIT 1",
                                     (sealing.SEALED + "%",))
        server = await self.fetchone("SELECT address, secret FROM signed_servers"
                                     " WHERE secret LIKE ? LIMIT 1", (sealing.SEALED + "%",))
        if self.sealer is None:
            return [what for what, row in (("secure items", item), ("device secrets", device),
                                           ("signing secrets", server)) if row]
        for what, row, unseal in (("media %d" % item[0] if item else "", item,
                                   lambda: self.sealer.unseal(item[1], item[2])),
                                  ("device %s" % device[0] if device else "", device,
                                   lambda: self.sealer.unseal_secret(device[0], device[1])),
                                  ("server %s" % server[0] if server else "", server,
                                   lambda: self.sealer.unseal_secret(server[0], server[1],
                                                                     "server"))):
            try:
                if row:
                    unseal()
            except Exception:
                raise sealing.MasterKeyError(
                    f"the master key does not open the secrets this database holds ({what}):"
                    " is it the right --master-key-file? Nothing was changed") from None
        return []

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
