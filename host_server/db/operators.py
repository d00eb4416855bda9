"""Dashboard operators: accounts (scrypt hashes), sessions (by the token's sha256, with their
CSRF token), and failed sign-ins (kept here so that every replica counts the same)."""

from ..model.errors import Conflict, NotFound


class Operators:
    def __init__(self, db):
        self.db = db

    async def add(self, name, password_hash):
        async with self.db.transaction() as c:
            if await c.fetchone("SELECT 1 FROM operators WHERE name = ?", (name,)):
                raise Conflict(f"operator {name!r} already exists")
            await c.execute("INSERT INTO operators (name, password, created) VALUES (?, ?, ?)",
                            (name, password_hash, self.db.clock()))

    async def set_password(self, name, password_hash):
        """A new password; the operator's sessions end."""
        async with self.db.transaction() as c:
            if await c.execute("UPDATE operators SET password = ? WHERE name = ?",
                               (password_hash, name)) == 0:
                raise NotFound(f"no operator {name!r}")
            await c.execute("DELETE FROM operator_sessions WHERE operator = ?", (name,))

    async def password(self, name):
        row = await self.db.fetchone("SELECT password FROM operators WHERE name = ?", (name,))
        return row[0] if row else None

    # -- sessions ----------------------------------------------------------------------------

    async def add_session(self, token_sha256, operator, csrf, ttl):
        now = self.db.clock()
        async with self.db.transaction() as c:
            await c.execute("DELETE FROM operator_sessions WHERE expires <= ?", (now,))
            await c.execute("INSERT INTO operator_sessions (token_sha256, operator, csrf, expires)"
                            " VALUES (?, ?, ?, ?)", (token_sha256, operator, csrf, now + ttl))

    async def session(self, token_sha256):
        """(operator, csrf) of a live session, or None."""
        row = await self.db.fetchone(
            "SELECT operator, csrf, expires FROM operator_sessions WHERE token_sha256 = ?",
            (token_sha256,))
        if row is None or row[2] <= self.db.clock():
            return None
        return row[0], row[1]

    async def end_session(self, token_sha256):
        async with self.db.transaction() as c:
            await c.execute("DELETE FROM operator_sessions WHERE token_sha256 = ?", (token_sha256,))

    # -- sign-in attempts (services.operators.SignInLimiter) --------------------------------

    async def attempt_sign_in(self, name, address, now, window, max_pair, max_address):
        """Count a sign-in attempt before its password is checked, in one write transaction (so
        concurrent attempts cannot all pass the count): None when it may go on, else the time
        of the oldest attempt that holds it back (nothing is counted then). Attempts count per
        name from this address (max_pair) and from this address for any name (max_address)."""
        async with self.db.transaction() as c:
            await c.execute("DELETE FROM operator_sign_in_failures WHERE at <= ?", (now - window,))
            pair, pair_oldest, there, there_oldest = await c.fetchone(
                "SELECT count(*) FILTER (WHERE name = ?), min(at) FILTER (WHERE name = ?),"
                " count(*), min(at) FROM operator_sign_in_failures WHERE address = ?",
                (name, name, address))
            if pair >= max_pair:
                return pair_oldest
            if there >= max_address:
                return there_oldest
            await c.execute("INSERT INTO operator_sign_in_failures (name, at, address) VALUES (?, ?, ?)",
                            (name, now, address))
        return None

    async def clear_sign_in_failures(self, name, address):
        """A good sign-in: its name's attempts from that address are forgotten."""
        async with self.db.transaction() as c:
            await c.execute("DELETE FROM operator_sign_in_failures WHERE name = ? AND address = ?",
                            (name, address))
