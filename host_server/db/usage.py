"""Usage statements (tables usage_daily, usage_devices, migration 0012): what devices' reports
say per day, owner, media item and file server, from the live reports and the daily rollup of
those pruned (model/usage.py counts them).

A report is rolled up in the transaction that deletes it (Devices.prune_reports, and
Devices.remove: a removed device's plays stay in its owners' statements), so at every moment
the rollup and the live reports together hold each report exactly once.
"""

from ..model import usage

_ROLL_UP = "SELECT id, at, device, owner_account, media, status, source, bytes, errors FROM reports"
_COUNTS = ", ".join(usage.COUNTS)
_KEY = "day, owner_account, media, server"
_NONE = dict.fromkeys(usage.COUNTS, 0)


def _where(owner, since, until, day_column=None):
    """SQL conditions and args for an owner and a range of days (inclusive), on the reports
    (by time) or on the rollup (by day_column)."""
    where, args = [], []
    if owner is not None and (day_column or owner != usage.NO_OWNER):
        where.append("owner_account = ?")
        args.append(owner)
    elif owner is not None:
        where.append("owner_account IS NULL")
    if since is not None:
        where.append(f"{day_column} >= ?" if day_column else "at >= ?")
        args.append(since if day_column else usage.day_start(since))
    if until is not None:
        where.append(f"{day_column} <= ?" if day_column else "at < ?")
        args.append(until if day_column else usage.day_start(until) + 86400)
    return (" WHERE " + " AND ".join(where)) if where else "", args


class Usage:
    def __init__(self, db):
        self.db = db

    async def roll_up(self, c, where, args, limit=None):
        """Add what the reports WHERE <where> say (the first limit of them by id) to the daily
        rollup, inside c (the transaction that then deletes them: a prune, a device's
        removal). Returns the highest report id read, or None when there was none."""
        sql = _ROLL_UP + " WHERE " + where
        if limit is not None:
            sql, args = sql + " ORDER BY id LIMIT ?", tuple(args) + (limit,)
        rows = await c.fetchall(sql, args)
        figures = usage.tally(row[1:] for row in rows)
        await c.executemany(
            f"INSERT INTO usage_daily ({_KEY}, {_COUNTS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
            f" ON CONFLICT ({_KEY}) DO UPDATE SET "
            + ", ".join(f"{n} = usage_daily.{n} + excluded.{n}" for n in usage.COUNTS),
            [key + tuple(one[n] for n in usage.COUNTS) for key, one in figures.items()])
        await c.executemany(
            f"INSERT INTO usage_devices ({_KEY}, device) VALUES (?, ?, ?, ?, ?)"
            " ON CONFLICT DO NOTHING",
            [key + (device,) for key, one in figures.items() for device in sorted(one["devices"])])
        return max((row[0] for row in rows), default=None)

    async def statement(self, owner=None, since=None, until=None, by=usage.KEY):
        """{"rows": [{day, owner, media, title, server, plays, failed, bytes, source_errors,
        failovers_away, failovers_onto, devices}], "totals": {...}} over the days since..until
        (inclusive, 'YYYY-MM-DD' UTC; None: no bound) of one owner account (None: every one),
        the rollup and the live reports together; a row for each value of the key fields in by
        (model.usage.statement; title comes with media)."""
        since, until = usage.check_day(since, "since"), usage.check_day(until, "until")
        # one statement, so one snapshot on either engine: a prune that commits meanwhile
        # cannot make a report count twice (live and rolled up) or not at all
        rollup, rollup_args = _where(owner, since, until, "day")
        live, live_args = _where(owner, since, until)
        # columns: kind, day, owner, media, server, device, at, status, errors, the counts
        # (PostgreSQL types a UNION's columns branch by branch: the first NULL of at is typed)
        rows = await self.db.fetchall(
            f"SELECT 'd', {_KEY}, NULL, CAST(NULL AS DOUBLE PRECISION), NULL, NULL, {_COUNTS}"
            f" FROM usage_daily{rollup}"
            f" UNION ALL SELECT 'v', {_KEY}, device, NULL, NULL, NULL,"
            f" NULL, NULL, NULL, NULL, NULL, NULL FROM usage_devices{rollup}"
            f" UNION ALL SELECT 'r', NULL, owner_account, media, source, device, at, status,"
            f" errors, NULL, NULL, bytes, NULL, NULL, NULL FROM reports{live}",
            rollup_args + rollup_args + live_args)
        figures, reports = {}, []
        for row in rows:
            if row[0] == "d":
                usage.add(figures, tuple(row[1:5]), dict(zip(usage.COUNTS, row[9:])))
            elif row[0] == "v":
                usage.add(figures, tuple(row[1:5]), _NONE, (row[5],))
            else:
                reports.append((row[6], row[5], row[2], row[3], row[7], row[4], row[11], row[8]))
        usage.tally(reports, figures)
        doc = usage.statement(figures, by)
        if "media" in by:
            await self._titles(doc["rows"], owner)
        return doc

    async def _titles(self, rows, owner):
        """Each row's media title, "" once the item is removed or its id is now another
        owner's (an id SQLite gives again must not show another owner's title): the row's
        owner, else the statement's (owner, None for every one: the operator sees all)."""
        ids = sorted({r["media"] for r in rows})
        titles = {}
        for start in range(0, len(ids), 500):
            part = ids[start:start + 500]
            for media, title, account in await self.db.fetchall(
                    "SELECT id, title, owner_account FROM media WHERE id IN (%s)"
                    % ", ".join("?" * len(part)), part):
                titles[media] = (title, usage.NO_OWNER if account is None else account)
        for r in rows:
            title, account = titles.get(r["media"], ("", None))
            if "owner" in r:
                whose = usage.NO_OWNER if r["owner"] is None else r["owner"]
            else:
                whose = owner   # None: every owner's, all in one row: any title
            r["title"] = title if whose is None or whose == account else ""
