"""Queries for file server health (table file_servers, migration 0004)."""

from . import catalog


async def known_addresses(db):
    """Every file server address named by a media record, as primary or alternate."""
    rows = await db.fetchall("SELECT primary_address FROM media UNION"
                             " SELECT address FROM media_alternates")
    return {r[0] for r in rows}


async def probe_targets(db):
    """{address: URL of one file that server should hold} (the lowest media id it serves)."""
    targets = {}
    rows = await db.fetchall(
        "SELECT primary_address, primary_directory, file_name FROM media m WHERE id ="
        " (SELECT min(id) FROM media WHERE primary_address = m.primary_address)")
    rows += await db.fetchall(
        "SELECT a.address, a.directory, m.file_name FROM media_alternates a"
        " JOIN media m ON m.id = a.media WHERE a.media ="
        " (SELECT min(media) FROM media_alternates WHERE address = a.address)"
        " ORDER BY a.seq")
    for address, directory, name in rows:
        targets.setdefault(address, catalog.source_url(address, directory, name))
    return targets


async def states(db):
    """{address: (up, since, why, checked)} of every server checked so far."""
    return {r[0]: (bool(r[1]), r[2], r[3], r[4]) for r in await db.fetchall(
        "SELECT address, up, since, why, checked FROM file_servers")}


async def record(db, results):
    """Store [(address, up, why)] seen now; since moves only when up changes.

    Returns the addresses whose state changed (new ones included).
    """
    now = db.clock()
    changed = []
    async with db.transaction() as c:
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
