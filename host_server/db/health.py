"""File servers' health (table file_servers, migration 0004): which are down, why, since when."""

from ..model import catalog

NOT_CHECKED = "not checked yet"   # the why of a server no probe or report has seen yet
_ORDER = {False: 0, None: 1, True: 2}   # down first, then never checked, then up


class FileServerHealth:
    def __init__(self, db):
        self.db = db

    async def known_addresses(self):
        """Every file server address named by a media record, as primary or alternate."""
        rows = await self.db.fetchall("SELECT primary_address FROM media UNION"
                                      " SELECT address FROM media_alternates")
        return {r[0] for r in rows}

    async def probe_targets(self):
        """{address: URL of one file that server should hold} (the lowest media id it serves)."""
        targets = {}
        rows = await self.db.fetchall(
            "SELECT primary_address, primary_directory, file_name FROM media m WHERE id ="
            " (SELECT min(id) FROM media WHERE primary_address = m.primary_address)")
        rows += await self.db.fetchall(
            "SELECT a.address, a.directory, m.file_name FROM media_alternates a"
            " JOIN media m ON m.id = a.media WHERE a.media ="
            " (SELECT min(media) FROM media_alternates WHERE address = a.address)"
            " ORDER BY a.seq")
        for address, directory, name in rows:
            targets.setdefault(address, catalog.source_url(address, directory, name))
        return targets

    async def states(self):
        """{address: (up, since, why, checked)} of every server checked so far."""
        return {r[0]: (bool(r[1]), r[2], r[3], r[4]) for r in await self.db.fetchall(
            "SELECT address, up, since, why, checked FROM file_servers")}

    async def list_servers(self):
        """Every known file server: [{address, up, since, why, checked}], down ones first, then
        those never checked, then those up. What the CLI and the dashboard both list.

        up is None (and since, checked are None) for a server never checked yet; times are Unix
        seconds; why says why a server is down, or what last saw it up.
        """
        states = await self.states()
        out = []
        for address in await self.known_addresses() | set(states):
            up, since, why, checked = states.get(address, (None, None, NOT_CHECKED, None))
            out.append({"address": address, "up": up, "since": since, "why": why, "checked": checked})
        out.sort(key=lambda s: (_ORDER[s["up"]], s["address"]))
        return out

    async def record(self, results):
        """Store [(address, up, why)] seen now; since moves only when up changes.

        Returns the addresses whose state changed (new ones included).
        """
        now = self.db.clock()
        changed = []
        async with self.db.transaction() as c:
            for address, up, why in results:
                row = await c.fetchone("SELECT up FROM file_servers WHERE address = ?", (address,))
                if row is None or bool(row[0]) != up:
                    changed.append(address)
                    await c.execute("INSERT INTO file_servers (address, up, since, why, checked)"
                                    " VALUES (?, ?, ?, ?, ?) ON CONFLICT (address) DO UPDATE SET"
                                    " up = excluded.up, since = excluded.since, why = excluded.why,"
                                    " checked = excluded.checked", (address, int(up), now, why, now))
                else:
                    await c.execute("UPDATE file_servers SET why = ?, checked = ? WHERE address = ?",
                                    (why, now, address))
        return changed
