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

    async def list(self):
        return [{"name": r[0], "created": r[1]} for r in await self.db.fetchall(
            "SELECT name, created FROM operators ORDER BY name")]

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

    # -- failed sign-ins (dashboard.sessions.SignInLimiter) ----------------------------------

    async def sign_in_failures(self, name, since):
        """(count, oldest time) of failed sign-ins as name after since."""
        row = await self.db.fetchone("SELECT count(*), min(at) FROM operator_sign_in_failures"
                                     " WHERE name = ? AND at > ?", (name, since))
        return row[0], row[1]

    async def add_sign_in_failure(self, name, now, forget_before):
        async with self.db.transaction() as c:
            await c.execute("DELETE FROM operator_sign_in_failures WHERE at <= ?", (forget_before,))
            await c.execute("INSERT INTO operator_sign_in_failures (name, at) VALUES (?, ?)",
                            (name, now))

    async def clear_sign_in_failures(self, name):
        async with self.db.transaction() as c:
            await c.execute("DELETE FROM operator_sign_in_failures WHERE name = ?", (name,))
