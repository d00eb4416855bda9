"""The nginx-conf command: one of host_server/nginx/*.conf with its @@NAME@@ placeholders filled in,
on stdout (runs without a database):

    python -m host_server nginx-conf fileserver PREFIX=$HOME/nginx LISTEN=0.0.0.0:8080 ROOT=/srv/owner > fileserver.conf
"""

import os
import pathlib
import re
import sys

from .output import CliError

CONFS = pathlib.Path(__file__).resolve().parent.parent / "nginx"
PLACEHOLDER = re.compile(r"@@([A-Z_]+)@@")


def names():
    return sorted(p.stem for p in CONFS.glob("*.conf"))


def add_commands(sub):
    s = sub.add_parser("nginx-conf", help="print an nginx config (host_server/nginx/) with its"
                                          " placeholders filled in: an owner's file server, the"
                                          " replicas' balancer, a TLS front")
    s.add_argument("conf", choices=names(), help="which: %(choices)s")
    s.add_argument("values", nargs="*", metavar="NAME=VALUE",
                   help="a value for each @@NAME@@ of the config (it lists them when one is missing);"
                        " PREFIX, the folder for nginx's pid, logs and temp files, is created")


def placeholders(text):
    """The @@NAME@@s of a config outside its comments, in order of appearance."""
    body = re.sub(r"#.*", "", text)
    return list(dict.fromkeys(PLACEHOLDER.findall(body)))


def fill(conf, values):
    """The config's text with values ({NAME: text}) in place of its @@NAME@@s."""
    text = (CONFS / f"{conf}.conf").read_text()
    needed = placeholders(text)
    missing = [n for n in needed if n not in values]
    unknown = [n for n in values if n not in needed]
    if missing or unknown:
        raise CliError(f"{conf}.conf takes " + " ".join(f"{n}=..." for n in needed)
                       + (f"; missing: {', '.join(missing)}" if missing else "")
                       + (f"; not one of its placeholders: {', '.join(unknown)}" if unknown else "")
                       + f" (the comments at the top of {CONFS / (conf + '.conf')} say what each is)")
    if "PREFIX" in values and not os.path.isabs(values["PREFIX"]):
        raise CliError("PREFIX must be an absolute path (nginx reads the others relative to it)")
    for name, value in values.items():
        text = text.replace(f"@@{name}@@", value)
    return text


def run(args):
    values = {}
    for item in args.values:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise CliError(f"{item!r}: give NAME=VALUE")
        values[name.upper()] = value
    text = fill(args.conf, values)
    prefix = values.get("PREFIX")
    if prefix and not os.path.isdir(prefix):
        try:
            os.makedirs(prefix)
        except OSError as exc:
            raise CliError(f"cannot create PREFIX {prefix}: {exc.strerror}") from None
        print(f"folder {prefix} created", file=sys.stderr)
    sys.stdout.write(text)
