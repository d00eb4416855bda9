"""Device authentication: challenge, HMAC-SHA256 proof, bearer tokens, failed-login limits.

The device secret never crosses the wire: the device answers a single-use nonce with
hex(HMAC-SHA256(secret, "<device>:<nonce>")). Only the sha256 of a token is stored. Nothing
here logs a secret, a proof or a token.
"""

import hashlib
import hmac
import logging
import math
import secrets

from ..model.errors import Forbidden, TooManyFailures, Unauthorized
from ..model.sealing import signed

log = logging.getLogger("host_server.auth")

# Compared against when the device is unknown, so that both cases cost the same.
_NO_SECRET = secrets.token_hex(16)


def proof(secret, device, nonce):
    """What the device sends: hex HMAC-SHA256 keyed with its secret over
    "login\0<device>\0<nonce>\0" (model.sealing.secret_message)."""
    return signed(secret, "login", device, nonce).hex()


def token_hash(token):
    return hashlib.sha256(token.encode()).hexdigest()


def new_secret():
    return secrets.token_hex(16)


class Auth:
    def __init__(self, db, settings):
        """settings (settings.Settings): token_ttl, nonce_ttl, max_failures, failure_window and
        max_address_failures are read from it."""
        self.db = db
        self.logins = db.logins
        self.max_address_failures = settings.max_address_failures
        self.token_ttl = settings.token_ttl
        self.nonce_ttl = settings.nonce_ttl
        self.max_failures = settings.max_failures
        self.failure_window = settings.failure_window

    async def challenge(self, device):
        """A fresh nonce; issued for unknown devices too, so ids cannot be probed."""
        nonce = secrets.token_hex(16)
        await self.logins.add_nonce(nonce, device, self.nonce_ttl)
        return nonce

    async def login(self, device, nonce, answer, address="", fw=None):
        """A new token for the device, or raise Unauthorized / Forbidden / TooManyFailures.
        fw, the firmware version the device sent (None: it sent none), is stored on the device
        with the token.

        Failures are limited per device *from one network address*, so that guesses from one
        address never lock the device out where it really is; and per address for any device
        (one address guessing at many), except for a device that has logged in from that address
        before, so that a guesser behind a home router does not lock out its neighbours.
        """
        (count, oldest), (by_address, oldest_there) = await self.logins.recent_failures(
            device, address, self.failure_window)
        if count >= self.max_failures:
            log.info("login refused for %s from %s: %d recent failures", device, address, count)
            raise TooManyFailures("too many failed logins; retry later", self._retry(oldest))
        if (address and by_address >= self.max_address_failures
                and not await self.logins.known_at(device, address)):
            log.info("login refused from %s: %d recent failures", address, by_address)
            raise TooManyFailures("too many failed logins from this address; retry later",
                                  self._retry(oldest_there))
        fresh = await self.logins.consume_nonce(nonce, device)
        state = await self.logins.login_state(device, address)
        secret, disabled = state[:2]
        # as bytes: compare_digest refuses str with non-ASCII characters (any answer may come)
        good = hmac.compare_digest(proof(secret or _NO_SECRET, device, nonce).encode(),
                                   answer.lower().encode("utf-8", "replace"))
        if not (fresh and good and secret is not None):
            await self.logins.add_failure(device, self.failure_window, address)
            log.info("login failed for %s", device)
            raise Unauthorized("login failed: unknown device, bad proof, or unknown, expired or used nonce")
        if disabled:
            log.info("login refused for %s: disabled", device)
            raise Forbidden("this device is disabled; ask the operator")
        token = secrets.token_urlsafe(32)
        await self.logins.add_token(token_hash(token), device, self.token_ttl, address, fw, state,
                                    failures=count > 0)
        log.info("login ok for %s (firmware %s)", device, fw or "not sent")
        return token

    def _retry(self, oldest):
        return max(1, math.ceil(oldest + self.failure_window - self.db.clock()))

    async def device_for(self, token):
        """The device a live token belongs to, or raise Unauthorized."""
        return await holder_of(token, self.logins.token_device,
                               "missing, unknown or expired token; log in again")


async def holder_of(token, lookup, refusal):
    """Who a bearer token belongs to: lookup(sha256 of the token), or Unauthorized(refusal) when
    there is no token or no live holder. Only the token's hash is ever looked up."""
    found = await lookup(token_hash(token)) if token else None
    if found is None:
        raise Unauthorized(refusal)
    return found
