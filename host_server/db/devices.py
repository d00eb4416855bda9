"""Devices, the programs they are entitled to, their positions, and their reports.

A device's position in its program moves only on its report of the item it was handed: a
device that crashes mid-item gets the same item again. A horizon (the next items at once) moves
nothing; a batch of reports moves it as the same reports one by one would, and a report the
device sends again (its answer was lost) is recognised and taken once.
"""

import json
import math

from ..model.sealing import store_secret
from ..model.errors import Conflict, Forbidden, NotFound, RateLimited

REPORT_REPEAT_WINDOW = 600.0   # s: an identical report within this time is a retry
SEQ_REPEAT_WINDOW = 86400.0    # s: the same for a report with a sequence number (a device may
                               # send its batch again after an hour offline)
REPORTS_SHOWN = 50             # reports listed when no limit is given
PRUNE_BATCH = 5000             # reports rolled up and deleted in one transaction

_CURRENT = (
    "SELECT e.program, e.pos, p.n_items, pi.media, m.compact, m.spread FROM devices d"
    " JOIN entitlements e ON e.device = d.id"
    "  AND e.program = coalesce(d.selected_program, d.default_program)"
    " JOIN programs p ON p.id = e.program"
    " LEFT JOIN program_items pi ON pi.program = e.program AND pi.pos = e.pos"
    " LEFT JOIN media m ON m.id = pi.media"
    " WHERE d.id = ?")
_REPORT_KEYS = ("id", "device", "program", "media", "title", "pos", "status", "src", "bytes", "ms",
                "underruns", "underrun_ms", "errors", "advanced", "at", "mounts")


