"""Operator command line: python -m host_server [--db PATH|URL] <command> ...

Errors are one line on stderr and exit status 1 (2 for usage errors, from argparse).
"""

import argparse
import asyncio
import json
import logging
import os
import sys
import time

from . import catalog, db_secure, owner_cli, sealing
from .dashboard import accounts
from .auth import new_secret
from .db import ERRORS as DATABASE_ERRORS, Database, engine_for
from .errors import DomainError, Invalid


class CliError(Exception):
    pass


def _load_json(path):
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except OSError as exc:
        raise CliError(f"cannot read {path}: {exc.strerror}") from None
    except (UnicodeDecodeError, ValueError) as exc:
        raise CliError(f"{path} is not valid JSON: {exc}") from None


def _warn(message):
    print(f"warning: {message}", file=sys.stderr)


def _print_json(doc):
    print(json.dumps(doc, indent=2, ensure_ascii=False))


def _table(rows, columns):
    if not rows:
        print("(none)")
        return
    cells = [[str(r[c]) if not isinstance(r[c], list) else ",".join(map(str, r[c])) for c in columns]
             for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(columns)]
    print("  ".join(c.ljust(w) for c, w in zip(columns, widths)).rstrip())
    for row in cells:
        print("  ".join(v.ljust(w) for v, w in zip(row, widths)).rstrip())


# -- commands ----------------------------------------------------------------------------

async def cmd_init(db, args):
    print(f"database {db.describe()} at schema version {await db.schema_version()}")


async def cmd_add_device(db, args):
    catalog.check_device_id(args.id)
    secret = catalog.check_secret(args.secret) if args.secret else new_secret()
    await db.add_device(args.id, args.name, secret)
    print(f"device {args.id} added; secret (shown once): {secret}")


async def cmd_add_media(db, args):
    rec = catalog.validate_media(_load_json(args.json), args.json, _warn)
    media_id = await db.add_media(rec)
    print(f"media {media_id} added")


async def cmd_revoke_device(db, args):
    n = await db.revoke_tokens(args.id)
    print(f"device {args.id}: {n} token(s) revoked; it must log in again")


async def cmd_key_requests(db, args):
    rows = await db_secure.key_requests(db, args.limit)
    if args.json:
        _print_json(rows)
        return
    for r in rows:
        r["time"] = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(r["at"]))
    _table(rows, ("id", "time", "device", "media", "address", "status", "why"))


async def cmd_add_program(db, args):
    if not args.name.strip():
        raise Invalid("program name must not be empty")
    items = []
    for part in (args.items.split(",") if args.items else []):
        part = part.strip()
        if not catalog.is_number_text(part):
            raise Invalid(f"--items: {part!r} is not a media id")
        items.append(int(part))
    program = await db.add_program(args.name, items)
    print(f"program {program} ({args.name}) added with {len(items)} items")


async def cmd_assign(db, args):
    program = await db.assign(args.device, args.program, args.default)
    print(f"device {args.device} entitled to program {program}" + (" (default)" if args.default else ""))


async def cmd_import(db, args):
    media, programs, devices = catalog.validate_catalog(_load_json(args.catalog), _warn)
    summary = await db.import_catalog(media, programs, devices, new_secret)
    print(json.dumps(summary))


async def cmd_list(db, args):
    if args.what == "devices":
        rows, columns = await db.list_devices(), ("id", "name", "default", "selected", "programs")
    elif args.what == "owners":
        rows, columns = await owner_cli.owner_rows(db)
    elif args.what == "servers":
        rows, columns = await owner_cli.server_rows(db)
    elif args.what == "media":
        rows, columns = await db.list_media(), ("id", "title", "type", "size", "src")
    else:
        rows, columns = await db.list_programs(), ("id", "name", "items")
    if args.json:
        _print_json(rows)
    else:
        _table(rows, columns)


async def cmd_reports(db, args):
    if args.limit <= 0:
        raise Invalid("--limit must be positive")
    rows = await db.reports(args.device, args.limit)
    if args.json:
        _print_json(rows)
        return
    for r in rows:
        r["errors"] = "; ".join(f"{u} {why}" for u, why in r["errors"])
        r["time"] = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(r["at"]))
    _table(rows, ("id", "time", "device", "media", "pos", "status", "src", "bytes", "ms", "errors"))


async def serve(settings, host, port, access_log=True):
    """Run the meta server until SIGINT/SIGTERM; print LISTENING once it accepts connections."""
    from aiohttp import web   # only serve needs it: the other commands start faster without

    from .app import init_app
    from .serving import serve_until_stopped
    app = init_app(settings)
    runner = web.AppRunner(app, access_log=logging.getLogger("aiohttp.access") if access_log else None)
    await serve_until_stopped(runner, host, port)  # setup opens and migrates the database


