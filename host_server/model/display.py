"""How the meta server shows a time or a stored text to a person: the CLI and the dashboard
both use these, so they agree (times in UTC; control characters escaped)."""

import logging
import time

_CONTROLS = {c: f"\\x{c:02x}" for c in (*range(0x20), 0x7f)}
_CONTROLS.update({ord("\n"): "\\n", ord("\r"): "\\r", ord("\t"): "\\t"})


def when(ts):
    """A Unix time as 'YYYY-MM-DD HH:MM:SS UTC', or '-' for none."""
    return "-" if ts is None else time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(ts))


def ago(ts, now):
    """How long before now ts was, roughly: '5 s ago', '3 min ago', '2 h ago', '4 days ago'."""
    if ts is None:
        return "never"
    s = max(0, int(now - ts))
    if s < 120:
        return f"{s} s ago"
    if s < 7200:
        return f"{s // 60} min ago"
    if s < 172800:
        return f"{s // 3600} h ago"
    return f"{s // 86400} days ago"


def plain(text):
    """Text with control characters escaped: what an owner or a device stored cannot move a
    terminal's cursor or forge a line of output."""
    return str(text).translate(_CONTROLS)


class PlainFormatter(logging.Formatter):
    """Log lines whose message has its control characters escaped: a device id, an owner's URL
    or a request's header cannot forge another line (tracebacks are kept as they are)."""

    def formatMessage(self, record):
        record.message = plain(record.message)
        return super().formatMessage(record)


def log_to_stderr(fmt="%(asctime)s %(levelname)s %(name)s %(message)s"):
    """INFO and above on stderr, one escaped line each (the servers' logging)."""
    handler = logging.StreamHandler()
    handler.setFormatter(PlainFormatter(fmt))
    logging.basicConfig(level=logging.INFO, handlers=[handler])
