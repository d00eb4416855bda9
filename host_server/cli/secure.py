"""Commands about secure items: a new master key file, the log of key requests."""

import os

from ..model import sealing
from .output import CliError, print_json, table


def add_commands(sub):
    s = sub.add_parser("new-master-key", help="write a new master key file (mode 0600; never overwrites)")
    s.add_argument("file", help="where to write it (a missing folder is created, owner only);"
                                " keep it out of the database's backups")
    s = sub.add_parser("key-requests", help="latest key requests for secure items, newest first")
    s.add_argument("--limit", type=int, default=50, help="at most this many (default 50)")
    s.add_argument("--json", action="store_true", help="as JSON, every field")
    return {"key-requests": key_requests}


def new_master_key(args):
    """Runs without a database (cli.main calls it directly). A missing folder is created, readable
    by its owner only."""
    folder = os.path.dirname(os.path.abspath(args.file))
    if not os.path.isdir(folder):
        try:
            os.makedirs(folder, mode=0o700)
        except OSError as exc:
            raise CliError(f"cannot create the folder {folder} for the master key: {exc.strerror}"
                           " (choose a folder you may write to)") from None
        print(f"folder {folder} created")
    try:
        sealing.new_master_key_file(args.file)
    except OSError as exc:
        raise CliError(f"cannot write the master key file {args.file}: {exc.strerror}") from None
    print(f"master key written to {args.file}; keep it safe and out of the database's backups")


async def key_requests(db, args):
    rows = await db.secure.key_requests(args.limit)
    if args.json:
        print_json(rows)
        return
    for r in rows:
        r["time"] = r["at"]
    table(rows, ("id", "time", "device", "media", "address", "status", "why"), times=("time",))
