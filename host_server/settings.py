"""The meta server's settings: one table of name, default and help.

The table is the one home of each default: it makes the `Settings` dataclass that `init_app`
takes, the command line's options (`--db` and `--master-key-file` for every command, the others
for `serve`), and the README's settings table (`markdown_table`, checked by a test). Stdlib only:
every CLI command imports this.
"""

import argparse
import dataclasses
import os
import time


@dataclasses.dataclass(frozen=True)
class Setting:
    name: str
    default: object
    kind: str       # "int" (positive), "seconds" (positive), "seconds0" (0 allowed), "text", "list"
    help: str
    scope: str = "serve"   # "serve": a `serve` option; "global": an option of every command
    env: str = None        # an environment variable that gives the default
    option: str = None     # the option's name when it is not the setting's (a list's, singular)

    @property
    def flag(self):
        return self.option or "--" + self.name.replace("_", "-")


TABLE = (
    Setting("db", "meta.db", "text", "SQLite database file, or a postgresql://user@host:port/name URL"
            " (its password in $PGPASSWORD or ~/.pgpass: a command line shows in `ps`)",
            scope="global", env="META_DB"),
    Setting("master_key_file", None, "text", "the master key file that seals secure items' keys"
            " (needed to add secure media and to serve their keys)",
            scope="global", env="META_MASTER_KEY_FILE"),
    Setting("token_ttl", 3600, "int", "seconds a device's login token lives"),
    Setting("nonce_ttl", 60, "int", "seconds a login nonce lives"),
    Setting("max_failures", 5, "int", "failed logins of one device within --failure-window before 429"),
    Setting("failure_window", 300, "int", "seconds over which failed logins count"),
    Setting("max_address_failures", 30, "int",
            "failed logins from one network address within --failure-window before 429"),
    Setting("max_body", 64 * 1024, "int", "bytes of a request body"),
    Setting("probe_interval", 30.0, "seconds0",
            "seconds between health probes of the file servers (0: health off)"),
    Setting("probe_timeout", 2.0, "seconds", "seconds one probe of a file server may take"),
    Setting("source_timeout", 5.0, "seconds",
            "seconds to connect to, and between data from, an owner's source being checked"),
    Setting("trusted_proxies", (), "list", "a load balancer's address whose X-Forwarded-For"
            " header names the device's address (repeatable; without it the peer's address"
            " counts)", option="--trusted-proxy"),
    # what strangers (owners, devices) may cost the server
    Setting("allow_source_nets", (), "list", "a network the meta server may fetch owners' sources"
            " and probe file servers in, besides public addresses (repeatable; e.g. 127.0.0.0/8"
            " for the simulator, 192.168.0.0/16 for a LAN)", option="--allow-source-net"),
    Setting("source_ca_file", None, "text", "a file of CA certificates (PEM) the meta server"
            " trusts, besides the system's, when it checks owners' https sources and probes https"
            " file servers: an owner's private CA (README, HTTPS)"),
    Setting("max_source_size", 4 * 1024 ** 3, "int", "bytes a registered file may claim"),
    Setting("source_deadline", 120.0, "seconds", "seconds the check of one source may take in all"),
    Setting("max_checks", 8, "int", "registrations and updates checking sources at once, in all"),
    Setting("max_owner_checks", 2, "int", "of those, at once for one owner"),
    Setting("max_owner_media", 10000, "int", "media records one owner may hold"),
    Setting("max_owner_registrations", 600, "int",
            "registrations and updates one owner may make in an hour"),
    Setting("max_device_reports", 120, "int", "reports one device may send in a minute"),
    Setting("signed_url_ttl", 3600, "int", "seconds a signed source URL (for a file server whose"
            " owner requires signing) stays valid beyond the time its item takes to play (its"
            " duration, when known)"),
    Setting("retention_days", 90, "int", "days reports and key requests are kept (reports are"
            " first rolled up into the daily usage figures, kept without end)"),
    Setting("metrics_nets", (), "list", "a network whose addresses may read the Prometheus"
            " metrics at GET /metrics (repeatable, e.g. 127.0.0.0/8; none: /metrics is off; behind"
            " a load balancer, name it with --trusted-proxy so that the reader's own address"
            " counts)", option="--metrics-net"),
    # what one connection may cost (the file server takes these as its own options too)
    Setting("header_timeout", 10.0, "seconds", "seconds a request's headers may take to arrive,"
            " from the connection's start or, on a keep-alive connection, the request's first"
            " byte; a slower connection is closed"),
    Setting("body_timeout", 30.0, "seconds",
            "seconds a request's body may take to arrive after its headers; a slower connection"
            " is closed"),
    Setting("keepalive_timeout", 15.0, "seconds",
            "seconds an idle keep-alive connection is held between requests"),
    Setting("max_address_connections", 32, "int", "connections open at once from one network"
            " address; more are closed at once (the meta server's --trusted-proxy is not capped)"),
    Setting("max_connections", 4096, "int", "connections open at once in all, and at most the"
            " descriptor limit (RLIMIT_NOFILE) less --fd-headroom; more are closed at once"),
    Setting("fd_headroom", 32, "int", "file descriptors kept free below the descriptor limit"
            " for the process's own files, the database, log files and accepting"),
)
BY_NAME = {s.name: s for s in TABLE}


