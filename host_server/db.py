"""The meta server's database: what the device, owner and operator APIs store and read.

Two engines give the same query interface (db_sqlite: one SQLite file, the default; db_postgres:
PostgreSQL through asyncpg, for several replicas), chosen by the database target: a path, or a
postgresql:// URL. Every db module (db_owners, db_health, db_dashboard, db_secure) queries only
through fetchone, fetchall, execute and, inside `async with db.transaction() as c`, executemany
and insert, in SQL both engines speak with `?` placeholders. Write transactions are serial on
either engine; an exception rolls one back.
"""

import json
import pathlib
import re
import time

from . import catalog, db_dashboard, db_postgres, db_secure, db_sqlite, sealing
from .errors import Conflict, Forbidden, NotFound

MIGRATIONS = pathlib.Path(__file__).with_name("migrations")
REPORT_REPEAT_WINDOW = 600.0   # s: an identical report within this time is a retry
SWEEP_EVERY = 10.0             # s between deletions of expired login nonces and tokens
ERRORS = db_sqlite.ERRORS + db_postgres.ERRORS   # what a failing database raises, either engine
UNAVAILABLE = db_postgres.UNAVAILABLE   # of those, a database server down or restarting


def migrations():
    """[(version, path)] of migrations/NNNN_*.sql, in order."""
    found = []
    for path in sorted(MIGRATIONS.glob("*.sql")):
        match = re.match(r"(\d{4})_", path.name)
        if match:
            found.append((int(match.group(1)), path))
    return found


def engine_for(target):
    """A postgresql:// URL -> PostgreSQL; anything else is a SQLite file's path."""
    target = str(target)
    if db_postgres.is_url(target):
        return db_postgres.PostgresEngine(target)
    return db_sqlite.SQLiteEngine(target)


