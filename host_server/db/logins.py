"""Device login's rows: single-use nonces, tokens (by their sha256) and failed logins.

The login path is the hot one in a boot storm: its statements each stand alone (one row of one
device: nothing read and then written), so they run outside a write transaction, one round trip
each on PostgreSQL; expired rows are swept now and then, not every time.
"""

from ..model.errors import NotFound

SWEEP_EVERY = 10.0   # s between deletions of expired login nonces and tokens


class Logins:
    def __init__(self, db):
        self.db = db
        self._swept = float("-inf")

    async def _sweep(self, now):
        """Delete expired login nonces and tokens, at most every SWEEP_EVERY seconds (they are
        checked for expiry when used, so a late sweep only keeps dead rows a little longer)."""
        if now - self._swept < SWEEP_EVERY:
            return
        self._swept = now
        async with self.db.transaction() as c:
            await c.execute("DELETE FROM login_nonces WHERE expires <= ?", (now,))
            await c.execute("DELETE FROM tokens WHERE expires <= ?", (now,))

    async def add_nonce(self, nonce, device, ttl):
        now = self.db.clock()
        await self._sweep(now)
        await self.db.execute("INSERT INTO login_nonces (nonce, device, expires) VALUES (?, ?, ?)",
                              (nonce, device, now + ttl))

    async def consume_nonce(self, nonce, device):
        """True when the nonce was issued to this device and has not expired; never twice (one
        DELETE: of two concurrent requests with the same nonce, one gets the row)."""
        rows = await self.db.fetchall(
            "DELETE FROM login_nonces WHERE nonce = ? AND device = ? RETURNING expires",
            (nonce, device))
        return bool(rows) and rows[0][0] > self.db.clock()

    async def device_secret(self, device):
        row = await self.db.fetchone("SELECT secret FROM devices WHERE id = ?", (device,))
        return row[0] if row else None

    async def recent_failures(self, device, address, window):
        """((count, oldest time) for the device, (count, oldest) from the network address) of
        failed logins within the last window seconds, in one query."""
        row = await self.db.fetchone(
            "SELECT count(*) FILTER (WHERE device = ?), min(at) FILTER (WHERE device = ?),"
            " count(*) FILTER (WHERE address = ?), min(at) FILTER (WHERE address = ?)"
            " FROM login_failures WHERE at > ? AND (device = ? OR address = ?)",
            (device, device, address, address, self.db.clock() - window, device, address))
        return (row[0], row[1]), (row[2], row[3])

    async def add_failure(self, device, window, address=""):
        now = self.db.clock()
        async with self.db.transaction() as c:
            await c.execute("DELETE FROM login_failures WHERE at <= ?", (now - window,))
            await c.execute("INSERT INTO login_failures (device, at, address) VALUES (?, ?, ?)",
                            (device, now, address))

    async def revoke_tokens(self, device):
        """Every token of the device stops working at once; returns how many there were."""
        async with self.db.transaction() as c:
            if await c.fetchone("SELECT 1 FROM devices WHERE id = ?", (device,)) is None:
                raise NotFound(f"no device {device!r}")
            return await c.execute("DELETE FROM tokens WHERE device = ?", (device,))

    async def add_token(self, token_sha256, device, ttl):
        """Store a token (by its hash) and forget this device's failures."""
        now = self.db.clock()
        await self._sweep(now)
        await self.db.execute("DELETE FROM login_failures WHERE device = ?", (device,))
        await self.db.execute("INSERT INTO tokens (token_sha256, device, expires) VALUES (?, ?, ?)",
                              (token_sha256, device, now + ttl))

    async def token_device(self, token_sha256):
        """The device id a live token belongs to, or None."""
        row = await self.db.fetchone("SELECT device, expires FROM tokens WHERE token_sha256 = ?",
                                     (token_sha256,))
        if row is None or row[1] <= self.db.clock():
            return None
        return row[0]
