"""Provision a device in one step: create it on the meta server (the operator's
`python -m host_server add-device`, on the machine that holds the database), optionally entitle it
to a program, and write its config, ready for `python -m tools.flash`:

    python -m tools.provision --db meta.db --device kitchen --name "Kitchen radio" \\
        --server http://192.168.1.10:8000 --board esp32-i2s \\
        --wifi home:secret-pass --wifi cafe: --program Morning --out kitchen.json

All or nothing: the config is checked first, written (mode 0600: it holds the secret) to a
temporary file beside --out, then the device is added and entitled to --program in one
transaction; only when that succeeds is the config put in place. A device that exists already
(made by `add-device`) gets a new secret with --rotate-secret; its old config stops working.
"""
import argparse
import json
import os
import secrets
import subprocess
import sys

from tools import fwbuild


class ProvisionError(Exception):
    pass


def host_server(db, *args, secret=None):
    """A command of the operator's CLI (python -m host_server) on the database db; with secret,
    the device secret goes to it on stdin (never in `ps`). ProvisionError holds its message."""
    cmd = [sys.executable, "-m", "host_server", "--db", db] + list(args)
    if secret:
        cmd += ["--secret-file", "-"]
    r = subprocess.run(cmd, input=(secret + "\n") if secret else "", capture_output=True, text=True)
    if r.returncode != 0:
        lines = (r.stderr or r.stdout).strip().splitlines() or ["exit status %d" % r.returncode]
        message = lines[-1][len("error: "):] if lines[-1].startswith("error: ") else lines[-1]
        raise ProvisionError(message[-400:])
    if r.stderr.strip():
        print(r.stderr.strip(), file=sys.stderr)   # its warnings (a secret kept in clear)
    return r.stdout


def wifi_list(pairs):
    out = []
    for p in pairs:
        ssid, sep, pw = p.partition(":")
        if not sep:
            raise ProvisionError("--wifi %s: give SSID:PASSWORD (SSID: for an open network)" % p)
        out.append({"ssid": ssid, "password": pw})
    return out


def make_config(a, secret):
    cfg = {"server": a.server, "device": a.device, "secret": secret, "state": "state.json",
           "sink": {"type": "board", "board": a.board}, "items": 0, "watchdog": a.watchdog}
    if a.board == "rpi-linux":
        del cfg["watchdog"]  # Linux restarts it (systemd), not a machine.WDT
    if a.wifi:
        cfg["wifi"] = wifi_list(a.wifi)
    return cfg


def wifi_lines(path):
    """The SSID:PASSWORD lines of a file (or stdin), blank lines and # comments left out."""
    try:
        if path == "-":
            text = sys.stdin.read()
        else:
            with open(path, encoding="utf-8") as f:
                text = f.read()
    except (OSError, UnicodeDecodeError) as e:
        raise ProvisionError("--wifi-file %s: %s" % (path, getattr(e, "strerror", None) or "not UTF-8 text"))
    return [line.rstrip("\r") for line in text.split("\n") if line.strip() and not line.startswith("#")]


def check(cfg, path):
    fwbuild.sys_path_for_checks()
    import boards
    import devconfig
    import wlan
    boards.board(cfg["sink"]["board"])
    tmp = path + ".check"
    try:
        with os.fdopen(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as f:
            json.dump(cfg, f)
        devconfig.load_config(tmp)
        if "wifi" in cfg:
            wlan.check_networks(cfg["wifi"])
    except OSError as e:
        raise ProvisionError("cannot write %s: %s%s" % (path, e.strerror, _folder_hint(path)))
    except ValueError as e:
        raise ProvisionError("config: %s" % e)
    finally:
        try:
            os.remove(tmp)
        except OSError:
            pass


def _folder_hint(path):
    folder = os.path.dirname(os.path.abspath(path))
    return "" if os.path.isdir(folder) else " (its folder %s does not exist)" % folder


def write_private(cfg, path):
    """The config as JSON, readable by its owner only."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(cfg, f, indent=1)
        f.write("\n")


def provision(a):
    if os.path.exists(a.out) and not a.force:
        raise ProvisionError("%s exists (--force to replace it)" % a.out)
    check(make_config(a, "0" * 32), a.out)  # everything but the secret, before the device exists
    secret = secrets.token_hex(16)
    cfg = make_config(a, secret)
    tmp = a.out + ".tmp"
    try:
        write_private(cfg, tmp)
    except OSError as e:
        raise ProvisionError("cannot write %s: %s" % (a.out, e.strerror))
    try:
        if a.rotate_secret:
            if a.program:   # first: a program that does not exist changes nothing
                host_server(a.db, "assign", a.device, a.program, "--default")
            host_server(a.db, "rotate-secret", a.device, secret=secret)
        else:
            extra = ["--program", a.program] if a.program else []
            try:
                host_server(a.db, "add-device", a.device, "--name", a.name or a.device, *extra,
                            secret=secret)
            except ProvisionError as e:
                if "already exists" in str(e):
                    raise ProvisionError(
                        "device %s exists already (add-device made it): --rotate-secret gives it"
                        " a new secret in this config (the config it has stops working), or"
                        " choose another --device" % a.device) from None
                raise
    except BaseException:
        os.remove(tmp)
        raise
    try:
        os.replace(tmp, a.out)
    except OSError as e:
        raise ProvisionError("device %s was added but %s could not be written (%s); its secret: %s"
                             % (a.device, a.out, e.strerror, secret))
    return cfg


def parse_args(argv):
    fwbuild.sys_path_for_checks()
    import boards
    p = argparse.ArgumentParser(prog="python -m tools.provision", description=__doc__.splitlines()[0])
    p.add_argument("--db", default=os.environ.get("META_DB", "meta.db"), help="the meta server's database")
    p.add_argument("--device", required=True, help="device id")
    p.add_argument("--name", help="a name for people (default: the id)")
    p.add_argument("--server", required=True, help="the meta server's URL as the device reaches it")
    p.add_argument("--board", required=True, choices=sorted(boards.BOARDS),
                   help="the board and its parts (hw/README.md): %(choices)s")
    p.add_argument("--wifi", action="append", default=[], metavar="SSID:PASSWORD",
                   help="a saved network (repeat for several); it shows in `ps` and the shell's"
                        " history: prefer --wifi-file")
    p.add_argument("--wifi-file", metavar="FILE",
                   help="saved networks, one SSID:PASSWORD per line ('-': stdin)")
    p.add_argument("--program", help="entitle the device to this program and make it its default")
    p.add_argument("--watchdog", type=int, default=120, help="watchdog seconds (0: off)")
    p.add_argument("--out", required=True, help="the config file to write")
    p.add_argument("--force", action="store_true", help="replace an existing config file")
    p.add_argument("--rotate-secret", action="store_true",
                   help="the device exists already: give it a new secret, in this config (the config"
                        " it has stops working)")
    return p.parse_args(argv)


def main(argv=None):
    a = parse_args(sys.argv[1:] if argv is None else argv)
    try:
        if a.wifi_file:
            a.wifi = a.wifi + wifi_lines(a.wifi_file)
        cfg = provision(a)
    except ProvisionError as e:
        print("error: %s" % e, file=sys.stderr)
        return 1
    print("device %s %s; config %s (board %s, %d Wi-Fi networks%s)"
          % (a.device, "has a new secret" if a.rotate_secret else "added", a.out, a.board,
             len(cfg.get("wifi", [])), ", program %s" % a.program if a.program else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
