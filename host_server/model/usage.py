"""Usage figures from devices' reports: per day, owner, media item and file server.

One report counts once, on one server: a played one on the server of its `src`, a failed one on
the server of the last source it tried ("" when it named none). Its source failures count on
the servers they happened on, and each step from a source on one server to a source on another
is a failover away from the first and onto the second. The same function makes the figures of
live reports and of the daily rollup (db/usage.py), so that the two add up to what the reports
said.
"""

import csv
import datetime
import io
import json
import re
import time

from .display import plain
from .errors import Invalid

COUNTS = ("plays", "failed", "bytes", "source_errors", "failovers_away", "failovers_onto")
KEY = ("day", "owner", "media", "server")
NO_OWNER = 0   # the owner column of usage rows for media no owner account registered
_DAY = re.compile(r"\d{4}-\d{2}-\d{2}\Z")


def day_of(at):
    """The UTC day of a Unix time, 'YYYY-MM-DD'."""
    return time.strftime("%Y-%m-%d", time.gmtime(at))


def day_start(day):
    """The Unix time a UTC day 'YYYY-MM-DD' starts."""
    return datetime.datetime.strptime(day, "%Y-%m-%d").replace(
        tzinfo=datetime.timezone.utc).timestamp()


def check_day(text, what):
    """A day given as 'YYYY-MM-DD' (None: no bound), else Invalid naming it."""
    if text is None:
        return None
    if not isinstance(text, str) or not _DAY.match(text):
        raise Invalid(f"{what} must be a day as YYYY-MM-DD")
    try:
        day_start(text)
    except ValueError:
        raise Invalid(f"{what} must be a day as YYYY-MM-DD") from None
    return text


def server_of(url):
    """'http://host:8101/music/a.wav' -> 'http://host:8101'; "" for what is not a URL (a
    secure item's failed key request is reported as the source "key")."""
    if not isinstance(url, str) or "://" not in url:
        return ""
    start = url.index("://") + 3
    end = url.find("/", start)
    return url if end < 0 else url[:end]


def _blank():
    return dict.fromkeys(COUNTS, 0)


def tally(reports, figures=None):
    """Fold reports into {(day, owner, media, server): {counts..., "devices": set}}.

    reports: (at, device, owner account or None, media, status, source, bytes, errors) each,
    errors the stored JSON text or a list of [url, reason]. figures: a dict to add to.
    """
    figures = {} if figures is None else figures

    def row(day, owner, media, server, device):
        one = figures.get((day, owner, media, server))
        if one is None:
            one = figures[(day, owner, media, server)] = {**_blank(), "devices": set()}
        one["devices"].add(device)
        return one

    for at, device, owner, media, status, source, nbytes, errors in reports:
        day, owner = day_of(at), NO_OWNER if owner is None else owner
        if isinstance(errors, str):
            errors = json.loads(errors)
        tried = [server_of(url) for url, _why in errors]
        for server in tried:
            row(day, owner, media, server, device)["source_errors"] += 1
        if status == "played":
            last = server_of(source)
            tried.append(last)
        else:
            last = tried[-1] if tried else ""
        one = row(day, owner, media, last, device)
        one["plays" if status == "played" else "failed"] += 1
        one["bytes"] += nbytes
        for away, onto in zip(tried, tried[1:]):
            if away != onto:
                row(day, owner, media, away, device)["failovers_away"] += 1
                row(day, owner, media, onto, device)["failovers_onto"] += 1
    return figures


def add(figures, key, counts, devices=()):
    """Add stored counts (and devices) to figures[key]."""
    one = figures.get(key)
    if one is None:
        one = figures[key] = {**_blank(), "devices": set()}
    for name in COUNTS:
        one[name] += counts[name]
    one["devices"].update(devices)
    return one


def check_by(text, allowed=KEY):
    """The key fields a statement is grouped by, from "media,server" (None: all allowed), in
    KEY's order; else Invalid."""
    if text is None:
        return tuple(allowed)
    names = text.split(",") if isinstance(text, str) and text else [""]
    bad = [n for n in names if n not in allowed]
    if bad:
        raise Invalid(f"by must name some of {', '.join(allowed)}, separated by commas")
    return tuple(k for k in KEY if k in names)


def statement(figures, by=KEY):
    """{"rows": [...], "totals": {...}}: one row per value of the key fields named in by (of
    day, owner, media, server), in that order, each with its counts and its number of distinct
    devices; totals over every row. Distinct devices are counted from the devices themselves,
    never summed: a device in two rows counts once in a row that holds both. owner is None for
    no owner account."""
    at = [KEY.index(k) for k in by]
    grouped = {}
    for key, one in figures.items():
        add(grouped, tuple(key[i] for i in at), one, one["devices"])
    rows, everyone, totals = [], set(), _blank()
    for key in sorted(grouped):
        one = grouped[key]
        row = dict(zip(by, key))
        if row.get("owner") == NO_OWNER:
            row["owner"] = None
        row.update({name: one[name] for name in COUNTS})
        row["devices"] = len(one["devices"])
        rows.append(row)
        everyone |= one["devices"]
        for name in COUNTS:
            totals[name] += one[name]
    totals["devices"] = len(everyone)
    return {"rows": rows, "totals": totals}


# -- a statement as a table: the CLI's table and CSV, the dashboard's page and CSV ----------

COLUMNS = ("day", "owner", "media", "title", "server", "plays", "failed", "bytes",
           "source_errors", "failovers_away", "failovers_onto", "devices")


def name_owners(rows, names):
    """Each row's owner id replaced by its account's name (names: id -> name; "" for none)."""
    for row in rows:
        if "owner" in row:
            row["owner"] = names.get(row["owner"], "") if row["owner"] is not None else ""


def columns_for(by):
    """The columns of a statement grouped by the key fields in by (title comes with media)."""
    return [c for c in COLUMNS if c in by or c not in KEY + ("title",)
            or (c == "title" and "media" in by)]


def csv_cell(value):
    """Control characters escaped, and a text a spreadsheet would take for a formula (an
    owner's title "=HYPERLINK(...)") quoted with a leading '."""
    if not isinstance(value, str):
        return value
    value = plain(value)
    return "'" + value if value[:1] in ("=", "+", "-", "@") else value


def write_csv(f, rows, columns):
    """The rows to the text file f with a header line, one row a line."""
    w = csv.writer(f, lineterminator="\n")
    w.writerow(columns)
    for r in rows:
        w.writerow([csv_cell(r[c]) for c in columns])


def csv_text(rows, columns):
    out = io.StringIO()
    write_csv(out, rows, columns)
    return out.getvalue()
