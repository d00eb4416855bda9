"""tools.provision against a real meta server database (SQLite, the operator's CLI)."""
import json
import os
import stat
import subprocess
import sys

import pytest
from tools import provision


@pytest.fixture
def db(tmp_path):
    p = str(tmp_path / "meta.db")
    subprocess.run([sys.executable, "-m", "host_server", "--db", p, "init"], check=True,
                   capture_output=True)
    return p


def listed(db):
    r = subprocess.run([sys.executable, "-m", "host_server", "--db", db, "list", "devices", "--json"],
                       check=True, capture_output=True, text=True)
    return r.stdout


def test_one_step_creates_the_device_and_writes_a_config_ready_to_flash(db, tmp_path):
    out = tmp_path / "kitchen.json"
    assert provision.main(["--db", db, "--device", "kitchen", "--name", "Kitchen radio",
                           "--server", "http://192.0.2.10:8000", "--board", "esp32-i2s",
                           "--wifi", "home:password1", "--wifi", "cafe:", "--out", str(out)]) == 0
    cfg = json.loads(out.read_text())
    assert cfg["device"] == "kitchen" and len(cfg["secret"]) == 32
    assert cfg["wifi"] == [{"ssid": "home", "password": "password1"}, {"ssid": "cafe", "password": ""}]
    assert cfg["sink"] == {"type": "board", "board": "esp32-i2s"} and cfg["watchdog"] == 120
    assert stat.S_IMODE(os.stat(out).st_mode) == 0o600
    assert "kitchen" in listed(db) and cfg["secret"] not in listed(db)
    # the firmware's own check accepts it
    from tools import flash
    flash.check_config(str(out), "esp32-i2s")


def test_bad_input_creates_nothing(db, tmp_path, capsys):
    out = tmp_path / "x.json"
    base = ["--db", db, "--device", "x", "--server", "http://192.0.2.10:8000", "--board", "esp32-i2s",
            "--out", str(out)]
    for extra, why in ((["--wifi", "home"], "give SSID:PASSWORD"),
                       (["--wifi", "home:short"], "password must be"),
                       (["--server", "192.0.2.10"], "server must be an http://")):
        assert provision.main(base + extra) == 1
        assert why in capsys.readouterr().err
    assert '"x"' not in listed(db) and not out.exists()
    assert not [p for p in os.listdir(tmp_path) if p.startswith("x.json")]


def test_existing_device_or_config_is_an_error(db, tmp_path, capsys):
    out = tmp_path / "k.json"
    args = ["--db", db, "--device", "k", "--server", "http://192.0.2.10:8000", "--board", "rpi-linux",
            "--out", str(out)]
    assert provision.main(args) == 0
    assert "watchdog" not in json.loads(out.read_text())
    assert provision.main(args) == 1
    assert "exists (--force" in capsys.readouterr().err
    before = out.read_text()
    assert provision.main(args + ["--force"]) == 1  # the device id is taken
    err = capsys.readouterr().err
    assert "device k exists already" in err and "--rotate-secret" in err
    assert "error: error" not in err and err.count("error:") == 1
    assert out.read_text() == before   # the config it has is left as it was
    assert not [p for p in os.listdir(tmp_path) if p.startswith("k.json.")]