class Devices:
    def __init__(self, db):
        self.db = db

    # -- the operator's side -------------------------------------------------------------

    async def insert(self, c, device, name, secret):
        """Add a device inside the transaction c."""
        if await c.fetchone("SELECT 1 FROM devices WHERE id = ?", (device,)):
            raise Conflict(f"device {device!r} already exists")
        await c.execute("INSERT INTO devices (id, name, secret, created) VALUES (?, ?, ?, ?)",
                        (device, name, store_secret(self.db.sealer, device, secret), self.db.clock()))

    async def add(self, device, name, secret):
        async with self.db.transaction() as c:
            await self.insert(c, device, name, secret)

    async def entitle(self, c, device, program, default):
        """Entitle the device to the program inside c; its first program becomes its default."""
        await c.execute("INSERT INTO entitlements (device, program, pos) VALUES (?, ?, 0)"
                        " ON CONFLICT DO NOTHING", (device, program))
        if default:
            await c.execute("UPDATE devices SET default_program = ? WHERE id = ?", (program, device))
        else:
            await c.execute("UPDATE devices SET default_program = ? WHERE id = ?"
                            " AND default_program IS NULL", (program, device))
        await self.db.changes.record(c, device)

    async def assign(self, device, program_ref, default=False):
        """Entitle a device to a program given by name or id; returns the program's id."""
        async with self.db.transaction() as c:
            if await c.fetchone("SELECT 1 FROM devices WHERE id = ?", (device,)) is None:
                raise NotFound(f"no device {device!r}")
            program = await self.db.catalog.program_id(c, program_ref)
            await self.entitle(c, device, program, default)
        return program

    async def unassign(self, device, program):
        """The device may no longer play the program (its position in it is forgotten; a
        default or choice of it falls back to none)."""
        async with self.db.transaction() as c:
            if await c.execute("DELETE FROM entitlements WHERE device = ? AND program = ?",
                               (device, program)) == 0:
                raise NotFound(f"device {device!r} is not entitled to program {program}")
            for column in ("default_program", "selected_program"):
                await c.execute(f"UPDATE devices SET {column} = NULL WHERE id = ? AND {column} = ?",
                                (device, program))
            await self.db.changes.record(c, device)

    async def rename(self, device, name):
        async with self.db.transaction() as c:
            if await c.execute("UPDATE devices SET name = ? WHERE id = ?", (name, device)) == 0:
                raise NotFound(f"no device {device!r}")

    async def _change(self, device, sql, args):
        """One UPDATE/DELETE of the device's row and its tokens, or NotFound."""
        async with self.db.transaction() as c:
            if await c.execute(sql, args) == 0:
                raise NotFound(f"no device {device!r}")
            await c.execute("DELETE FROM tokens WHERE device = ?", (device,))
            await self.db.changes.record(c, device)

    async def disable(self, device):
        """No login, no next item, no key from now on, on every replica (each request's token
        check reads the flag); its tokens end."""
        await self._change(device, "UPDATE devices SET disabled = ? WHERE id = ?",
                           (self.db.clock(), device))

    async def enable(self, device):
        await self._change(device, "UPDATE devices SET disabled = NULL WHERE id = ?", (device,))

    async def rotate_secret(self, device, secret):
        """A new secret: the old one stops working for logins, and its tokens end."""
        await self._change(device, "UPDATE devices SET secret = ? WHERE id = ?",
                           (store_secret(self.db.sealer, device, secret), device))

    async def remove(self, device):
        """The device and everything of it: entitlements, positions, tokens, reports, activity.
        Its reports are rolled up into the usage figures first: the plays it made stay in the
        owners' statements."""
        async with self.db.transaction() as c:
            await self.db.usage.roll_up(c, "device = ?", (device,))
            for table in ("login_failures", "login_known", "login_nonces", "key_nonces"):
                await c.execute(f"DELETE FROM {table} WHERE device = ?", (device,))
            if await c.execute("DELETE FROM devices WHERE id = ?", (device,)) == 0:
                raise NotFound(f"no device {device!r}")
            await self.db.changes.record(c, device)

    async def list(self):
        """[{id, name, default, selected, programs, disabled, firmware}] of every device, by id
        (firmware: the version it sent at its last login, None when it sent none)."""
        programs = {}
        for device, program in await self.db.fetchall(
                "SELECT device, program FROM entitlements ORDER BY device, program"):
            programs.setdefault(device, []).append(program)
        rows = await self.db.fetchall(
            "SELECT id, name, default_program, selected_program, disabled, firmware FROM devices"
            " ORDER BY id")
        return [{"id": r[0], "name": r[1], "default": r[2], "selected": r[3],
                 "programs": programs.get(r[0], []), "disabled": r[4], "firmware": r[5]}
                for r in rows]

    # -- the device's side ---------------------------------------------------------------

    async def programs_for(self, device):
        """([{id, name, items}] of the device's programs, the id of the one it plays)."""
        rows = await self.db.fetchall(
            "SELECT p.id, p.name, p.n_items FROM entitlements e JOIN programs p ON p.id = e.program"
            " WHERE e.device = ? ORDER BY p.id", (device,))
        return ([{"id": r[0], "name": r[1], "items": r[2]} for r in rows],
                await self._selected(device))

    async def _selected(self, device):
        row = await self.db.fetchone(
            "SELECT coalesce(selected_program, default_program) FROM devices WHERE id = ?",
            (device,))
        return row[0] if row else None

    async def select_program(self, device, program):
        async with self.db.transaction() as c:
            if await c.fetchone("SELECT 1 FROM programs WHERE id = ?", (program,)) is None:
                raise NotFound(f"no program {program}")
            if await c.fetchone("SELECT 1 FROM entitlements WHERE device = ? AND program = ?",
                                (device, program)) is None:
                raise Forbidden(f"device is not entitled to program {program}")
            await c.execute("UPDATE devices SET selected_program = ? WHERE id = ?", (program, device))
            await self.db.changes.record(c, device)
        return program

    async def current(self, device):
        """(program, pos, n_items, media id, compact, spread) of the device's current item, or
        None.

        One indexed query in the common case. A stored position beyond the end (the program
        was shortened) means the start.
        """
        row = await self.db.fetchone(_CURRENT, (device,))
        if row is None or row[2] == 0:
            return None
        if row[3] is None:
            item = await self.db.fetchone(
                "SELECT m.id, m.compact, m.spread FROM program_items pi JOIN media m"
                " ON m.id = pi.media WHERE pi.program = ? AND pi.pos = 0", (row[0],))
            if item is None:
                return None
            return row[0], 0, row[2], item[0], item[1], item[2]
        return row

    async def next_item(self, device):
        """(media id, pos, compact JSON text, spread JSON text or None: db/weights.py) or None
        when there is nothing to play; handed out at once (the meta server's GET /next goes
        through services/hotpath.py, which batches that write)."""
        cur = await self.current(device)
        if cur is None:
            return None
        await self.db.activity.handed_out(device, cur[0], cur[3], cur[1])
        return cur[3], cur[1], cur[4], cur[5]

    async def program_items(self, program):
        """(n_items, {pos: (media id, compact, spread)}) of a program, for the hot path's
        memory (services/hotpath.py); (0, {}) for no such program."""
        row = await self.db.fetchone("SELECT n_items FROM programs WHERE id = ?", (program,))
        if row is None:
            return 0, {}
        rows = await self.db.fetchall(
            "SELECT pi.pos, m.id, m.compact, m.spread FROM program_items pi"
            " JOIN media m ON m.id = pi.media WHERE pi.program = ?", (program,))
        return row[0], {r[0]: (r[1], r[2], r[3]) for r in rows}

    async def horizon(self, device, k):
        """(program, n_items, [(media id, pos, compact, spread)]) of the device's next k items
        in program order from its current one (wrapping, at most the whole program once), or
        None when there is nothing to play. Hands out the first, as next_item does; positions
        move only on reports."""
        cur = await self.current(device)
        if cur is None:
            return None
        program, pos, n = cur[0], cur[1], cur[2]
        await self.db.activity.handed_out(device, program, cur[3], pos)
        wanted = [(pos + i) % n for i in range(min(k, n))]
        rows = await self.db.fetchall(
            "SELECT pi.pos, m.id, m.compact, m.spread FROM program_items pi"
            " JOIN media m ON m.id = pi.media"
            " WHERE pi.program = ? AND pi.pos IN (%s)" % ", ".join("?" * len(wanted)),
            [program] + wanted)
        at = {r[0]: (r[1], r[0], r[2], r[3]) for r in rows}
        return program, n, [at[p] for p in wanted if p in at]

    async def add_report(self, device, rep, per_minute=None, handed=None):
        """Store a report; advance when it matches the current item. Returns the next pos.
        A device that sent per_minute reports within the last minute is RateLimited (a repeat
        of a report it made is not counted). handed: the device's "now playing" row not
        written yet, (program, media, pos, first, last handed out) (services/hotpath.py), written first."""
        async with self.db.transaction(device) as c:   # this device's rows only
            if handed is not None:
                await self.db.activity.write_handed([(device,) + handed], c)
            _, pos = await self._take(c, device, rep, self.db.clock(), per_minute)
        return pos

    async def add_reports(self, device, reps, per_minute=None, handed=None):
        """Store reports in order, in one transaction, each as add_report would. Returns (how
        many of them the server now holds, the reports stored now (not repeats), the next pos).
        When per_minute stops the batch after some were taken, the rest are left for the
        device to send again; RateLimited only when it stops the first."""
        now, stored = self.db.clock(), []
        async with self.db.transaction(device) as c:
            if handed is not None:
                await self.db.activity.write_handed([(device,) + handed], c)
            for i, rep in enumerate(reps):
                try:
                    new, pos = await self._take(c, device, rep, now, per_minute)
                except RateLimited:
                    if i == 0:
                        raise
                    return i, stored, pos
                if new:
                    stored.append(rep)
        return len(reps), stored, pos

    async def _is_repeat(self, c, device, rep, errors, now):
        """Has the device made this report before (it is sending it again after a lost answer)?
        With a sequence number: a report of that number identical in every field within
        SEQ_REPEAT_WINDOW; without: its previous report, identical, within REPORT_REPEAT_WINDOW."""
        cols = ("SELECT media, pos, status, source, bytes, ms, errors, underruns, underrun_ms, seq,"
                " at FROM reports WHERE device = ?")
        if rep.get("seq") is None:
            last = await c.fetchone(cols + " ORDER BY id DESC LIMIT 1", (device,))
            window = REPORT_REPEAT_WINDOW
        else:
            last = await c.fetchone(cols + " AND seq = ? ORDER BY id DESC LIMIT 1",
                                    (device, rep["seq"]))
            window = SEQ_REPEAT_WINDOW
        return last is not None and now - last[10] < window and last[:10] == (
            rep["id"], rep["pos"], rep["status"], rep["src"], rep["bytes"], rep["ms"], errors,
            rep.get("underruns", 0), rep.get("underrun_ms", 0), rep.get("seq"))

    async def _take(self, c, device, rep, now, per_minute):
        """One report inside c: (stored now, not a repeat?, the next pos)."""
        errors = json.dumps(rep["errors"], separators=(",", ":"))
        cur = await self.current(device)
        pos = cur[1] if cur else 0
        if await self._is_repeat(c, device, rep, errors, now):
            return False, pos
        if per_minute:
            row = await c.fetchone("SELECT at FROM reports WHERE device = ? ORDER BY id DESC"
                                   " LIMIT 1 OFFSET ?", (device, per_minute - 1))
            if row is not None and now - row[0] < 60:
                raise RateLimited(f"more than {per_minute} reports in a minute; slow down",
                                  max(1, math.ceil(row[0] + 60 - now)))
        advanced = cur is not None and rep["id"] == cur[3] and rep["pos"] == pos
        await c.execute(
            "INSERT INTO reports (device, program, media, pos, status, source, bytes, ms,"
            " errors, underruns, underrun_ms, seq, advanced, at, mounts, owner_account)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?,"
            " (SELECT owner_account FROM media WHERE id = ?))",
            (device, cur[0] if cur else None, rep["id"], rep["pos"], rep["status"],
             rep["src"], rep["bytes"], rep["ms"], errors, rep.get("underruns", 0),
             rep.get("underrun_ms", 0), rep.get("seq"), int(advanced), now,
             None if rep.get("mounts") is None else json.dumps(rep["mounts"]), rep["id"]))
        await self.db.activity.reported(c, device, rep, now)
        if advanced:
            pos = (pos + 1) % cur[2]
            await c.execute("UPDATE entitlements SET pos = ? WHERE device = ? AND program = ?",
                            (pos, device, cur[0]))
        return True, pos

    async def prune_reports(self, before):
        """Delete reports made before that time, each rolled up first into the daily usage
        figures in the transaction that deletes it (db/usage.py), PRUNE_BATCH at a time (a
        first prune of a long history holds neither the write lock nor much memory for long);
        returns how many."""
        deleted = 0
        while True:
            async with self.db.transaction() as c:
                last = await self.db.usage.roll_up(c, "at < ?", (before,), PRUNE_BATCH)
                if last is None:
                    return deleted
                deleted += await c.execute("DELETE FROM reports WHERE at < ? AND id <= ?",
                                           (before, last))

    async def reports(self, device=None, failed_only=False, limit=REPORTS_SHOWN, offset=0,
                      media=None):
        """The latest reports, newest first: [{id, device, program, media, title, pos, status,
        src, bytes, ms, underruns, underrun_ms, errors, advanced, at, a stream's mounts}]; of one device, of one
        media, or only those that failed or met a failing source; offset skips that many of the
        newest (a page). What the CLI and the dashboard both list."""
        sql = ("SELECT r.id, r.device, r.program, r.media, m.title, r.pos, r.status, r.source,"
               " r.bytes, r.ms, r.underruns, r.underrun_ms, r.errors, r.advanced, r.at, r.mounts"
               " FROM reports r LEFT JOIN media m ON m.id = r.media")
        where, args = [], []
        if device is not None:
            where.append("r.device = ?")
            args.append(device)
        if failed_only:
            where.append("(r.status = 'failed' OR r.errors != '[]')")
        if media is not None:
            where.append("r.media = ?")
            args.append(media)
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY r.id DESC LIMIT ? OFFSET ?"
        args += [limit, offset]
        out = []
        for row in await self.db.fetchall(sql, args):
            rep = dict(zip(_REPORT_KEYS, row))
            rep["errors"] = json.loads(rep["errors"])
            rep["advanced"] = bool(rep["advanced"])
            if rep["mounts"] is None:   # a stored file's: no mounts
                del rep["mounts"]
            else:
                rep["mounts"] = json.loads(rep["mounts"])
            out.append(rep)
        return out
