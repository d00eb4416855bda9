"""Operator command line: python -m host_server [--db PATH|URL] <command> ...

Commands live by domain (devices, catalog, owners, secure, operators, usage, weights; serve alone
imports the web stack; new-master-key and nginx-conf need no database); each module adds its
subcommands to the parser and names the function that runs each. Errors are one line on stderr and exit status
1 (2 for usage errors, from argparse): what went wrong and what to do, a missing id with the ids
that exist.
"""

import argparse
import asyncio
import os
import sys

from .. import settings
from ..db import Database, engine_for, is_postgres_url
from ..model import sealing
from ..model.errors import DomainError, NotFound
from . import catalog, devices, nginxconf, operators, owners, secure, serve, usage, weights
from .output import CliError


def _parser():
    p = argparse.ArgumentParser(prog="python -m host_server", description="Meta server and its operator tools.")
    for name in ("db", "master_key_file"):
        s = settings.BY_NAME[name]
        p.add_argument(s.flag, dest=name, default=settings.default(name), metavar=name.upper(),
                       help=f"{s.help} (default: ${s.env}" + (f" or {s.default})" if s.default else ")"))
    sub = p.add_subparsers(dest="command", required=True, metavar="command")
    commands = {}
    for module in (catalog, devices, owners, secure, operators, usage, weights):
        commands.update(module.add_commands(sub))
    serve.add_commands(sub)
    nginxconf.add_commands(sub)
    return p, commands


def _database_folder(args):
    """A SQLite file's folder: `init` makes it (owner only, as for the file itself); any other
    command says where the database was looked for and what makes it."""
    if is_postgres_url(args.db) or args.db == ":memory:" or str(args.db).startswith("file:"):
        return
    folder = os.path.dirname(os.path.abspath(args.db))
    if os.path.isdir(folder):
        return
    if args.command != "init":
        raise CliError(f"no database at {args.db}: its folder {folder} does not exist"
                       " (`init` creates it; --db or $META_DB names another)")
    try:
        os.makedirs(folder, mode=0o700)
    except OSError as exc:
        raise CliError(f"cannot create the database's folder {folder}: {exc.strerror}") from None
    print(f"folder {folder} created")


async def _run(command, args):
    _database_folder(args)
    key = sealing.load_master_key(args.master_key_file)
    db = await Database(args.db, sealer=sealing.Sealer(key) if key else None).connect()
    try:
        await command(db, args)
    except NotFound as exc:
        raise CliError(f"{exc}{await _which_exist(db, str(exc))}") from None
    finally:
        await db.close()


# "no <kind> ..." (model.errors.NotFound) -> the list that shows which exist
_KINDS = {"media": ("media", "media ids", "add-media"), "program": ("programs", "programs", "add-program"),
          "device": ("devices", "devices", "add-device"), "owner": ("owners", "owners", "add-owner")}


async def _which_exist(db, message):
    """What exists of the kind a NotFound names, so that the message says what to type instead."""
    words = message.split()
    if len(words) < 2 or words[0] != "no" or words[1] not in _KINDS:
        return ""
    what, label, add = _KINDS[words[1]]
    rows = await db.list_of(what)
    if not rows:
        return f" (there are none yet: {add} adds one)"
    names = [f"{r['id']} {r['name']}" if what == "programs" else
             str(r["name"] if what == "owners" else r["id"]) for r in rows]
    shown = ", ".join(names[:12]) + (f", ... ({len(names)} in all)" if len(names) > 12 else "")
    return f" ({label}: {shown}; `list {what}` shows them)"


def main(argv=None):
    parser, commands = _parser()
    args = parser.parse_args(argv)
    # a "~/..." the shell did not expand (quoted, or from an env file) is the home folder still
    if not is_postgres_url(args.db):
        args.db = os.path.expanduser(args.db)
    if args.master_key_file:
        args.master_key_file = os.path.expanduser(args.master_key_file)
    try:
        if args.command == "new-master-key":
            secure.new_master_key(args)
        elif args.command == "serve":
            serve.run(args)
        elif args.command == "nginx-conf":
            nginxconf.run(args)
        else:
            asyncio.run(_run(commands[args.command], args))
    except (CliError, DomainError, ValueError, sealing.MasterKeyError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except Exception as exc:
        engine = engine_for(args.db)
        if isinstance(exc, engine.errors):
            print(f"error: database {engine.describe()}: {exc}", file=sys.stderr)
        elif isinstance(exc, OSError):
            where = f"{exc.filename}: " if exc.filename else ""
            print(f"error: {where}{exc.strerror or exc}", file=sys.stderr)
        else:
            raise
        return 1
    return 0
