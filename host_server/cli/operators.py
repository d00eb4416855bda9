"""The add-operator command: an operator account whose password is read from a prompt or stdin."""

import getpass
import sys

from ..dashboard.passwords import check_password, hash_password
from ..model.errors import Invalid

NAME_LIMIT = 64


def read_password(stdin=None):
    """Twice at a terminal (not echoed); else the first line of stdin."""
    stdin = stdin or sys.stdin
    if stdin.isatty():
        first = getpass.getpass("password: ")
        if getpass.getpass("again: ") != first:
            raise Invalid("the two passwords differ")
        return first
    line = stdin.readline()
    if not line:
        raise Invalid("no password on stdin (give it as the first line)")
    return line.rstrip("\r\n")


def check_name(name):
    if not name or len(name) > NAME_LIMIT or not name.isprintable() or name != name.strip():
        raise Invalid(f"an operator name must be 1-{NAME_LIMIT} printable characters, "
                      "without leading or trailing spaces")
    return name


def add_commands(sub):
    s = sub.add_parser("add-operator",
                       help="add a dashboard operator; the password is read from a prompt or stdin")
    s.add_argument("name", help="the name they sign in with")
    s.add_argument("--reset", action="store_true", help="set a new password for an existing operator")
    return {"add-operator": add_operator}


async def add_operator(db, args):
    check_name(args.name)
    try:
        password = check_password(read_password())
    except ValueError as exc:
        raise Invalid(str(exc)) from None
    if args.reset:
        await db.operators.set_password(args.name, hash_password(password))
        print(f"operator {args.name}: password changed; their sessions ended")
    else:
        await db.operators.add(args.name, hash_password(password))
        print(f"operator {args.name} added; sign in at /dashboard/login")
