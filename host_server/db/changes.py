"""The change feed: what changed a device's token, program, position or entitlements, or the
catalog's items, for the replicas that hold them in memory (services/hotpath.py).

A store method that changes any of those calls `record(c, device)` inside its write
transaction (device None: the catalog, a program or a weight, anything may have changed). The
row commits with the change or not at all. `record` also tells this process's listeners, after
the current step of the event loop (the commit has run by then on SQLite; on PostgreSQL the
feed's next read is the guarantee). Rows are written only inside exclusive transactions
(`db.transaction()` without a device), which are serial on every engine, so a reader that
remembers the last id it saw misses none.
"""

import asyncio

KEEP = 300.0   # s a row is kept (a replica that has not read the feed for longer starts afresh)


class Changes:
    def __init__(self, db):
        self.db = db
        self.listeners = []   # callables(device or None), called after a change made here

    async def record(self, c, device=None):
        await c.execute("INSERT INTO changes (device, at) VALUES (?, ?)", (device, self.db.clock()))
        if self.listeners:
            loop = asyncio.get_running_loop()
            for listener in self.listeners:
                loop.call_soon(listener, device)

    async def latest(self):
        """The id of the newest row (0: none)."""
        row = await self.db.fetchone("SELECT max(id) FROM changes")
        return row[0] or 0

    async def since(self, after):
        """[(id, device)] of the rows after that id, oldest first."""
        return await self.db.fetchall("SELECT id, device FROM changes WHERE id > ? ORDER BY id",
                                      (after,))

    async def prune(self):
        async with self.db.transaction() as c:
            return await c.execute("DELETE FROM changes WHERE at < ?", (self.db.clock() - KEEP,))
