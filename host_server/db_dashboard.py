"""The operator dashboard's queries: operators and their sessions, what devices are doing,
reordering programs, and read-only views of owners and file servers' health.

Functions take the Database (db.py) and use its connection and its one write transaction.
record_handed_out and record_report are the hooks db.py calls on GET /next and on a report.
"""

import json

from .errors import Conflict, Invalid, NotFound

ERROR_TEXT_LIMIT = 512


# -- hooks from the device path (db.py) ----------------------------------------------------

async def record_handed_out(conn, device, program, media, pos, now):
    """GET /next handed this item out: one upsert of the device's row."""
    # The same item again, not reported yet (the device crashed, or asked twice), keeps the
    # time it was first handed out; anything else is a new play.
    await conn.execute(
        "INSERT INTO device_activity (device, seen, program, media, pos, handed_at, done)"
        " VALUES (?, ?, ?, ?, ?, ?, 0) ON CONFLICT (device) DO UPDATE SET seen = excluded.seen,"
        " program = excluded.program, media = excluded.media, pos = excluded.pos, done = 0,"
        " handed_at = CASE WHEN device_activity.media IS NOT DISTINCT FROM excluded.media"
        "  AND device_activity.pos IS NOT DISTINCT FROM excluded.pos"
        "  AND device_activity.program IS NOT DISTINCT FROM excluded.program"
        "  AND device_activity.done = 0"
        "  THEN device_activity.handed_at ELSE excluded.handed_at END",
        (device, now, program, media, pos, now))


async def record_report(conn, device, rep, now):
    """A report came in (inside db.py's write transaction)."""
    error = None
    if rep["status"] == "failed" or rep["errors"]:
        error = "; ".join(f"{url} {why}" for url, why in rep["errors"]) or "failed"
        error = error[:ERROR_TEXT_LIMIT]
    await conn.execute(
        "INSERT INTO device_activity (device, seen, reported_at, last_status, error, error_at)"
        " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (device) DO UPDATE SET seen = excluded.seen,"
        " reported_at = excluded.reported_at, last_status = excluded.last_status,"
        " done = CASE WHEN device_activity.media IS NOT DISTINCT FROM ?"
        "  AND device_activity.pos IS NOT DISTINCT FROM ? THEN 1"
        "  ELSE device_activity.done END,"
        " error = coalesce(excluded.error, device_activity.error),"
        " error_at = coalesce(excluded.error_at, device_activity.error_at)",
        (device, now, now, rep["status"], error, now if error else None, rep["id"], rep["pos"]))


# -- operators and sessions -----------------------------------------------------------------

async def add_operator(db, name, password_hash):
    async with db.transaction() as c:
        if await c.fetchone("SELECT 1 FROM operators WHERE name = ?", (name,)):
            raise Conflict(f"operator {name!r} already exists")
        await c.execute("INSERT INTO operators (name, password, created) VALUES (?, ?, ?)",
                        (name, password_hash, db.clock()))


async def set_operator_password(db, name, password_hash):
    """A new password; the operator's sessions end."""
    async with db.transaction() as c:
        if await c.execute("UPDATE operators SET password = ? WHERE name = ?",
                           (password_hash, name)) == 0:
            raise NotFound(f"no operator {name!r}")
        await c.execute("DELETE FROM operator_sessions WHERE operator = ?", (name,))


async def operator_password(db, name):
    row = await db.fetchone("SELECT password FROM operators WHERE name = ?", (name,))
    return row[0] if row else None


async def list_operators(db):
    return [{"name": r[0], "created": r[1]} for r in await db.fetchall(
        "SELECT name, created FROM operators ORDER BY name")]


async def add_session(db, token_sha256, operator, csrf, ttl):
    now = db.clock()
    async with db.transaction() as c:
        await c.execute("DELETE FROM operator_sessions WHERE expires <= ?", (now,))
        await c.execute("INSERT INTO operator_sessions (token_sha256, operator, csrf, expires)"
                        " VALUES (?, ?, ?, ?)", (token_sha256, operator, csrf, now + ttl))


async def session(db, token_sha256):
    """(operator, csrf) of a live session, or None."""
    row = await db.fetchone(
        "SELECT operator, csrf, expires FROM operator_sessions WHERE token_sha256 = ?",
        (token_sha256,))
    if row is None or row[2] <= db.clock():
        return None
    return row[0], row[1]


async def end_session(db, token_sha256):
    async with db.transaction() as c:
        await c.execute("DELETE FROM operator_sessions WHERE token_sha256 = ?", (token_sha256,))


# -- what devices are doing -------------------------------------------------------------------

async def devices_overview(db, online_window):
    """Each device with its programs, what it was last handed, and its last error."""
    now = db.clock()
    rows = await db.fetchall(
        "SELECT d.id, d.name, coalesce(d.selected_program, d.default_program), d.default_program,"
        " a.seen, a.program, p.name, a.media, m.title, a.pos, a.handed_at, a.done,"
        " a.last_status, a.error, a.error_at"
        " FROM devices d LEFT JOIN device_activity a ON a.device = d.id"
        " LEFT JOIN programs p ON p.id = a.program LEFT JOIN media m ON m.id = a.media"
        " ORDER BY d.id")
    names = dict(await db.fetchall("SELECT id, name FROM programs"))
    out = []
    for (dev, name, plays, default, seen, program, program_name, media, title, pos, handed,
         done, status, error, error_at) in rows:
        playing = None
        if media is not None:
            playing = {"program": program, "program_name": program_name or "", "media": media,
                       "title": title or "", "pos": pos, "since": handed,
                       "finished": bool(done), "status": status if done else None}
        out.append({
            "id": dev, "name": name,
            "program": plays, "program_name": names.get(plays, ""), "default": default,
            "online": seen is not None and now - seen <= online_window, "seen": seen,
            "playing": playing,
            "error": {"text": error, "at": error_at} if error else None,
        })
    return out