def _parser():
    p = argparse.ArgumentParser(prog="python -m host_server", description="Meta server and its operator tools.")
    p.add_argument("--db", default=os.environ.get("META_DB", "meta.db"),
                   help="SQLite database file, or a postgresql://user:password@host:port/name URL"
                   " (default: $META_DB or ./meta.db)")
    p.add_argument("--master-key-file", metavar="FILE",
                   help="the master key that seals secure items' keys "
                        f"(default: ${sealing.ENV_FILE}; needed to add secure media and to serve their keys)")
    sub = p.add_subparsers(dest="command", required=True, metavar="command")

    sub.add_parser("init", help="create the database and apply migrations")
    s = sub.add_parser("serve", help="run the meta server")
    s.add_argument("--host", default="127.0.0.1")
    s.add_argument("--port", type=int, default=8000, help="0 binds a free port")
    s.add_argument("--token-ttl", type=int, default=3600, help="seconds a login token lives")
    s.add_argument("--probe-interval", type=float, default=30.0,
                   help="seconds between health probes of the file servers (default 30; 0: health off)")
    s.add_argument("--no-access-log", action="store_true", help="do not log one line per request")
    s.add_argument("--trusted-proxy", action="append", default=[], metavar="ADDRESS",
                   help="a load balancer's address whose X-Forwarded-For header names the device's"
                        " address (repeatable; default: none, the peer's address counts)")
    s = sub.add_parser("add-operator", help="add a dashboard operator; the password is read from a prompt or stdin")
    s.add_argument("name")
    s.add_argument("--reset", action="store_true", help="set a new password for an existing operator")
    s = sub.add_parser("add-device", help="add a device; prints its secret once")
    s.add_argument("id")
    s.add_argument("--name", default="")
    s.add_argument("--secret", help="32 hex characters (default: generated)")
    s = sub.add_parser("add-media", help="add one media record from a JSON file")
    s.add_argument("--json", required=True, metavar="FILE")
    s = sub.add_parser("add-program", help="add a program")
    s.add_argument("name")
    s.add_argument("--items", default="", help="media ids, comma separated, in play order")
    s = sub.add_parser("assign", help="entitle a device to a program (by name or id)")
    s.add_argument("device")
    s.add_argument("program")
    s.add_argument("--default", action="store_true", help="make it the device's default program")
    s = sub.add_parser("import", help="import a catalog JSON file in one transaction")
    s.add_argument("catalog")
    s = sub.add_parser("list", help="list devices, media, programs, owners or file servers (health)")
    s.add_argument("what", choices=("devices", "media", "programs", "owners", "servers"))
    s.add_argument("--json", action="store_true")
    s = sub.add_parser("revoke-device", help="revoke every login token of a device at once")
    s.add_argument("id")
    s = sub.add_parser("new-master-key", help="write a new master key file (mode 0600; never overwrites)")
    s.add_argument("file")
    s = sub.add_parser("key-requests", help="latest key requests for secure items, newest first")
    s.add_argument("--limit", type=int, default=50)
    s.add_argument("--json", action="store_true")
    s = sub.add_parser("reports", help="latest reports, newest first")
    s.add_argument("--device")
    s.add_argument("--limit", type=int, default=50)
    s.add_argument("--json", action="store_true")
    s = sub.add_parser("add-owner", help="add a media owner; prints their API token once")
    s.add_argument("name")
    s = sub.add_parser("owner-token", help="a new API token for an owner (lifts a revocation)")
    s.add_argument("name")
    s = sub.add_parser("revoke-owner", help="revoke every API token of an owner")
    s.add_argument("name")
    return p


COMMANDS = {"add-owner": owner_cli.cmd_add_owner, "owner-token": owner_cli.cmd_owner_token,
            "revoke-owner": owner_cli.cmd_revoke_owner,
            "init": cmd_init, "add-device": cmd_add_device, "add-media": cmd_add_media,
            "add-program": cmd_add_program, "assign": cmd_assign, "import": cmd_import,
            "list": cmd_list, "reports": cmd_reports, "key-requests": cmd_key_requests,
            "revoke-device": cmd_revoke_device, "add-operator": accounts.cmd_add_operator}


async def _run(args):
    key = sealing.load_master_key(args.master_key_file)
    db = await Database(args.db).connect()
    db.sealer = sealing.Sealer(key) if key else None
    try:
        await COMMANDS[args.command](db, args)
    finally:
        await db.close()


def main(argv=None):
    args = _parser().parse_args(argv)
    try:
        if args.command == "new-master-key":
            sealing.new_master_key_file(args.file)
            print(f"master key written to {args.file}; keep it safe and out of the database's backups")
        elif args.command == "serve":
            logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                                format="%(asctime)s %(levelname)s %(name)s %(message)s")
            from .app import Settings
            settings = Settings(db=args.db, token_ttl=args.token_ttl,
                                probe_interval=args.probe_interval,
                                master_key_file=args.master_key_file,
                                trusted_proxies=tuple(args.trusted_proxy))
            asyncio.run(serve(settings, args.host, args.port, not args.no_access_log))
        else:
            asyncio.run(_run(args))
    except (CliError, DomainError, ValueError, sealing.MasterKeyError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except DATABASE_ERRORS as exc:
        print(f"error: database {engine_for(args.db).describe()}: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"error: {exc.strerror or exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return 0