class Database:
    def __init__(self, target, clock=time.time):
        self.path = str(target)   # a SQLite file, or a postgresql:// URL
        self.engine = engine_for(target)
        self.clock = clock
        self.sealer = None   # sealing.Sealer: needed to store secure media
        self._swept = float("-inf")

    def describe(self):
        """Which database this is, fit for a log line (no password)."""
        return f"{self.engine.name} {self.engine.describe()}"

    # -- lifecycle -------------------------------------------------------------------------

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
        return self

    async def close(self):
        await self.engine.close()

    async def schema_version(self):
        return await self.engine.schema_version()

    async def integrity_problems(self):
        return await self.engine.integrity_problems()

    # -- login -----------------------------------------------------------------------------

    # The login path is the hot one in a boot storm: its statements each stand alone (one row
    # of one device: nothing read and then written), so they run outside a write transaction,
    # one round trip each on PostgreSQL; expired rows are swept now and then, not every time.

    async def _sweep(self, now):
        """Delete expired login nonces and tokens, at most every SWEEP_EVERY seconds (they are
        checked for expiry when used, so a late sweep only keeps dead rows a little longer)."""
        if now - self._swept < SWEEP_EVERY:
            return
        self._swept = now
        async with self.transaction() as c:
            await c.execute("DELETE FROM login_nonces WHERE expires <= ?", (now,))
            await c.execute("DELETE FROM tokens WHERE expires <= ?", (now,))

    async def add_nonce(self, nonce, device, ttl):
        now = self.clock()
        await self._sweep(now)
        await self.execute("INSERT INTO login_nonces (nonce, device, expires) VALUES (?, ?, ?)",
                           (nonce, device, now + ttl))

    async def consume_nonce(self, nonce, device):
        """True when the nonce was issued to this device and has not expired; never twice (one
        DELETE: of two concurrent requests with the same nonce, one gets the row)."""
        rows = await self.fetchall(
            "DELETE FROM login_nonces WHERE nonce = ? AND device = ? RETURNING expires",
            (nonce, device))
        return bool(rows) and rows[0][0] > self.clock()

    async def device_secret(self, device):
        row = await self.fetchone("SELECT secret FROM devices WHERE id = ?", (device,))
        return row[0] if row else None

    async def recent_failures(self, device, address, window):
        """((count, oldest time) for the device, (count, oldest) from the network address) of
        failed logins within the last window seconds, in one query."""
        row = await self.fetchone(
            "SELECT count(*) FILTER (WHERE device = ?), min(at) FILTER (WHERE device = ?),"
            " count(*) FILTER (WHERE address = ?), min(at) FILTER (WHERE address = ?)"
            " FROM login_failures WHERE at > ? AND (device = ? OR address = ?)",
            (device, device, address, address, self.clock() - window, device, address))
        return (row[0], row[1]), (row[2], row[3])

    async def add_failure(self, device, window, address=""):
        now = self.clock()
        async with self.transaction() as c:
            await c.execute("DELETE FROM login_failures WHERE at <= ?", (now - window,))
            await c.execute("INSERT INTO login_failures (device, at, address) VALUES (?, ?, ?)",
                            (device, now, address))

    async def revoke_tokens(self, device):
        """Every token of the device stops working at once; returns how many there were."""
        async with self.transaction() as c:
            if await c.fetchone("SELECT 1 FROM devices WHERE id = ?", (device,)) is None:
                raise NotFound(f"no device {device!r}")
            return await c.execute("DELETE FROM tokens WHERE device = ?", (device,))

    async def add_token(self, token_sha256, device, ttl):
        """Store a token (by its hash) and forget this device's failures."""
        now = self.clock()
        await self._sweep(now)
        await self.execute("DELETE FROM login_failures WHERE device = ?", (device,))
        await self.execute("INSERT INTO tokens (token_sha256, device, expires) VALUES (?, ?, ?)",
                           (token_sha256, device, now + ttl))

    async def token_device(self, token_sha256):
        """The device id a live token belongs to, or None."""
        row = await self.fetchone("SELECT device, expires FROM tokens WHERE token_sha256 = ?",
                                  (token_sha256,))
        if row is None or row[1] <= self.clock():
            return None
        return row[0]

    # -- device API ------------------------------------------------------------------------

    async def programs_for(self, device):
        rows = await self.fetchall(
            "SELECT p.id, p.name, p.n_items FROM entitlements e JOIN programs p ON p.id = e.program"
            " WHERE e.device = ? ORDER BY p.id", (device,))
        return ([{"id": r[0], "name": r[1], "items": r[2]} for r in rows],
                await self._selected(device))

    async def _selected(self, device):
        row = await self.fetchone(
            "SELECT coalesce(selected_program, default_program) FROM devices WHERE id = ?",
            (device,))
        return row[0] if row else None

    async def select_program(self, device, program):
        async with self.transaction() as c:
            if await c.fetchone("SELECT 1 FROM programs WHERE id = ?", (program,)) is None:
                raise NotFound(f"no program {program}")
            if await c.fetchone("SELECT 1 FROM entitlements WHERE device = ? AND program = ?",
                                (device, program)) is None:
                raise Forbidden(f"device is not entitled to program {program}")
            await c.execute("UPDATE devices SET selected_program = ? WHERE id = ?", (program, device))
        return program

    _CURRENT = (
        "SELECT e.program, e.pos, p.n_items, pi.media, m.compact FROM devices d"
        " JOIN entitlements e ON e.device = d.id"
        "  AND e.program = coalesce(d.selected_program, d.default_program)"
        " JOIN programs p ON p.id = e.program"
        " LEFT JOIN program_items pi ON pi.program = e.program AND pi.pos = e.pos"
        " LEFT JOIN media m ON m.id = pi.media"
        " WHERE d.id = ?")

    async def _current(self, device):
        """(program, pos, n_items, media id, compact) of the device's current item, or None.

        One indexed query in the common case. A stored position beyond the end (the program
        was shortened) means the start.
        """
        row = await self.fetchone(self._CURRENT, (device,))
        if row is None or row[2] == 0:
            return None
        if row[3] is None:
            item = await self.fetchone(
                "SELECT m.id, m.compact FROM program_items pi JOIN media m ON m.id = pi.media"
                " WHERE pi.program = ? AND pi.pos = 0", (row[0],))
            if item is None:
                return None
            return row[0], 0, row[2], item[0], item[1]
        return row

    async def next_item(self, device):
        """(media id, pos, compact JSON without id/pos) or None when there is nothing to play."""
        cur = await self._current(device)
        if cur is None:
            return None
        await db_dashboard.record_handed_out(self, device, cur[0], cur[3], cur[1], self.clock())
        return cur[3], cur[1], cur[4]

    async def add_report(self, device, rep):
        """Store a report; advance when it matches the current item. Returns the next pos."""
        now = self.clock()
        errors = json.dumps(rep["errors"], separators=(",", ":"))
        async with self.transaction(device) as c:   # this device's rows only
            cur = await self._current(device)
            pos = cur[1] if cur else 0
            last = await c.fetchone(
                "SELECT media, pos, status, source, bytes, ms, errors, at FROM reports"
                " WHERE device = ? ORDER BY id DESC LIMIT 1", (device,))
            if last is not None and now - last[7] < REPORT_REPEAT_WINDOW and last[:7] == (
                    rep["id"], rep["pos"], rep["status"], rep["src"], rep["bytes"], rep["ms"],
                    errors):
                return pos   # the device retrying after a lost answer
            advanced = cur is not None and rep["id"] == cur[3] and rep["pos"] == pos
            await c.execute(
                "INSERT INTO reports (device, program, media, pos, status, source, bytes, ms,"
                " errors, advanced, at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (device, cur[0] if cur else None, rep["id"], rep["pos"], rep["status"],
                 rep["src"], rep["bytes"], rep["ms"], errors, int(advanced), now))
            await db_dashboard.record_report(c, device, rep, now)
            if advanced:
                pos = (pos + 1) % cur[2]
                await c.execute("UPDATE entitlements SET pos = ? WHERE device = ? AND program = ?",
                                (pos, device, cur[0]))
        return pos

    async def media_record(self, media_id):
        cols = ", ".join(catalog.MEDIA_COLUMNS)
        row = await self.fetchone(f"SELECT {cols} FROM media WHERE id = ?", (media_id,))
        if row is None:
            raise NotFound(f"no media {media_id}")
        rec = dict(zip(catalog.MEDIA_COLUMNS, row))
        for key in catalog.LIST_FIELDS:
            rec[key] = json.loads(rec[key])
        rec["alternates"] = [
            {"address": a, "directory": d} for a, d in await self.fetchall(
                "SELECT address, directory FROM media_alternates WHERE media = ? ORDER BY seq",
                (media_id,))]
        return catalog.full_record(media_id, rec)

    # -- operator --------------------------------------------------------------------------

    async def _insert_device(self, c, device, name, secret):
        if await c.fetchone("SELECT 1 FROM devices WHERE id = ?", (device,)):
            raise Conflict(f"device {device!r} already exists")
        await c.execute("INSERT INTO devices (id, name, secret, created) VALUES (?, ?, ?, ?)",
                        (device, name, secret, self.clock()))

    async def _insert_media(self, c, rec):
        values = [json.dumps(rec[k]) if k in catalog.LIST_FIELDS else rec[k]
                  for k in catalog.MEDIA_COLUMNS]
        cols = ", ".join(catalog.MEDIA_COLUMNS)
        marks = ", ".join("?" * (len(values) + 2))
        media_id = await c.insert(f"INSERT INTO media ({cols}, compact, created) VALUES ({marks})",
                                  values + [catalog.compact_json(rec), self.clock()])
        await c.executemany(
            "INSERT INTO media_alternates (media, seq, address, directory) VALUES (?, ?, ?, ?)",
            [(media_id, i, a["address"], a["directory"]) for i, a in enumerate(rec["alternates"])])
        if rec.get("secure"):
            if self.sealer is None:
                sealing.no_sealer()
            await db_secure.insert_secret(c, media_id, rec, self.sealer)
        return media_id

    async def _insert_program(self, c, name, media_ids):
        if await c.fetchone("SELECT 1 FROM programs WHERE name = ?", (name,)):
            raise Conflict(f"program {name!r} already exists")
        for media_id in media_ids:
            if await c.fetchone("SELECT 1 FROM media WHERE id = ?", (media_id,)) is None:
                raise NotFound(f"no media {media_id}")
        program = await c.insert("INSERT INTO programs (name, n_items) VALUES (?, ?)",
                                 (name, len(media_ids)))
        await c.executemany("INSERT INTO program_items (program, pos, media) VALUES (?, ?, ?)",
                            [(program, i, m) for i, m in enumerate(media_ids)])
        return program

    async def _assign(self, c, device, program, default):
        await c.execute("INSERT INTO entitlements (device, program, pos) VALUES (?, ?, 0)"
                        " ON CONFLICT DO NOTHING",
                        (device, program))
        if default:
            await c.execute("UPDATE devices SET default_program = ? WHERE id = ?", (program, device))
        else:   # a device's first program becomes its default
            await c.execute("UPDATE devices SET default_program = ? WHERE id = ? AND default_program IS NULL",
                            (program, device))

    async def add_device(self, device, name, secret):
        async with self.transaction() as c:
            await self._insert_device(c, device, name, secret)

    async def add_media(self, rec):
        async with self.transaction() as c:
            return await self._insert_media(c, rec)

    async def add_program(self, name, media_ids):
        async with self.transaction() as c:
            return await self._insert_program(c, name, media_ids)

    async def _program_id(self, c, ref):
        """A program by name, or by id when ref is all digits and no program has that name."""
        row = await c.fetchone("SELECT id FROM programs WHERE name = ?", (str(ref),))
        if row is None and catalog.is_number_text(str(ref)):
            row = await c.fetchone("SELECT id FROM programs WHERE id = ?", (int(ref),))
        if row is None:
            raise NotFound(f"no program {ref!r}")
        return row[0]

    async def assign(self, device, program_ref, default=False):
        async with self.transaction() as c:
            if await c.fetchone("SELECT 1 FROM devices WHERE id = ?", (device,)) is None:
                raise NotFound(f"no device {device!r}")
            program = await self._program_id(c, program_ref)
            await self._assign(c, device, program, default)
        return program

    async def import_catalog(self, media, programs, devices, new_secret):
        """Store a validated catalog (catalog.validate_catalog) in one transaction."""
        summary = {"media": {}, "programs": {}, "devices": {}}
        async with self.transaction() as c:
            for ref, rec in media:
                summary["media"][ref] = await self._insert_media(c, rec)
            for name, refs in programs:
                summary["programs"][name] = await self._insert_program(
                    c, name, [summary["media"][r] for r in refs])
            for dev in devices:
                secret = dev["secret"] or new_secret()
                await self._insert_device(c, dev["id"], dev["name"], secret)
                for name in dev["programs"]:
                    await self._assign(c, dev["id"], summary["programs"][name], name == dev["default"])
                summary["devices"][dev["id"]] = secret
        return summary

    async def list_devices(self):
        programs = {}
        for device, program in await self.fetchall(
                "SELECT device, program FROM entitlements ORDER BY device, program"):
            programs.setdefault(device, []).append(program)
        rows = await self.fetchall(
            "SELECT id, name, default_program, selected_program FROM devices ORDER BY id")
        return [{"id": r[0], "name": r[1], "default": r[2], "selected": r[3],
                 "programs": programs.get(r[0], [])} for r in rows]

    async def list_media(self):
        rows = await self.fetchall(
            "SELECT id, title, type, size, sha256, primary_address, primary_directory, file_name"
            " FROM media ORDER BY id")
        return [{"id": r[0], "title": r[1], "type": r[2], "size": r[3], "sha256": r[4],
                 "src": catalog.source_url(r[5], r[6], r[7])} for r in rows]

    async def list_programs(self):
        out = []
        for pid, name in await self.fetchall("SELECT id, name FROM programs ORDER BY id"):
            items = [r[0] for r in await self.fetchall(
                "SELECT media FROM program_items WHERE program = ? ORDER BY pos", (pid,))]
            out.append({"id": pid, "name": name, "items": items})
        return out

    async def reports(self, device=None, limit=50):
        sql = ("SELECT id, device, program, media, pos, status, source, bytes, ms, errors,"
               " advanced, at FROM reports")
        args = []
        if device is not None:
            sql += " WHERE device = ?"
            args.append(device)
        sql += " ORDER BY id DESC LIMIT ?"
        args.append(limit)
        keys = ("id", "device", "program", "media", "pos", "status", "src", "bytes", "ms",
                "errors", "advanced", "at")
        out = []
        for row in await self.fetchall(sql, args):
            rep = dict(zip(keys, row))
            rep["errors"] = json.loads(rep["errors"])
            rep["advanced"] = bool(rep["advanced"])
            out.append(rep)
        return out

    async def has_device(self, device):
        return await self.fetchone("SELECT 1 FROM devices WHERE id = ?", (device,)) is not None
