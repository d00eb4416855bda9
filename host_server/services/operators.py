"""Dashboard operators' sign-in limit: attempts per operator name from one address, and per
address for any name, kept in the database so that every replica of the meta server counts the
same; an attempt is counted before its password is checked (scrypt), so concurrent attempts
cannot slip past the count. A stranger's guesses lock out only the stranger's address."""

import asyncio
import math

HASHING_AT_ONCE = 2   # scrypt checks at once: 16 MiB and ~50 ms of a core each


class SignInLimiter:
    def __init__(self, max_failures=5, window=300, max_address_failures=20):
        self.max_failures = max_failures
        self.window = window
        self.max_address_failures = max_address_failures
        self.hashing = asyncio.Semaphore(HASHING_AT_ONCE)   # bound to the app's loop on first wait

    async def begin(self, db, name, address, now):
        """0 when this attempt may check its password (it is counted now), else the seconds
        until this name (or this address) may try again."""
        held = await db.operators.attempt_sign_in(name, address, now, self.window,
                                                  self.max_failures, self.max_address_failures)
        if held is None:
            return 0
        return max(1, math.ceil(held + self.window - now))

    async def succeeded(self, db, name, address):
        await db.operators.clear_sign_in_failures(name, address)
