"""Commands about devices: add one, revoke its tokens, entitle it to a program, its reports."""

import sys

from ..model.checks import check_device_id, check_secret
from ..model.errors import Invalid, NotFound
from ..services.auth import new_secret
from .output import CliError, print_json, table, warn


def add_commands(sub):
    s = sub.add_parser("add-device", help="add a device; prints its secret once")
    s.add_argument("id", help="the device id its config names (letters, digits, . _ -)")
    s.add_argument("--name", default="", help="a name for people (the dashboard shows it)")
    given = s.add_mutually_exclusive_group()
    given.add_argument("--secret-file", metavar="FILE",
                       help="read the secret (32 hex characters) from FILE, '-' for stdin"
                            " (default: a new one is generated and printed once)")
    given.add_argument("--secret", help="the secret itself; it then shows in `ps` and the shell's"
                                        " history: prefer --secret-file")
    s.add_argument("--program", help="entitle it to this program (name or id) as its default, in the"
                                     " same transaction: a program that does not exist adds no device")
    s = sub.add_parser("revoke-device", help="revoke every login token of a device at once"
                       " (it may log in again with its secret; to stop it, disable-device)")
    s.add_argument("id", help="the device id")
    for name, what in (("disable-device", "stop a device at once: no login, no next item, no key"),
                       ("enable-device", "let a disabled device log in again"),
                       ("remove-device", "remove a device with its entitlements, positions and reports"
                                         " (its plays stay in the usage figures)")):
        s = sub.add_parser(name, help=what)
        s.add_argument("id", help="the device id")
    s = sub.add_parser("rotate-secret", help="give a device a new secret (printed once); the old one"
                                             " stops working, and its tokens end")
    s.add_argument("id", help="the device id")
    s.add_argument("--secret-file", metavar="FILE",
                   help="read the new secret (32 hex characters) from FILE, '-' for stdin"
                        " (default: a new one is generated and printed once)")
    s = sub.add_parser("assign", help="entitle a device to a program (by name or id)")
    s.add_argument("device", help="the device id")
    s.add_argument("program", help="the program's name or id")
    s.add_argument("--default", action="store_true", help="make it the device's default program")
    s = sub.add_parser("reports", help="latest reports, newest first")
    s.add_argument("--device", help="only this device's reports")
    s.add_argument("--failed", action="store_true",
                   help="only reports that failed or met a failing source")
    s.add_argument("--limit", type=int, default=50, help="at most this many (default 50)")
    s.add_argument("--json", action="store_true", help="as JSON, every field")
    return {"add-device": add_device, "revoke-device": revoke_device, "assign": assign,
            "reports": reports, "disable-device": disable_device, "enable-device": enable_device,
            "remove-device": remove_device, "rotate-secret": rotate_secret}


def _given_secret(args):
    if args.secret_file:
        try:
            if args.secret_file == "-":
                text = sys.stdin.readline()
            else:
                with open(args.secret_file, encoding="ascii") as f:
                    text = f.read(200)
        except (OSError, UnicodeDecodeError) as exc:
            raise CliError(f"cannot read the secret from {args.secret_file}: "
                           f"{getattr(exc, 'strerror', None) or 'not ASCII text'}") from None
        return check_secret(text.strip(), "--secret-file")
    return check_secret(args.secret) if getattr(args, "secret", None) else None


async def add_device(db, args):
    check_device_id(args.id)
    given = _given_secret(args)
    secret = given or new_secret()
    async with db.transaction() as c:
        await db.devices.insert(c, args.id, args.name, secret)
        if args.program:
            program = await db.catalog.program_id(c, args.program)
            await db.devices.entitle(c, args.id, program, True)
    also = f", entitled to program {program} (default)" if args.program else ""
    if given:
        print(f"device {args.id} added with the secret given{also}")
    else:
        print(f"device {args.id} added{also}; secret (shown once): {secret}")
    _warn_if_clear(db)


async def revoke_device(db, args):
    n = await db.logins.revoke_tokens(args.id)
    print(f"device {args.id}: {n} token(s) revoked; it must log in again")


async def disable_device(db, args):
    await db.devices.disable(args.id)
    print(f"device {args.id} disabled: no login, no next item, no key until enable-device")


async def enable_device(db, args):
    await db.devices.enable(args.id)
    print(f"device {args.id} enabled; it may log in again")


async def remove_device(db, args):
    await db.devices.remove(args.id)
    print(f"device {args.id} removed, with its entitlements, positions and reports")


async def rotate_secret(db, args):
    given = _given_secret(args)
    secret = given or new_secret()
    await db.devices.rotate_secret(args.id, secret)
    if given:
        print(f"device {args.id}: the secret given replaces the old one")
    else:
        print(f"device {args.id}: new secret (shown once): {secret}; put it in its config")
    _warn_if_clear(db)


def _warn_if_clear(db):
    if db.sealer is None:
        warn("no master key: device secrets are kept in the database in clear; create one with"
             " `new-master-key FILE` and give it with --master-key-file (existing secrets are"
             " sealed at the next start)")


async def assign(db, args):
    program = await db.devices.assign(args.device, args.program, args.default)
    print(f"device {args.device} entitled to program {program}" + (" (default)" if args.default else ""))


async def reports(db, args):
    if args.limit <= 0:
        raise Invalid("--limit must be positive")
    if args.device and not any(d["id"] == args.device for d in await db.list_of("devices")):
        raise NotFound(f"no device {args.device!r}")   # not "(none)": the id is wrong, say so
    rows = await db.devices.reports(args.device, args.failed, args.limit)
    if args.json:
        print_json(rows)
        return
    for r in rows:
        r["errors"] = "; ".join(f"{u} {why}" for u, why in r["errors"])
        r["time"] = r["at"]
    table(rows, ("id", "time", "device", "media", "pos", "status", "src", "bytes", "ms", "underruns",
                 "underrun_ms", "errors"),
          times=("time",))
