"""Operator commands for owner accounts and file server health (wired into cli.py)."""

import time

from . import db_owners, owners
from .health import list_servers


def _when(t):
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(t)) if t else "-"


async def cmd_add_owner(db, args):
    owner, token = await owners.create_owner(db, args.name)
    print(f"owner {args.name} added (id {owner}); API token (shown once): {token}")


async def cmd_owner_token(db, args):
    token = await owners.issue_token(db, args.name)
    print(f"new API token for owner {args.name} (shown once): {token}")


async def cmd_revoke_owner(db, args):
    n = await db_owners.revoke_owner(db, args.name)
    print(f"owner {args.name} revoked: {n} token(s) no longer work; their media stay")


async def owner_rows(db):
    rows = await db_owners.list_owners(db)
    for r in rows:
        r["state"] = f"revoked {_when(r['revoked'])}" if r["revoked"] else "active"
    return rows, ("id", "name", "state", "tokens", "media")


async def server_rows(db):
    rows = await list_servers(db)
    for r in rows:
        r["state"] = {True: "up", False: "DOWN", None: "?"}[r["up"]]
        r["since_time"] = _when(r["since"])
        r["checked_time"] = _when(r["checked"])
    return rows, ("address", "state", "since_time", "checked_time", "why")
