"""Commands about owner accounts: add one (its first API token), another token, revoke; the
file servers owners require signed URLs on (listed without their secrets; unsigned)."""

from ..services import owners
from ..services.signing import REFRESH
from .output import table


def add_commands(sub):
    s = sub.add_parser("add-owner", help="add a media owner; prints their API token once")
    s.add_argument("name", help="the owner's name (a label, a person)")
    s = sub.add_parser("owner-token", help="a new API token for an owner (lifts a revocation)")
    s.add_argument("name", help="the owner's name")
    s = sub.add_parser("revoke-owner", help="revoke every API token of an owner")
    s.add_argument("name", help="the owner's name")
    sub.add_parser("signed-servers", help="the file servers whose owner requires signed URLs"
                                          " (never their secrets)")
    s = sub.add_parser("unsign-server", help="hand out a server's URLs unsigned again (its owner"
                                             " lost the secret, say)")
    s.add_argument("address", help="http(s)://host[:port], as media records name it")
    return {"add-owner": add_owner, "owner-token": owner_token, "revoke-owner": revoke_owner,
            "signed-servers": signed_servers, "unsign-server": unsign_server}


async def add_owner(db, args):
    owner, token = await owners.create_owner(db, args.name)
    print(f"owner {args.name} added (id {owner}); API token (shown once): {token}")


async def owner_token(db, args):
    token = await owners.issue_token(db, args.name)
    print(f"new API token for owner {args.name} (shown once): {token}")


async def revoke_owner(db, args):
    n = await db.owners.revoke(args.name)
    print(f"owner {args.name} revoked: {n} token(s) no longer work; their media stay")


async def signed_servers(db, args):
    table(await db.signing.list(), ("address", "owner", "since"), times=("since",))


async def unsign_server(db, args):
    await db.signing.release(args.address)
    print(f"{args.address}: URLs are handed out unsigned again (a running meta server sees it"
          f" within {REFRESH:g} s)")
