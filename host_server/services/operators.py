"""Dashboard operators' sign-in limit: failed sign-ins per operator name, kept in the database
so that every replica of the meta server counts the same failures."""


class SignInLimiter:
    """After max_failures within window seconds a name is refused until the oldest of them
    ages out."""

    def __init__(self, max_failures=5, window=300):
        self.max_failures = max_failures
        self.window = window

    async def retry_after(self, db, name, now):
        """Seconds until this name may try again, or 0."""
        count, oldest = await db.operators.sign_in_failures(name, now - self.window)
        if count < self.max_failures:
            return 0
        return max(1, int(oldest + self.window - now + 0.999))

    async def failed(self, db, name, now):
        await db.operators.add_sign_in_failure(name, now, now - self.window)

    async def succeeded(self, db, name):
        await db.operators.clear_sign_in_failures(name)
