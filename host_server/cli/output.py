"""What the operator's commands print: tables with a header, JSON, times in UTC, and stored text
with its control characters escaped (an owner's title or a device's reason cannot forge a line)."""

import json
import sys

from ..model.display import plain, when


class CliError(Exception):
    """A command failed for a reason the message states (exit status 1)."""


def warn(message):
    print(f"warning: {plain(message)}", file=sys.stderr)


def print_json(doc):
    print(json.dumps(doc, indent=2, ensure_ascii=False))


def _cell(value):
    if isinstance(value, list):
        return ",".join(plain(v) for v in value)
    return "-" if value is None else plain(value)


def table(rows, columns, times=()):
    """rows (dicts) as aligned columns under a header; the columns named in times are Unix
    times, shown in UTC."""
    if not rows:
        print("(none)")
        return
    cells = [[when(r[c]) if c in times else _cell(r[c]) for c in columns] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(columns)]
    print("  ".join(c.ljust(w) for c, w in zip(columns, widths)).rstrip())
    for row in cells:
        print("  ".join(v.ljust(w) for v, w in zip(row, widths)).rstrip())


def load_json(path):
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except OSError as exc:
        raise CliError(f"cannot read {path}: {exc.strerror}") from None
    except (UnicodeDecodeError, ValueError) as exc:
        raise CliError(f"{path} is not valid JSON: {exc}") from None
