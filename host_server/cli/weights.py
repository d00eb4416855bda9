"""Commands about file servers' weights (model/spread.py): set one, remove one, list them.

The operator's weights apply to every record whose owner set none for that server (the
operator's own media too); with --owner, the command sets or removes that owner's, as the owner
would through the owner API (`python -m tools.owner weight`).
"""

from ..db.weights import OPERATOR
from ..model.spread import MAX_WEIGHT
from .output import print_json, table

COLUMNS = ("owner", "address", "weight", "media", "set")


def add_commands(sub):
    s = sub.add_parser("set-weight", help="a file server's weight: its share of the devices among"
                       " the sources of the same files (an alternate with none is a standby)")
    s.add_argument("address", help="the server, http(s)://host[:port], as media records name it")
    s.add_argument("weight", type=int, help=f"1 to {MAX_WEIGHT}, relative to the other sources'")
    s.add_argument("--owner", metavar="NAME", help="that owner's weight for their media"
                   " (default: the operator's, for every record whose owner set none)")
    s = sub.add_parser("unset-weight", help="remove a server's weight (1 as a primary, a standby"
                       " as an alternate)")
    s.add_argument("address", help="the server, http(s)://host[:port]")
    s.add_argument("--owner", metavar="NAME", help="that owner's weight (default: the operator's)")
    s = sub.add_parser("weights", help="list the weights set, the operator's and owners'")
    s.add_argument("--json", action="store_true", help="the rows as one JSON list")
    return {"set-weight": set_weight, "unset-weight": unset_weight, "weights": list_weights}


async def _account(db, args):
    return OPERATOR if args.owner is None else await db.owners.id_of(args.owner)


def _whose(args):
    return "the operator's" if args.owner is None else f"owner {args.owner}'s"


async def set_weight(db, args):
    n = await db.weights.set(await _account(db, args), args.address, args.weight)
    print(f"{args.address.rstrip('/')}: weight {args.weight} ({_whose(args)}); {n} media record(s)"
          " name it")


async def unset_weight(db, args):
    n = await db.weights.unset(await _account(db, args), args.address)
    print(f"{args.address.rstrip('/')}: {_whose(args)} weight removed; {n} media record(s) name it")


async def list_weights(db, args):
    rows = await db.weights.list()
    if args.json:
        print_json(rows)
        return
    table([dict(r, owner=r["owner"] or "(operator)") for r in rows], COLUMNS, times=("set",))
