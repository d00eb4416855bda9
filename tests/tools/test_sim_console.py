"""python -m simulator.console as the README types it: the device runs compiled to .mpy at the
default heap (simulator.devices.HEAP) (from source it ran out of memory there), and a config whose meta server is gone
says so before the device starts backing off."""

import contextlib
import json
import os
import select
import subprocess
import sys

from simulator.procs import free_port

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def lines_until(fd, word, limit=200):
    """Lines read from the pty until one holds word (each read waits for output, at most 60 s)."""
    seen, buf = [], b""
    while len(seen) < limit:
        ready, _, _ = select.select([fd], [], [], 60)
        assert ready, "no output; so far: %s" % seen
        chunk = os.read(fd, 4096)
        assert chunk, "the device ended; so far: %s" % seen
        buf += chunk
        *done, buf = buf.split(b"\n")
        seen += [l.decode(errors="replace").rstrip("\r") for l in done]
        if any(word in l for l in seen):
            return seen
    raise AssertionError("no %r in %s" % (word, seen))


@contextlib.contextmanager
def console(cfg, cwd):
    """python -m simulator.console CFG, running until the block ends."""
    proc = subprocess.Popen([sys.executable, "-m", "simulator.console", str(cfg)], cwd=cwd,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        yield proc
    finally:
        proc.terminate()
        proc.wait(30)
        proc.stdout.close()
        proc.stderr.close()


def device_lines(proc, word):
    """Open the console's pty as tools.console would, start the device with a first line, and
    read its lines until one holds word."""
    line = proc.stdout.readline()
    assert line.startswith("console /dev/pts/"), line
    fd = os.open(line.split()[1], os.O_RDWR | os.O_NOCTTY)
    try:
        os.write(fd, b"\n")   # the console's first line starts the device
        return lines_until(fd, word)
    finally:
        os.close(fd)


def test_a_config_whose_server_is_gone_warns_and_the_mpy_device_backs_off_at_64k(tmp_path):
    cfg = tmp_path / "config.json"
    server = "http://127.0.0.1:%d" % free_port()
    cfg.write_text(json.dumps({"server": server, "device": "dev1", "secret": "0" * 32,
                               "items": 1, "backoff_base": 0.01, "backoff_cap": 0.02}))
    with console(cfg, REPO) as proc:
        warning = proc.stderr.readline()
        assert warning.startswith("warning: the config's meta server %s does not answer" % server)
        seen = device_lines(proc, "BACKOFF")
        assert not [l for l in seen if "MemoryError" in l or "out of memory" in l], seen
        assert any('"refused"' in l for l in seen if l.startswith("BACKOFF")), seen


def test_a_provisioned_config_runs_on_the_desktop_with_a_paced_sink_for_the_board(tmp_path):
    # what tools.provision writes for a board: its sink, Wi-Fi networks and the watchdog
    cfg = tmp_path / "kitchen.json"
    server = "http://127.0.0.1:%d" % free_port()
    cfg.write_text(json.dumps({"server": server, "device": "kitchen", "secret": "0" * 32,
                               "state": "state.json", "items": 0, "watchdog": 120,
                               "sink": {"type": "board", "board": "esp32-i2s"},
                               "wifi": [{"ssid": "home", "password": "pw"}],
                               "backoff_base": 0.01, "backoff_cap": 0.02}))
    with console(cfg, str(tmp_path)) as proc:
        assert proc.stderr.readline().startswith("warning: the config's meta server")
        note = proc.stderr.readline()
        assert note.startswith("note: the board sink (esp32-i2s) needs the board: here the device"
                               " plays into a paced sink at real time through a 16384-byte"), note
        seen = device_lines(proc, "BACKOFF")
        # the sink was made (it is made before the first login) and no key was unknown
        assert not [l for l in seen if l.startswith(("E ", "W "))], seen
        assert any('"refused"' in l for l in seen if l.startswith("BACKOFF")), seen
    assert json.loads(cfg.read_text())["sink"]["type"] == "board"   # the user's file is as it was
