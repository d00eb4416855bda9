"""Provision a device in one step: create it on the meta server (the operator's
`python -m host_server add-device`, on the machine that holds the database), optionally entitle it
to a program, and write its config, ready for `python -m tools.flash`:

    python -m tools.provision --db meta.db --device kitchen --name "Kitchen radio" \\
        --server http://192.168.1.10:8000 --board esp32-i2s \\
        --wifi home:secret-pass --wifi cafe: --program Morning --out kitchen.json

The config is checked before the device is created, and written (mode 0600: it holds the
secret) only after; if writing fails, the secret is printed so it is not lost.
"""
import argparse
import json
import os
import re
import subprocess
import sys

from tools import fwbuild


class ProvisionError(Exception):
    pass


def host_server(db, *args):
    cmd = [sys.executable, "-m", "host_server", "--db", db] + list(args)
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        raise ProvisionError("%s: %s" % (" ".join(args[:2]), (r.stderr or r.stdout).strip()[-400:]))
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
        raise ProvisionError("cannot write %s: %s" % (path, e.strerror))
    except ValueError as e:
        raise ProvisionError("config: %s" % e)
    finally:
        try:
            os.remove(tmp)
        except OSError:
            pass


def write_config(cfg, path):
    tmp = path + ".tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(cfg, f, indent=1)
        f.write("\n")
    os.replace(tmp, path)


def provision(a):
    if os.path.exists(a.out) and not a.force:
        raise ProvisionError("%s exists (--force to replace it)" % a.out)
    check(make_config(a, "0" * 32), a.out)  # everything but the secret, before the device exists
    out = host_server(a.db, "add-device", a.device, "--name", a.name or a.device)
    m = re.search(r"secret \(shown once\): ([0-9a-f]{32})", out)
    if not m:
        raise ProvisionError("add-device printed no secret: %s" % out.strip())
    secret = m.group(1)
    cfg = make_config(a, secret)
    try:
        write_config(cfg, a.out)
    except OSError as e:
        raise ProvisionError("device %s was added but %s could not be written (%s); its secret: %s"
                             % (a.device, a.out, e.strerror, secret))
    if a.program:
        host_server(a.db, "assign", a.device, a.program, "--default")
    return cfg


def parse_args(argv):
    fwbuild.sys_path_for_checks()
    import boards
    p = argparse.ArgumentParser(prog="python -m tools.provision", description=__doc__.splitlines()[0])
    p.add_argument("--db", default=os.environ.get("META_DB", "meta.db"), help="the meta server's database")
    p.add_argument("--device", required=True, help="device id")
    p.add_argument("--name", help="a name for people (default: the id)")
    p.add_argument("--server", required=True, help="the meta server's URL as the device reaches it")
    p.add_argument("--board", required=True, choices=sorted(boards.BOARDS))
    p.add_argument("--wifi", action="append", default=[], metavar="SSID:PASSWORD",
                   help="a saved network (repeat for several); it shows in `ps` and the shell's"
                        " history: prefer --wifi-file")
    p.add_argument("--wifi-file", metavar="FILE",
                   help="saved networks, one SSID:PASSWORD per line ('-': stdin)")
    p.add_argument("--program", help="entitle the device to this program and make it its default")
    p.add_argument("--watchdog", type=int, default=120, help="watchdog seconds (0: off)")
    p.add_argument("--out", required=True, help="the config file to write")
    p.add_argument("--force", action="store_true", help="replace an existing config file")
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
    print("device %s added; config %s (board %s, %d Wi-Fi networks)"
          % (a.device, a.out, a.board, len(cfg.get("wifi", []))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
