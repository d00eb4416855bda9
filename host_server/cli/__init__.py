"""Operator command line: python -m host_server [--db PATH|URL] <command> ...

Commands live by domain (devices, catalog, owners, secure, operators, usage; serve alone
imports the web stack); each module adds its subcommands to the parser and names the function
that runs each. Errors are one line on stderr and exit status 1 (2 for usage errors, from argparse).
"""

import argparse
import asyncio
import sys

from .. import settings
from ..db import Database, engine_for
from ..model import sealing
from ..model.errors import DomainError
from . import catalog, devices, operators, owners, secure, serve, usage
from .output import CliError


def _parser():
    p = argparse.ArgumentParser(prog="python -m host_server", description="Meta server and its operator tools.")
    for name in ("db", "master_key_file"):
        s = settings.BY_NAME[name]
        p.add_argument(s.flag, dest=name, default=settings.default(name), metavar=name.upper(),
                       help=f"{s.help} (default: ${s.env}" + (f" or {s.default})" if s.default else ")"))
    sub = p.add_subparsers(dest="command", required=True, metavar="command")
    commands = {}
    for module in (catalog, devices, owners, secure, operators, usage):
        commands.update(module.add_commands(sub))
    serve.add_commands(sub)
    return p, commands


async def _run(command, args):
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
            print(f"error: {exc.strerror or exc}", file=sys.stderr)
        else:
            raise
        return 1
    return 0