def test_after_add_device_rotate_secret_writes_a_config_with_a_new_secret(db, tmp_path, capsys):
    """The README's order: `add-device kitchen`, then tools.provision for the same device."""
    subprocess.run([sys.executable, "-m", "host_server", "--db", db, "add-device", "kitchen"],
                   check=True, capture_output=True)
    subprocess.run([sys.executable, "-m", "host_server", "--db", db, "add-program", "Morning"],
                   check=True, capture_output=True)
    out = tmp_path / "kitchen.json"
    args = ["--db", db, "--device", "kitchen", "--server", "http://192.0.2.10:8000",
            "--board", "esp32-i2s", "--program", "Morning", "--out", str(out)]
    assert provision.main(args) == 1 and not out.exists()
    assert "--rotate-secret" in capsys.readouterr().err
    assert provision.main(args + ["--rotate-secret"]) == 0
    cfg = json.loads(out.read_text())
    devices = json.loads(listed(db))
    assert [d["default"] for d in devices if d["id"] == "kitchen"] == [1]
    # the config's secret is the device's now
    import asyncio
    from host_server.db import Database

    async def stored():
        d = await Database(db).connect()
        try:
            return await d.logins.device_secret("kitchen")
        finally:
            await d.close()
    assert asyncio.run(stored()) == (cfg["secret"], False)
    # a typo in --program, rotating: nothing changes, the config stays as it was
    before = out.read_text()
    typo = [a if a != "Morning" else "Mornign" for a in args]
    assert provision.main(typo + ["--rotate-secret", "--force"]) == 1
    assert "no program 'Mornign'" in capsys.readouterr().err
    assert asyncio.run(stored()) == (cfg["secret"], False) and out.read_text() == before
    assert not [p for p in os.listdir(tmp_path) if p.startswith("kitchen.json.")]


def test_a_program_that_does_not_exist_makes_no_device_and_writes_no_config(db, tmp_path, capsys):
    subprocess.run([sys.executable, "-m", "host_server", "--db", db, "add-program", "Morning"],
                   check=True, capture_output=True)
    out = tmp_path / "hall.json"
    args = ["--db", db, "--device", "hall", "--server", "http://192.0.2.10:8000",
            "--board", "esp32-i2s", "--out", str(out)]
    assert provision.main(args + ["--program", "Mornign"]) == 1
    err = capsys.readouterr().err
    assert "no program 'Mornign'" in err and "error: error" not in err
    assert '"hall"' not in listed(db)
    assert not [p for p in os.listdir(tmp_path) if p.startswith("hall")]
    assert provision.main(args + ["--program", "Morning"]) == 0   # and the same, typed right
    assert [d["default"] for d in json.loads(listed(db)) if d["id"] == "hall"] == [1]


def test_it_runs_from_any_folder(db, tmp_path):
    """Installed in the venv (pyproject.toml): python -m tools.provision outside the clone."""
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    r = subprocess.run([sys.executable, "-m", "tools.provision", "--db", db, "--device", "den",
                        "--server", "http://192.0.2.10:8000", "--board", "picow-i2s",
                        "--out", "den.json"], cwd=elsewhere, capture_output=True, text=True,
                       env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"})
    assert r.returncode == 0, r.stderr + " (is the project installed in the venv? `make venv`)"
    assert json.loads((elsewhere / "den.json").read_text())["device"] == "den"


def test_wifi_passwords_can_come_from_a_file_not_the_command_line(db, tmp_path):
    nets = tmp_path / "wifi.txt"
    nets.write_text("# saved networks\nhome:password1\n\ncafe:\n")
    out = tmp_path / "hall.json"
    assert provision.main(["--db", db, "--device", "hall", "--server", "http://192.0.2.10:8000",
                           "--board", "esp32-i2s", "--wifi-file", str(nets), "--out", str(out)]) == 0
    cfg = json.loads(out.read_text())
    assert cfg["wifi"] == [{"ssid": "home", "password": "password1"}, {"ssid": "cafe", "password": ""}]
    assert not os.path.exists(str(out) + ".check")
    assert provision.main(["--db", db, "--device", "hall2", "--server", "http://192.0.2.10:8000",
                           "--board", "esp32-i2s", "--wifi-file", str(tmp_path / "none"),
                           "--out", str(tmp_path / "x.json")]) == 1


def test_an_out_that_cannot_be_written_is_one_line_and_makes_no_device(db, tmp_path, capsys):
    out = tmp_path / "no" / "such" / "k.json"
    assert provision.main(["--db", db, "--device", "k", "--server", "http://192.0.2.10:8000",
                           "--board", "esp32-i2s", "--out", str(out)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "cannot write %s" % out in err[0] and "does not exist" in err[0]
    assert '"k"' not in listed(db)
