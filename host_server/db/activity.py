"""What each device is doing (table device_activity): the item it was last handed, whether it
finished it, its last error. Written on the device path (GET /next, a report), read by the
dashboard's devices page."""

ERROR_TEXT_LIMIT = 512

# GET /next and /horizon handed this item out. The same item again, not reported yet (the device
# crashed, or asked twice), keeps the time it was first handed out; anything else is a new play.
_HANDED = (
    "INSERT INTO device_activity (device, seen, program, media, pos, handed_at, done)"
    " VALUES (?, ?, ?, ?, ?, ?, 0) ON CONFLICT (device) DO UPDATE SET seen = excluded.seen,"
    " program = excluded.program, media = excluded.media, pos = excluded.pos, done = 0,"
    " stream_title = CASE WHEN device_activity.media IS NOT DISTINCT FROM excluded.media"
    "  AND device_activity.pos IS NOT DISTINCT FROM excluded.pos"
    "  THEN device_activity.stream_title END,"
    " handed_at = CASE WHEN device_activity.media IS NOT DISTINCT FROM excluded.media"
    "  AND device_activity.pos IS NOT DISTINCT FROM excluded.pos"
    "  AND device_activity.program IS NOT DISTINCT FROM excluded.program"
    "  AND device_activity.done = 0"
    "  THEN device_activity.handed_at ELSE excluded.handed_at END")


class Activity:
    def __init__(self, db):
        self.db = db

    async def handed_out(self, device, program, media, pos):
        """GET /horizon handed this item out: one upsert of the device's row."""
        now = self.db.clock()
        await self.db.execute(_HANDED, (device, now, program, media, pos, now))

    async def write_handed(self, rows, c=None):
        """GET /next's batch (services/hotpath.py): [(device, program, media, pos, first
        handed out, last handed out)], one upsert each, in one transaction (or inside c)."""
        args = [(d, last, program, media, pos, first) for d, program, media, pos, first, last in rows]
        if c is not None:
            await c.executemany(_HANDED, args)
            return
        async with self.db.transaction() as t:
            await t.executemany(_HANDED, args)

    async def stream_title(self, device, media, title):
        """The device's live stream (media) is playing title now; ignored unless that is the
        item it was last handed (a late title must not label the next item)."""
        await self.db.execute(
            "UPDATE device_activity SET stream_title = ?, seen = ? WHERE device = ? AND media = ?",
            (title, self.db.clock(), device, media))

    async def reported(self, c, device, rep, now):
        """A report came in (inside devices.add_report's transaction c)."""
        error = None
        if rep["status"] == "failed" or rep["errors"]:
            error = "; ".join(f"{url} {why}" for url, why in rep["errors"]) or "failed"
            error = error[:ERROR_TEXT_LIMIT]
        await c.execute(
            "INSERT INTO device_activity (device, seen, reported_at, last_status, error, error_at)"
            " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (device) DO UPDATE SET seen = excluded.seen,"
            " reported_at = excluded.reported_at, last_status = excluded.last_status,"
            " done = CASE WHEN device_activity.media IS NOT DISTINCT FROM ?"
            "  AND device_activity.pos IS NOT DISTINCT FROM ? THEN 1"
            "  ELSE device_activity.done END,"
            " error = coalesce(excluded.error, device_activity.error),"
            " error_at = coalesce(excluded.error_at, device_activity.error_at)",
            (device, now, now, rep["status"], error, now if error else None, rep["id"], rep["pos"]))

    async def overview(self, online_window):
        """Each device with its programs, what it was last handed, its last error and the
        firmware version it sent at its last login."""
        now = self.db.clock()
        rows = await self.db.fetchall(
            "SELECT d.id, d.name, coalesce(d.selected_program, d.default_program), d.default_program,"
            " a.seen, a.program, p.name, a.media, m.title, a.pos, a.handed_at, a.done,"
            " a.last_status, a.error, a.error_at, d.firmware, a.stream_title"
            " FROM devices d LEFT JOIN device_activity a ON a.device = d.id"
            " LEFT JOIN programs p ON p.id = a.program LEFT JOIN media m ON m.id = a.media"
            " ORDER BY d.id")
        names = dict(await self.db.fetchall("SELECT id, name FROM programs"))
        out = []
        for (dev, name, plays, default, seen, program, program_name, media, title, pos, handed,
             done, status, error, error_at, firmware, stream_title) in rows:
            playing = None
            if media is not None:
                playing = {"program": program, "program_name": program_name or "", "media": media,
                           "title": title or "", "pos": pos, "since": handed,
                           "finished": bool(done), "status": status if done else None,
                           "stream_title": stream_title}
            out.append({
                "id": dev, "name": name,
                "program": plays, "program_name": names.get(plays, ""), "default": default,
                "online": seen is not None and now - seen <= online_window, "seen": seen,
                "playing": playing,
                "error": {"text": error, "at": error_at} if error else None,
                "firmware": firmware,
            })
        return out
