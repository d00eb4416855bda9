"""Commands about owner accounts: add one (its first API token), another token, revoke."""

from ..services import owners


def add_commands(sub):
    s = sub.add_parser("add-owner", help="add a media owner; prints their API token once")
    s.add_argument("name", help="the owner's name (a label, a person)")
    s = sub.add_parser("owner-token", help="a new API token for an owner (lifts a revocation)")
    s.add_argument("name", help="the owner's name")
    s = sub.add_parser("revoke-owner", help="revoke every API token of an owner")
    s.add_argument("name", help="the owner's name")
    return {"add-owner": add_owner, "owner-token": owner_token, "revoke-owner": revoke_owner}


async def add_owner(db, args):
    owner, token = await owners.create_owner(db, args.name)
    print(f"owner {args.name} added (id {owner}); API token (shown once): {token}")


async def owner_token(db, args):
    token = await owners.issue_token(db, args.name)
    print(f"new API token for owner {args.name} (shown once): {token}")


async def revoke_owner(db, args):
    n = await db.owners.revoke(args.name)
    print(f"owner {args.name} revoked: {n} token(s) no longer work; their media stay")
