"""The operator's CLI as a newcomer types it: missing folders, wrong ids, bad ports, and help for
every option; each failure is one line that says what to do, never a traceback."""

import argparse
import json
import os
import socket
import stat
import subprocess
import sys

import pytest

from hostutil import REPO


def cli(*args, cwd=None, input=None, env=None):
    return subprocess.run([sys.executable, "-m", "host_server", *args], cwd=cwd or REPO, input=input,
                          capture_output=True, text=True, timeout=60, env=env)


def one_error_line(r):
    """The stderr of a failed command: one line, 'error: ...', no traceback, no 'error: error'."""
    assert r.returncode != 0
    lines = r.stderr.strip().splitlines()
    assert "Traceback" not in r.stderr and len(lines) == 1, r.stderr
    assert lines[0].startswith("error: ") and "error: error" not in lines[0], r.stderr
    return lines[0]


def test_init_creates_the_folder_of_a_database_that_is_not_there(tmp_path):
    env = dict(os.environ, HOME=str(tmp_path), META_DB=str(tmp_path / "media-network" / "meta.db"))
    r = cli("init", env=env)
    assert r.returncode == 0, r.stderr
    assert "created" in r.stdout and (tmp_path / "media-network" / "meta.db").exists()
    assert stat.S_IMODE(os.stat(tmp_path / "media-network").st_mode) == 0o700


def test_a_tilde_the_shell_did_not_expand_is_the_home_folder(tmp_path):
    env = dict(os.environ, HOME=str(tmp_path / "home"), META_DB="~/media-network/meta.db")
    os.makedirs(tmp_path / "home")
    r = cli("init", env=env)
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "home" / "media-network" / "meta.db").exists()
    assert not os.path.exists(os.path.join(REPO, "~"))


def test_another_command_on_a_missing_folder_says_init_makes_it(tmp_path):
    line = one_error_line(cli("--db", str(tmp_path / "nowhere" / "meta.db"), "list", "devices"))
    assert "does not exist" in line and "`init`" in line
    assert not (tmp_path / "nowhere").exists()


def test_new_master_key_into_a_missing_folder_makes_it(tmp_path):
    key = tmp_path / "keys" / "master.key"
    r = cli("new-master-key", str(key))
    assert r.returncode == 0, r.stderr
    assert stat.S_IMODE(os.stat(key).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(key.parent).st_mode) == 0o700
    line = one_error_line(cli("new-master-key", str(key)))
    assert "never overwritten" in line


def test_new_master_key_where_no_folder_can_be_made_says_which(tmp_path):
    (tmp_path / "file").write_text("")
    line = one_error_line(cli("new-master-key", str(tmp_path / "file" / "sub" / "master.key")))
    assert "cannot create the folder" in line and str(tmp_path / "file") in line


def test_an_id_that_does_not_exist_is_answered_with_those_that_do(tmp_path):
    db = str(tmp_path / "meta.db")
    line = one_error_line(cli("--db", db, "add-program", "P", "--items", "2"))
    assert line == "error: no media 2 (there are none yet: add-media adds one)"
    assert cli("--db", db, "add-program", "Morning").returncode == 0
    assert cli("--db", db, "add-device", "kitchen").returncode == 0
    line = one_error_line(cli("--db", db, "assign", "kitchen", "Mornign"))
    assert "no program 'Mornign'" in line and "programs: 1 Morning" in line and "list programs" in line
    line = one_error_line(cli("--db", db, "disable-device", "kichen"))
    assert "no device 'kichen'" in line and "devices: kitchen" in line
    line = one_error_line(cli("--db", db, "reports", "--device", "kichen"))
    assert "no device 'kichen'" in line and "devices: kitchen" in line
    assert cli("--db", db, "reports", "--device", "kitchen").stdout == "(none)\n"


def test_add_device_with_a_program_is_one_transaction(tmp_path):
    db = str(tmp_path / "meta.db")
    assert cli("--db", db, "add-program", "Morning").returncode == 0
    one_error_line(cli("--db", db, "add-device", "hall", "--program", "Evening"))
    assert json.loads(cli("--db", db, "list", "devices", "--json").stdout) == []
    r = cli("--db", db, "add-device", "hall", "--program", "Morning")
    assert r.returncode == 0 and "entitled to program 1 (default)" in r.stdout
    assert [d["default"] for d in json.loads(cli("--db", db, "list", "devices", "--json").stdout)] == [1]


@pytest.mark.parametrize("module", ["host_server", "host_server.fileserver"])
def test_a_port_over_65535_is_a_usage_error(module, tmp_path):
    args = ["--db", str(tmp_path / "m.db"), "serve"] if module == "host_server" else ["--root", str(tmp_path)]
    r = subprocess.run([sys.executable, "-m", module, *args, "--port", "70000"], cwd=REPO,
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert "'70000' is not a port: give 0-65535" in r.stderr


@pytest.mark.parametrize("module", ["host_server", "host_server.fileserver"])
def test_a_port_in_use_says_so_and_what_to_do(module, tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = str(taken.getsockname()[1])
        args = (["--db", str(tmp_path / "m.db"), "serve"] if module == "host_server"
                else ["--root", str(tmp_path)])
        r = subprocess.run([sys.executable, "-m", module, *args, "--port", port], cwd=REPO,
                           capture_output=True, text=True, timeout=60)
    line = [l for l in r.stderr.splitlines() if l.startswith("error")]
    assert r.returncode == 1 and "Traceback" not in r.stderr and len(line) == 1, r.stderr
    assert line[0] == ("error: cannot listen on 127.0.0.1:%s: Address already in use (another"
                       " process listens there: choose another --port, or 0 for a free one)" % port)


def test_every_command_and_option_has_help():
    from host_server.cli import _parser
    parser, _ = _parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    assert all(c.help for c in sub._choices_actions)
    missing = [(name, a.dest) for name, p in sub.choices.items() for a in p._actions
               if not a.help and a.dest != "help"]
    assert not missing, missing
