"""tools.console attached to a simulated device's pseudo-terminal exactly as to /dev/ttyUSB0:
a real device under micropython against stand-in servers; and pyserial's loop:// for what the
console sends."""
import io
import json
import os
import sys

import pytest
from simulator.console import PtyDevice
from tools import console
from tools.fwbuild import micropython_path

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "tests", "firmware"))
from fwservers import FileHandler, FileState, MetaHandler, MetaState, Running, item  # noqa: E402

SECRET = "00112233445566778899aabbccddeeff"
DATA = os.urandom(30000)
MICROPYTHON = micropython_path()


@pytest.fixture
def device(tmp_path):
    a = FileState({"/m/x.bin": DATA})
    fa = Running(FileHandler, a)
    meta = MetaState("dev1", SECRET, [])
    ms = Running(MetaHandler, meta)
    meta.items = [item(1, DATA, [fa.url + "/m/gone.bin", fa.url + "/m/x.bin"], title="Tone")]
    cfg = {"server": ms.url, "device": "dev1", "secret": SECRET, "items": 1, "connect_timeout": 1.0,
           "read_timeout": 0.5, "sink": {"type": "null"}}
    p = tmp_path / "config.json"
    p.write_text(json.dumps(cfg))
    # the heap is not what this test is about (the firmware tests measure it)
    # held until the console sends a line: pyserial drops what a port holds when it opens
    dev = PtyDevice([MICROPYTHON, "-X", "heapsize=256K", os.path.join(ROOT, "firmware", "device.py"),
                     str(p)], cwd=str(tmp_path), hold=True)
    yield dev
    dev.close()
    fa.close()
    ms.close()


def test_console_on_a_pty_shows_the_device_log_in_colour_and_logs_everything(device, tmp_path):
    assert device.port.startswith("/dev/pts/")
    out = io.StringIO()
    log = tmp_path / "dev.log"
    assert console.main([device.port, "--send", "", "--until", "^DONE", "--color", "always",
                         "--log", str(log)], out=out) == 0
    lines = out.getvalue().splitlines()
    assert lines[0] == console.CYAN + 'LOGIN {"device": "dev1", "program": 1}' + console.RESET
    fail = [ln for ln in lines if "FAIL" in ln]
    assert fail and fail[0].startswith(console.YELLOW + "FAIL {") and '"why": "404"' in fail[0]
    item = [ln for ln in lines if "ITEM" in ln]
    assert item[0].startswith(console.GREEN + "ITEM {") and '"verified": 1' in item[0]
    assert lines[-1] == console.CYAN + 'DONE {"items": 1}' + console.RESET
    logged = log.read_text().splitlines()
    assert len(logged) == len(lines) and logged[-1].endswith(' DONE {"items": 1}')
    assert logged[0][:4].isdigit() and "T" in logged[0][:20]


@pytest.mark.parametrize("args,first", [
    (["--level", "W"], 'FAIL {"id": 1, "src": "http://'),  # LOGIN is below W
    (["--grep", "^ITEM"], 'ITEM {"id": 1, "pos": 0, "status": "played", "title": "Tone"'),
])
def test_console_filters_by_level_and_pattern(device, args, first):
    out = io.StringIO()
    assert console.main([device.port, "--send", "", "--count", "1", "--color", "never"] + args,
                        out=out) == 0
    assert out.getvalue().startswith(first)
    assert out.getvalue().count("\n") == 1


def test_console_stops_when_the_port_goes_away():
    dev = PtyDevice([sys.executable, "-c", "print('I hello')"])
    dev.wait()
    ser = console.serial.serial_for_url(dev.port, timeout=0.5)
    os.close(dev.master)  # the cable is pulled: the far end of the pty is gone
    dev.master = -1
    out = io.StringIO()
    try:
        assert console.Console(ser, out).watch() == "closed"
    finally:
        ser.close()
        dev.close()


def test_send_and_soft_reset_reach_the_port(mocker):
    """loop:// hands back what the console wrote, as a REPL's echo would."""
    out = io.StringIO()
    assert console.main(["loop://", "--soft-reset", "--send", "import gc; gc.collect()",
                         "--count", "1", "--color", "never"], out=out) == 0
    assert out.getvalue() == "\x03\x03\x04import gc; gc.collect()\n"


def test_hard_reset_pulses_rts_and_a_port_without_rts_says_so(mocker):
    ser = mocker.MagicMock()
    mocker.patch.object(console.time, "sleep")
    seen = []
    type(ser).rts = mocker.PropertyMock(side_effect=lambda v: seen.append(("rts", v)))
    type(ser).dtr = mocker.PropertyMock(side_effect=lambda v: seen.append(("dtr", v)))
    console.hard_reset(ser)
    assert seen == [("dtr", False), ("rts", True), ("rts", False)]
    type(ser).rts = mocker.PropertyMock(side_effect=OSError(25, "Inappropriate ioctl for device"))
    with pytest.raises(console.ConsoleError, match="cannot reset the board .*--soft-reset"):
        console.hard_reset(ser)


def test_auto_detect_finds_the_one_board_or_lists_them(mocker):
    def port(dev, vid):
        p = mocker.MagicMock()
        p.device, p.vid = dev, vid
        return p
    comports = mocker.patch.object(console.serial.tools.list_ports, "comports")
    comports.return_value = [port("/dev/ttyS0", None), port("/dev/ttyUSB0", 0x10C4)]
    assert console.detect() == "/dev/ttyUSB0"
    comports.return_value = [port("/dev/ttyUSB0", 0x10C4), port("/dev/ttyACM0", 0x2E8A)]
    with pytest.raises(console.ConsoleError, match=r"several boards: /dev/ttyUSB0 \(CP210x\), "
                                                   r"/dev/ttyACM0 \(Raspberry Pi\)"):
        console.detect()
    comports.return_value = [port("/dev/ttyS0", None)]
    with pytest.raises(console.ConsoleError, match="no board found"):
        console.detect()