async def recent_reports(db, limit=100, failed_only=False):
    sql = ("SELECT r.id, r.device, r.program, r.media, m.title, r.pos, r.status, r.source,"
           " r.bytes, r.ms, r.errors, r.at FROM reports r LEFT JOIN media m ON m.id = r.media")
    if failed_only:
        sql += " WHERE r.status = 'failed' OR r.errors != '[]'"
    sql += " ORDER BY r.id DESC LIMIT ?"
    keys = ("id", "device", "program", "media", "title", "pos", "status", "src", "bytes", "ms",
            "errors", "at")
    out = []
    for row in await db.fetchall(sql, (limit,)):
        rep = dict(zip(keys, row))
        rep["errors"] = json.loads(rep["errors"])
        out.append(rep)
    return out


# -- programs ----------------------------------------------------------------------------------

async def programs_with_items(db):
    out = []
    for pid, name in await db.fetchall("SELECT id, name FROM programs ORDER BY id"):
        items = [{"pos": r[0], "media": r[1], "title": r[2]} for r in await db.fetchall(
            "SELECT pi.pos, pi.media, m.title FROM program_items pi JOIN media m ON m.id = pi.media"
            " WHERE pi.program = ? ORDER BY pi.pos", (pid,))]
        devices = [r[0] for r in await db.fetchall(
            "SELECT device FROM entitlements WHERE program = ? ORDER BY device", (pid,))]
        out.append({"id": pid, "name": name, "items": items, "devices": devices})
    return out


async def move_item(db, program, pos, delta):
    """Swap the item at pos with its neighbour pos+delta (delta -1 or +1).

    Devices keep their stored positions: a device moves on to whatever is at its next
    position, as after any change of the program.
    """
    if delta not in (-1, 1):
        raise Invalid("an item moves one place up or down")
    async with db.transaction() as c:
        row = await c.fetchone("SELECT n_items FROM programs WHERE id = ?", (program,))
        if row is None:
            raise NotFound(f"no program {program}")
        other = pos + delta
        if not (0 <= pos < row[0] and 0 <= other < row[0]):
            raise Invalid(f"cannot move item {pos + 1} of {row[0]} {'up' if delta < 0 else 'down'}")
        a = (await c.fetchone("SELECT media FROM program_items WHERE program = ? AND pos = ?",
                              (program, pos)))[0]
        b = (await c.fetchone("SELECT media FROM program_items WHERE program = ? AND pos = ?",
                              (program, other)))[0]
        await c.execute("UPDATE program_items SET media = ? WHERE program = ? AND pos = ?",
                        (b, program, pos))
        await c.execute("UPDATE program_items SET media = ? WHERE program = ? AND pos = ?",
                        (a, program, other))


# -- owners and file servers (tables of the owners' migrations, when present) ----------------

async def owners(db):
    """[{id, name, created, revoked, media}]"""
    counts = dict(await db.fetchall(
        "SELECT owner_account, count(*) FROM media WHERE owner_account IS NOT NULL"
        " GROUP BY owner_account"))
    return [{"id": r[0], "name": r[1], "created": r[2], "revoked": r[3],
             "media": counts.get(r[0], 0)} for r in await db.fetchall(
        "SELECT id, name, created, revoked FROM owners ORDER BY name")]


async def file_servers(db):
    """[{address, up, since, why, checked}]

    Every address that media records name is listed; one never checked has up = None.
    """
    known = {r[0]: {"address": r[0], "up": bool(r[1]), "since": r[2], "why": r[3],
                    "checked": r[4]} for r in await db.fetchall(
        "SELECT address, up, since, why, checked FROM file_servers")}
    for (address,) in await db.fetchall(
            "SELECT primary_address FROM media UNION SELECT address FROM media_alternates"):
        known.setdefault(address, {"address": address, "up": None, "since": None, "why": "",
                                   "checked": None})
    return sorted(known.values(), key=lambda s: (s["up"] is not False, s["address"]))


# -- failed sign-ins (the dashboard's lockout, sessions.SignInLimiter) ------------------------

async def sign_in_failures(db, name, since):
    """(count, oldest time) of failed sign-ins as name after since."""
    row = await db.fetchone("SELECT count(*), min(at) FROM operator_sign_in_failures"
                            " WHERE name = ? AND at > ?", (name, since))
    return row[0], row[1]


async def add_sign_in_failure(db, name, now, forget_before):
    async with db.transaction() as c:
        await c.execute("DELETE FROM operator_sign_in_failures WHERE at <= ?", (forget_before,))
        await c.execute("INSERT INTO operator_sign_in_failures (name, at) VALUES (?, ?)", (name, now))


async def clear_sign_in_failures(db, name):
    async with db.transaction() as c:
        await c.execute("DELETE FROM operator_sign_in_failures WHERE name = ?", (name,))
