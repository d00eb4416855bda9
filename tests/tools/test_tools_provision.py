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
    assert provision.main(args + ["--force"]) == 1  # the device id is taken
    assert "add-device" in capsys.readouterr().err


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