def _check(settings):
    for s in TABLE:
        value = getattr(settings, s.name)
        number = isinstance(value, (int, float)) and not isinstance(value, bool)
        if s.kind == "int" and not (isinstance(value, int) and number and value > 0):
            raise ValueError(f"setting {s.name} must be a positive integer")
        if s.kind in ("seconds", "seconds0") and not (
                number and (value > 0 or (value == 0 and s.kind == "seconds0"))):
            raise ValueError(f"setting {s.name} must be a positive number of seconds")
        if s.kind == "list" and isinstance(value, str):
            raise ValueError(f"setting {s.name} must be a list")
        if s.kind == "text" and not (value is None or isinstance(value, str)):
            raise ValueError(f"setting {s.name} must be text")


def _default(s):
    return dataclasses.field(default=s.default)


# clock is not a setting an operator gives: tests substitute a fake clock
Settings = dataclasses.make_dataclass(
    "Settings", [(s.name, object, _default(s)) for s in TABLE]
    + [("clock", object, dataclasses.field(default=time.time))],
    namespace={"__post_init__": _check, "__doc__": "The meta server's settings (settings.TABLE).",
               "__module__": __name__})


def default(name, environ=os.environ):
    """A global setting's default: its environment variable when set, else the table's."""
    s = BY_NAME[name]
    return environ.get(s.env) or s.default if s.env else s.default


def add_option(parser, s):
    """One setting as a command-line option of parser (a list's option repeats)."""
    if s.kind == "list":
        parser.add_argument(s.flag, dest=s.name, action="append", default=[],
                            metavar=s.flag[2:].upper(), help=s.help)
    elif s.kind == "text":
        parser.add_argument(s.flag, dest=s.name, default=s.default, metavar="FILE",
                            help=f"{s.help} (default {s.default or 'none'})")
    else:
        parser.add_argument(s.flag, dest=s.name, type=int if s.kind == "int" else float,
                            default=s.default, metavar="N", help=f"{s.help} (default {s.default})")


def port_number(text):
    """argparse type of a --port: 0 (a free port) to 65535."""
    if not text.isdigit() or int(text) > 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port: give 0-65535 (0: a free port)")
    return int(text)


def add_serve_options(parser):
    """The `serve` options, one per serve setting of the table."""
    for s in TABLE:
        if s.scope == "serve":
            add_option(parser, s)


def from_options(args):
    """Settings from parsed options (the global ones and serve's)."""
    values = {s.name: getattr(args, s.name) for s in TABLE if hasattr(args, s.name)}
    for s in TABLE:
        if s.kind == "list" and s.name in values:
            values[s.name] = tuple(values[s.name])
    return Settings(**values)


def markdown_table():
    """The README's settings table."""
    lines = ["| option | default | meaning |", "| --- | --- | --- |"]
    for s in TABLE:
        flag = s.flag
        shown = "none" if s.default in (None, ()) else str(s.default)
        if s.env:
            shown += f" (or ${s.env})"
        where = "" if s.scope == "serve" else " (every command, before its name)"
        lines.append(f"| `{flag}`{where} | {shown} | {s.help} |")
    return "\n".join(lines) + "\n"
if __name__ == "__main__":   # python -m host_server.settings: the README table, to paste
    print(markdown_table(), end="")
