"""Owner accounts: names, API tokens (shown once, stored as sha256), revocation.

An owner token is 32 random bytes (token_urlsafe): with that much entropy a plain sha256 is
enough to make a stolen database useless for logging in, and it keeps the per-request check to
one indexed lookup. The token itself is never stored or logged.
"""

import re
import secrets

from ..model.errors import Invalid
from .auth import holder_of, token_hash

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9 ._-]{0,63}\Z")
TOKEN_PREFIX = "own_"   # tells an owner token from a device token at a glance


def check_owner_name(name):
    if not isinstance(name, str) or not _NAME.match(name):
        raise Invalid("owner name must be 1-64 characters of letters, digits, space, '.', '_', '-'"
                      " starting with a letter or digit")
    return name


def new_token():
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


async def create_owner(db, name):
    """(owner id, token): the token is returned only here."""
    token = new_token()
    owner = await db.owners.add(check_owner_name(name), token_hash(token))
    return owner, token


async def issue_token(db, name):
    token = new_token()
    await db.owners.new_token(name, token_hash(token))
    return token


async def owner_for(db, token):
    """(owner id, name) of a live owner token, or raise Unauthorized."""
    return await holder_of(token, db.owners.for_token, "missing, unknown or revoked owner token")
