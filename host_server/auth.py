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

from .errors import TooManyFailures, Unauthorized

log = logging.getLogger("host_server.auth")

# Compared against when the device is unknown, so that both cases cost the same.
_NO_SECRET = secrets.token_hex(16)


def proof(secret, device, nonce):
    """What the device sends: hex HMAC-SHA256 keyed with its secret over "<device>:<nonce>"."""
    return hmac.new(secret.encode(), f"{device}:{nonce}".encode(), hashlib.sha256).hexdigest()


def token_hash(token):
    return hashlib.sha256(token.encode()).hexdigest()


def new_secret():
    return secrets.token_hex(16)


class Auth:
    def __init__(self, db, token_ttl=3600, nonce_ttl=60, max_failures=5, failure_window=300,
                 max_address_failures=30):
        self.db = db
        self.max_address_failures = max_address_failures
        self.token_ttl = token_ttl
        self.nonce_ttl = nonce_ttl
        self.max_failures = max_failures
        self.failure_window = failure_window

    async def challenge(self, device):
        """A fresh nonce; issued for unknown devices too, so ids cannot be probed."""
        nonce = secrets.token_hex(16)
        await self.db.add_nonce(nonce, device, self.nonce_ttl)
        return nonce

    async def login(self, device, nonce, answer, address=""):
        """A new token for the device, or raise Unauthorized / TooManyFailures. Failures are
        limited per device and per network address (one address guessing at many devices)."""
        (count, oldest), (by_address, oldest_there) = await self.db.recent_failures(
            device, address, self.failure_window)
        if count >= self.max_failures:
            retry = max(1, math.ceil(oldest + self.failure_window - self.db.clock()))
            log.info("login refused for %s: %d recent failures", device, count)
            raise TooManyFailures("too many failed logins; retry later", retry)
        if address:
            count, oldest = by_address, oldest_there
            if count >= self.max_address_failures:
                retry = max(1, math.ceil(oldest + self.failure_window - self.db.clock()))
                log.info("login refused from %s: %d recent failures", address, count)
                raise TooManyFailures("too many failed logins from this address; retry later", retry)
        fresh = await self.db.consume_nonce(nonce, device)
        secret = await self.db.device_secret(device)
        # as bytes: compare_digest refuses str with non-ASCII characters (any answer may come)
        good = hmac.compare_digest(proof(secret or _NO_SECRET, device, nonce).encode(),
                                   answer.lower().encode("utf-8", "replace"))
        if not (fresh and good and secret is not None):
            await self.db.add_failure(device, self.failure_window, address)
            log.info("login failed for %s", device)
            raise Unauthorized("login failed: unknown device, bad proof, or unknown, expired or used nonce")
        token = secrets.token_urlsafe(32)
        await self.db.add_token(token_hash(token), device, self.token_ttl)
        log.info("login ok for %s", device)
        return token

    async def device_for(self, token):
        """The device a live token belongs to, or raise Unauthorized."""
        device = await self.db.token_device(token_hash(token)) if token else None
        if device is None:
            raise Unauthorized("missing, unknown or expired token; log in again")
        return device
