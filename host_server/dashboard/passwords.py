"""Operator passwords, stored only as scrypt hashes: scrypt$<n>$<r>$<p>$<salt hex>$<hash hex>."""

import hashlib
import hmac
import secrets

N, R, P = 2 ** 14, 8, 1      # about 16 MiB and 50 ms a hash here: slow to guess, fine to sign in
SALT_BYTES = 16
HASH_BYTES = 32
MIN_LENGTH = 8
MAX_LENGTH = 1024


def check_password(password):
    """A clear error for a password that cannot be stored."""
    if not isinstance(password, str) or not MIN_LENGTH <= len(password) <= MAX_LENGTH:
        raise ValueError(f"a password must be {MIN_LENGTH}-{MAX_LENGTH} characters")
    return password


def _scrypt(password, salt, n, r, p):
    return hashlib.scrypt(password.encode(), salt=salt, n=n, r=r, p=p, dklen=HASH_BYTES,
                          maxmem=256 * 1024 * 1024)


def hash_password(password):
    check_password(password)
    salt = secrets.token_bytes(SALT_BYTES)
    return f"scrypt${N}${R}${P}${salt.hex()}${_scrypt(password, salt, N, R, P).hex()}"


# Verified against when the operator is unknown, so that both cases cost the same.
_DUMMY = f"scrypt${N}${R}${P}${'00' * SALT_BYTES}${'00' * HASH_BYTES}"


def verify_password(password, stored):
    """True when password matches the stored hash (a missing hash costs the same and fails)."""
    try:
        kind, n, r, p, salt, want = (stored or _DUMMY).split("$")
        got = _scrypt(password[:MAX_LENGTH], bytes.fromhex(salt), int(n), int(r), int(p))
    except ValueError:
        return False
    return hmac.compare_digest(got.hex(), want) and stored is not None and kind == "scrypt"
