"""Operator command line: python -m host_server [--db PATH|URL] <command> ...

Commands live by domain (devices, catalog, owners, secure, operators; serve alone imports the
web stack); each module adds its subcommands to the parser and names the function that runs
each. Errors are one line on stderr and exit status 1 (2 for usage errors, from argparse).
"""

import argparse
import asyncio
import os
import sys

from .. import settings
from ..db import Database, engine_for, is_postgres_url
from ..model import sealing
from ..model.errors import DomainError
from . import catalog, devices, operators, owners, secure, serve
from .output import CliError


def _parser():
    p = argparse.ArgumentParser(prog="python -m host_server", description="Meta server and its operator tools.")
    for name in ("db", "master_key_file"):
        s = settings.BY_NAME[name]
        p.add_argument(s.flag, dest=name, default=settings.default(name), metavar=name.upper(),
                       help=f"{s.help} (default: ${s.env}" + (f" or {s.default})" if s.default else ")"))
    sub = p.add_subparsers(dest="command", required=True, metavar="command")
    commands = {}
    for module in (catalog, devices, owners, secure, operators):
        commands.update(module.add_commands(sub))
    serve.add_commands(sub)
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
    finally:
        await db.close()


def main(argv=None):
    parser, commands = _parser()
    args = parser.parse_args(argv)
    try:
        if args.command == "new-master-key":
            secure.new_master_key(args)
        elif args.command == "serve":
            serve.run(args)
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
