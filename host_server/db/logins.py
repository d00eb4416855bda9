"""Device login's rows: single-use nonces, tokens (by their sha256) and failed logins.

The login path is the hot one in a boot storm: its statements each stand alone (one row of one
device: nothing read and then written), so they run outside a write transaction, one round trip
each on PostgreSQL; expired rows are swept now and then, not every time.
"""

from ..model.errors import NotFound
from ..model.sealing import usable_secret

SWEEP_EVERY = 10.0   # s between deletions of expired login nonces and tokens
KNOWN_FRESH = 86400.0   # s: a device's address known since less is not written again


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
        """(secret, disabled) of a device, or (None, None) for no such device."""
        return (await self.login_state(device))[:2]

    async def login_state(self, device, address=""):
        """(secret, disabled, the firmware it sent last, when it last logged in from address or
        None) of a device, in one query; (None, None, None, None) for no such device."""
        row = await self.db.fetchone(
            "SELECT d.secret, d.disabled, d.firmware, (SELECT k.at FROM login_known k"
            " WHERE k.device = d.id AND k.address = ?) FROM devices d WHERE d.id = ?",
            (address, device))
        if row is None:
            return None, None, None, None
        return usable_secret(self.db.sealer, device, row[0]), row[1] is not None, row[2], row[3]

    async def recent_failures(self, device, address, window):
        """((count, oldest time) for the device from this network address, (count, oldest) from
        the address for any device) of failed logins within the last window seconds, in one
        query."""
        row = await self.db.fetchone(
            "SELECT count(*) FILTER (WHERE device = ?), min(at) FILTER (WHERE device = ?),"
            " count(*), min(at) FROM login_failures WHERE at > ? AND address = ?",
            (device, device, self.db.clock() - window, address))
        return (row[0], row[1]), (row[2], row[3])

    async def known_at(self, device, address):
        """Has the device logged in from this address before?"""
        return await self.db.fetchone("SELECT 1 FROM login_known WHERE device = ? AND address = ?",
                                      (device, address)) is not None

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
            await self.db.changes.record(c, device)
            return await c.execute("DELETE FROM tokens WHERE device = ?", (device,))

    async def add_token(self, token_sha256, device, ttl, address="", fw=None, state=None,
                        failures=True):
        """Store a token (by its hash), forget this device's failures from this address,
        remember that it logged in from there and the firmware version it sent (None: none).
        state: login_state(device, address) read for this login: what is already so is not
        written again (the firmware it sent last, an address known within KNOWN_FRESH);
        failures: whether it has failures there to forget. One transaction."""
        now = self.db.clock()
        await self._sweep(now)
        firmware, known = (state[2], state[3]) if state is not None else (object(), None)
        async with self.db.transaction() as c:
            if failures:
                await c.execute("DELETE FROM login_failures WHERE device = ? AND address = ?",
                                (device, address))
            await c.execute("INSERT INTO tokens (token_sha256, device, expires) VALUES (?, ?, ?)",
                            (token_sha256, device, now + ttl))
            if fw != firmware:
                await c.execute("UPDATE devices SET firmware = ? WHERE id = ?", (fw, device))
            if known is None or now - known >= KNOWN_FRESH:
                await c.execute("INSERT INTO login_known (device, address, at) VALUES (?, ?, ?)"
                                " ON CONFLICT (device, address) DO UPDATE SET at = excluded.at",
                                (device, address, now))

    async def token_device(self, token_sha256):
        """The device id a live token belongs to, or None (expired, or the device disabled)."""
        found = await self.token_entry(token_sha256)
        return None if found is None else found[0]

    async def token_entry(self, token_sha256):
        """(device id, expiry) of a live token, or None (expired, or the device disabled)."""
        row = await self.db.fetchone(
            "SELECT t.device, t.expires, d.disabled FROM tokens t JOIN devices d ON d.id = t.device"
            " WHERE t.token_sha256 = ?", (token_sha256,))
        if row is None or row[1] <= self.db.clock() or row[2] is not None:
            return None
        return row[0], row[1]
