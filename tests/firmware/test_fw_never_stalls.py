"""What a device does with what it can never use, under micropython (simulator.devices.HEAP, .mpy) and CPython,
against the stand-in servers: an item whose meta data no device can play is reported failed and
the program moves on; a refused login says that the device id or secret is wrong; the firmware's
version goes with each login."""
import json
import subprocess

from fwpaths import FIRMWARE  # noqa: F401 (firmware/ on the path: version below)
from fwservers import item
from test_fw_device import MID, SMALL, compiled_entry, interp, run_device, servers, tags  # noqa: F401
from version import VERSION


def test_an_item_with_meta_data_no_device_can_play_is_reported_failed_and_the_program_moves_on(
        interp, tmp_path, servers):
    meta, a, fa, b, fb, ms = servers
    bad = item(2, MID, [fa.url + "/m/mid.bin"])
    bad["src"] = ["ftp://127.0.0.1/mid.bin"]   # no device fetches that
    meta.items = [item(1, SMALL, [fa.url + "/m/small.bin"]), bad,
                  item(3, SMALL, [fa.url + "/m/small.bin"])]
    proc, events = run_device(interp, tmp_path, ms.url, 3)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert [(e["id"], e["status"]) for e in tags(events, "ITEM")] == [
        (1, "played"), (2, "failed"), (3, "played")]
    (fail,) = tags(events, "FAIL")
    assert fail["id"] == 2 and fail["src"] == "meta" and fail["why"] == "bad response: bad meta data: src"
    # three answers that could not be used, then the report: the server moved past it
    backoffs = [e["why"] for e in tags(events, "BACKOFF")]
    assert backoffs == ["bad response: bad meta data: src"] * 2, backoffs
    report = [r for r in meta.reports if r["id"] == 2]
    assert report == [{"id": 2, "pos": 1, "status": "failed", "src": None, "bytes": 0, "ms": 0,
                       "errors": [["meta", "bad response: bad meta data: src"]]}]


def test_a_refused_login_says_the_device_id_or_secret_is_wrong(interp, tmp_path, servers):
    meta, a, fa, b, fb, ms = servers
    meta.secret = "ff" * 16   # the meta server knows another secret for dev1
    cfg = {"server": ms.url, "device": "dev1", "secret": "00112233445566778899aabbccddeeff",
           "items": 1, "backoff_base": 0.05, "backoff_cap": 0.1}
    path = tmp_path / "cfg.json"
    path.write_text(json.dumps(cfg))
    proc = subprocess.Popen(interp + [str(path)], stdout=subprocess.PIPE, text=True,
                            cwd=str(tmp_path))
    try:
        lines = []
        for line in proc.stdout:
            lines.append(line)
            if line.startswith("BACKOFF"):
                break
    finally:
        proc.kill()
        proc.wait()
        proc.stdout.close()
    assert lines[-2] == "E login refused (401): the device id 'dev1' or its secret is wrong\n", lines
    assert json.loads(lines[-1].split(" ", 1)[1])["why"] == "401"


def test_each_login_sends_the_firmware_version(interp, tmp_path, servers):
    meta, a, fa, b, fb, ms = servers
    meta.items = [item(1, SMALL, [fa.url + "/m/small.bin"])]
    proc, events = run_device(interp, tmp_path, ms.url, 1)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert meta.fw == [VERSION]


def test_a_board_sink_on_the_desktop_says_how_to_run_the_config_there(interp, tmp_path):
    path = tmp_path / "kitchen.json"
    path.write_text(json.dumps({"server": "http://127.0.0.1:1", "device": "kitchen",
                                "secret": "0" * 32, "sink": {"type": "board", "board": "esp32-i2s"}}))
    proc = subprocess.run(interp + [str(path)], capture_output=True, text=True, timeout=60,
                          cwd=str(tmp_path))
    assert proc.returncode != 0
    assert "sink type board needs the board's modules (hw/): on the desktop, python -m " \
           "simulator.console CONFIG plays it into a paced sink" in proc.stdout + proc.stderr
