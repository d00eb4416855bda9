"""The usage statement of every owner (or one), per day, media item and file server; as a
table, JSON or CSV (db.usage.statement: the live reports and the daily rollup together)."""

import sys

from ..model import usage
from ..model.errors import NotFound
from .output import CliError, print_json, table

def add_commands(sub):
    s = sub.add_parser("usage", help="plays, failures, bytes, devices and failovers per day,"
                       " owner, media item and file server")
    s.add_argument("--owner", metavar="NAME", help="only this owner account's media")
    s.add_argument("--since", metavar="YYYY-MM-DD", help="from this UTC day on")
    s.add_argument("--until", metavar="YYYY-MM-DD", help="up to and with this UTC day")
    s.add_argument("--by", metavar="FIELDS", help="a row per value of these, e.g. owner,media"
                   " (some of day, owner, media, server; default all four)")
    out = s.add_mutually_exclusive_group()
    out.add_argument("--csv", metavar="FILE", help="write the rows as CSV to FILE ('-': stdout)")
    out.add_argument("--json", action="store_true", help="the rows as one JSON list")
    return {"usage": show_usage}


async def _owner_names(db):
    return {o["id"]: o["name"] for o in await db.owners.list()}


async def show_usage(db, args):
    names = await _owner_names(db)
    owner = None
    if args.owner is not None:
        ids = [i for i, name in names.items() if name == args.owner]
        if not ids:
            raise NotFound(f"no owner {args.owner!r}")
        owner = ids[0]
    by = usage.check_by(args.by)
    doc = await db.usage.statement(owner, args.since, args.until, by)
    usage.name_owners(doc["rows"], names)
    columns = usage.columns_for(by)
    if args.json:
        print_json(doc)
    elif args.csv:
        _write_csv(doc["rows"], columns, args.csv)
    else:
        table(doc["rows"], columns)
        t = doc["totals"]
        print(f"total: {t['plays']} plays, {t['failed']} failed, {t['bytes']} bytes,"
              f" {t['source_errors']} source errors, {t['failovers_away']} failovers,"
              f" {t['devices']} devices")


def _write_csv(rows, columns, path):
    """The rows with a header line, one row a line; control characters escaped, and a text a
    spreadsheet would take for a formula (an owner's title "=HYPERLINK(...)") quoted."""
    try:
        f = sys.stdout if path == "-" else open(path, "w", encoding="utf-8", newline="")
    except OSError as exc:
        raise CliError(f"cannot write {path}: {exc.strerror}") from None
    try:
        usage.write_csv(f, rows, columns)
    finally:
        if f is not sys.stdout:
            f.close()
    if path != "-":
        print(f"{len(rows)} rows written to {path}", file=sys.stderr)
