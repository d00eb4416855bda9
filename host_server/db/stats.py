"""Figures for the operator's overview and the meta server's metrics, derived from what the device
path writes already (reports, device_activity, key_requests): no table of their own.

Grouping by file server (an address, from a source URL) is the dashboard's: this store groups by
the URL as reported.

Reports have no index on their time (a migration could add one): the figures of the last hours
read the reports from the first one of that time on, found by a binary search over report ids
(which grow with time), so that a day's figures never scan 90 days of reports.
"""

import json

ONLINE_WINDOW = 600    # s: a device that asked for or reported an item within this is online
HOUR = 3600
RETRYING_AFTER = 120   # s: asking again for an item handed out this long ago, not reported: stuck
FAILURE_RUN = 50       # a device's latest reports looked at for its run of failures


class Stats:
    def __init__(self, db):
        self.db = db

    async def device_counts(self, window=ONLINE_WINDOW):
        """{"devices": known, "online": seen within window}."""
        row = await self.db.fetchone(
            "SELECT (SELECT count(*) FROM devices),"
            " (SELECT count(*) FROM device_activity a JOIN devices d ON d.id = a.device"
            "  WHERE a.seen >= ?)", (self.db.clock() - window,))
        return {"devices": row[0], "online": row[1]}

    async def first_since(self, since):
        """The lowest id of a report made at or after `since` (None: none is)."""
        lo, hi = await self.db.fetchone("SELECT min(id), max(id) FROM reports")
        if hi is None:
            return None
        found = None
        while lo <= hi:   # about 25 point queries for 30 million reports
            mid = (lo + hi) // 2
            row = await self.db.fetchone(
                "SELECT id, at FROM reports WHERE id >= ? ORDER BY id LIMIT 1", (mid,))
            if row is None:
                hi = mid - 1
            elif row[1] >= since:
                found, hi = row[0], mid - 1
            else:
                lo = row[0] + 1
        return found

    async def hourly(self, hours=24):
        """[{hour, played, failed}] of the last `hours` whole hours and the one under way,
        oldest first, an hour with no report included (hour: its start, Unix seconds)."""
        now = self.db.clock()
        last = int(now) // HOUR
        first = last - hours
        start = await self.first_since(first * HOUR)
        # BIGINT: both engines' 64-bit integer (an int4 ends in 2038); PostgreSQL rounds where
        # SQLite truncates, which moves a report at most half a second across an hour's edge
        rows = [] if start is None else await self.db.fetchall(
            "SELECT CAST(at AS BIGINT) / 3600, status, count(*) FROM reports WHERE id >= ?"
            " AND at >= ? GROUP BY CAST(at AS BIGINT) / 3600, status", (start, first * HOUR))
        counts = {(h, status): n for h, status, n in rows}
        return [{"hour": h * HOUR, "played": counts.get((h, "played"), 0),
                 "failed": counts.get((h, "failed"), 0)} for h in range(first, last + 1)]

    async def served(self, since):
        """{source URL: (bytes, items)} of the items played in full since then."""
        start = await self.first_since(since)
        rows = [] if start is None else await self.db.fetchall(
            "SELECT source, sum(bytes), count(*) FROM reports WHERE id >= ? AND at >= ?"
            " AND status = 'played' AND source IS NOT NULL GROUP BY source", (start, since))
        return {src: (int(n_bytes or 0), items) for src, n_bytes, items in rows}

    async def underruns(self, since):
        """(underruns, their milliseconds, items with any) reported since then."""
        start = await self.first_since(since)
        row = None if start is None else await self.db.fetchone(
            "SELECT sum(underruns), sum(underrun_ms), count(*) FROM reports WHERE id >= ?"
            " AND at >= ? AND underruns > 0", (start, since))
        return (int(row[0] or 0), int(row[1] or 0), row[2]) if row else (0, 0, 0)

    async def source_errors(self, since):
        """{source URL: {reason: count}} of the sources devices left for the next one (a
        failover) since then."""
        out = {}
        start = await self.first_since(since)
        for text, n in [] if start is None else await self.db.fetchall(
                "SELECT errors, count(*) FROM reports WHERE id >= ? AND at >= ? AND errors != '[]'"
                " GROUP BY errors", (start, since)):
            for url, why in json.loads(text):
                reasons = out.setdefault(url, {})
                reasons[why] = reasons.get(why, 0) + n
        return out

    async def trouble(self, devices):
        """{device id: {kind, why, since, media}} of the devices of activity.overview that are
        stuck: "failing" (its latest reports are failures: since the first of them), or
        "retrying" (it asks for an item it was handed RETRYING_AFTER or more ago and has not
        reported: since it was first handed out; why from its key requests when it has any)."""
        out = {}
        # each device's last report: one indexed look-up a device, in one query
        failed_last = {r[0] for r in await self.db.fetchall(
            "SELECT d.id, (SELECT status FROM reports WHERE device = d.id ORDER BY id DESC"
            " LIMIT 1) FROM devices d") if r[1] == "failed"}
        for d in devices:
            if d["id"] in failed_last:
                out[d["id"]] = await self._failing(d["id"])
            playing = d["playing"]
            if (playing and not playing["finished"] and d["seen"] is not None
                    and d["seen"] - playing["since"] >= RETRYING_AFTER):
                out[d["id"]] = await self._retrying(d["id"], playing)
        return {k: v for k, v in out.items() if v}

    async def _failing(self, device):
        rows = await self.db.fetchall(
            "SELECT status, at, errors, media FROM reports WHERE device = ? ORDER BY id DESC"
            " LIMIT ?", (device, FAILURE_RUN))
        run = []
        for row in rows:
            if row[0] != "failed":
                break
            run.append(row)
        if not run:
            return None
        errors = json.loads(run[0][2])
        why = "; ".join(f"{url} {reason}" for url, reason in errors) or "failed"
        return {"kind": "failing", "why": f"{len(run)}{'+' if len(run) == FAILURE_RUN else ''}"
                f" failed report(s) in a row, the last: {why}", "since": run[-1][1],
                "media": run[0][3]}

    async def _retrying(self, device, playing):
        row = await self.db.fetchone(
            "SELECT status, why, at FROM key_requests WHERE device = ? AND media = ? AND at >= ?"
            " ORDER BY id DESC LIMIT 1", (device, playing["media"], playing["since"]))
        why = "asks for it again and again without reporting it (see the device's log)"
        if row is not None and row[0] != 200:
            why = f"its key requests are refused: {row[0]} {row[1]}".rstrip()
        elif row is not None:
            why = "its keys are granted but it never reports the item (see the device's log)"
        return {"kind": "retrying", "why": f"item {playing['pos'] + 1} (media {playing['media']}):"
                f" {why}", "since": playing["since"], "media": playing["media"]}
