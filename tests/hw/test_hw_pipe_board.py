"""The Raspberry Pi pipe sink with a real player process, board definitions against hw/README.md,
buttons, and the sink choice from the device config."""
import os
import re
import sys

import pytest
from hwutil import stream, wav
from hwpaths import HW

META = {"id": 5, "pos": 1, "title": "T", "by": "B", "type": "audio/wav"}


def test_pipe_sink_hands_each_item_to_the_player_process(tmp_path):
    import boardsinks
    out = tmp_path / "played"
    sink = boardsinks.make_sink({"type": "pipe", "cmd": ["sh", "-c", "cat >> %s" % out]})
    a, b = os.urandom(10000), os.urandom(5000)
    stream(sink, META, a)
    stream(sink, dict(META, id=6), b, chunk=1000)
    assert out.read_bytes() == a + b


def test_pipe_sink_player_by_type_and_clear_errors(tmp_path, mocker):
    import pipesink
    popen = mocker.patch.object(pipesink.subprocess, "Popen")
    sink = pipesink.PipeSink()
    stream(sink, dict(META, type="audio/mpeg"), b"x" * 10)
    assert popen.call_args.args[0] == ["mpg123", "-q", "-"]
    stream(sink, META, wav(b"\x00" * 10))
    assert popen.call_args.args[0] == ["aplay", "-q", "-"]
    with pytest.raises(OSError, match="no player for type video/mp4"):
        stream(sink, dict(META, type="video/mp4"), b"x")
    with pytest.raises(ValueError, match="sink.cmd must be a list"):
        pipesink.PipeSink("aplay -")


def test_player_that_quits_mutes_the_item_without_stopping_the_fetch(tmp_path):
    import boardsinks
    sink = boardsinks.make_sink({"type": "pipe", "cmd": ["true"]})
    stream(sink, META, os.urandom(1 << 20), chunk=65536)  # more than a pipe holds
    assert sink.muted


def test_board_definitions_match_the_wiring_tables_in_hw_readme():
    import boards
    with open(os.path.join(HW, "README.md")) as f:
        text = f.read()
    for name, b in boards.BOARDS.items():
        m = re.search(r"^## `%s`.*?(?=^## |\Z)" % re.escape(name), text, re.M | re.S)
        assert m, "hw/README.md has no section for %s" % name
        section = m.group(0)
        pins = {k: v for k, v in b["sink"].items() if k not in ("type", "id", "spi")}
        for k, v in b.get("buttons", {}).items():
            pins["%s button" % k] = v
        for k, v in b.get("display", {}).items():
            if k not in ("i2c", "addr"):
                pins["display %s" % k] = v
        for label, v in pins.items():
            row = r"^\|\s*%s\b[^\n]*\|\s*%d\s*\|\s*$" % (re.escape(label), v)
            assert re.search(row, section, re.M), \
                "%s: pin %s = %d not in its wiring table" % (name, label, v)


def test_unknown_board_and_type_name_what_is_known():
    import boardsinks
    import sinks
    with pytest.raises(ValueError, match=r"unknown board nope \(known: esp32-i2s, esp32-vs1053"):
        boardsinks.make_sink({"type": "board", "board": "nope"})
    with pytest.raises(ValueError, match="unknown sink type: tape"):
        sinks.make_sink({"type": "tape"})


def test_board_config_builds_i2s_with_buttons_and_overrides(machine):
    import boardsinks
    import i2ssink
    s = boardsinks.make_sink({"type": "board", "board": "picow-i2s", "ibuf": 8000})
    assert isinstance(s, i2ssink.I2SSink) and s.ibuf == 8000
    pins = [c.args[0] for c in machine.Pin.call_args_list]
    assert pins[:2] == [14, 15] and pins[2:] == [16, 17, 18]  # buttons, then sck, ws, sd
    irq = machine.Pin.return_value.irq
    assert irq.call_count == 2 and irq.call_args.kwargs["trigger"] == machine.Pin.IRQ_FALLING


def test_buttons_flag_one_press_and_ignore_bounce(machine, mocker):
    import buttons
    now = [1000]
    mocker.patch.object(buttons, "ticks_ms", side_effect=lambda: now[0])
    b = buttons.Buttons({"next": 32, "pause": 33})
    handlers = [c.kwargs["handler"] for c in machine.Pin.return_value.irq.call_args_list]
    handlers[0](None)  # at start-up: bounce of the power coming up
    assert not b.take("next")
    now[0] += 500
    handlers[0](None)
    now[0] += 20
    handlers[0](None)  # bounce
    assert b.take("next") and not b.take("next") and not b.take("pause")
    now[0] += 500
    handlers[1](None)
    assert b.take("pause")


def test_display_sends_init_then_title_and_performer_under_micropython(tmp_path):
    import subprocess

    from hwpaths import FIRMWARE, MICROPYTHON
    script = tmp_path / "disp.py"
    script.write_text(
        "import sys\nsys.path[:0] = [%r, %r]\n" % (HW, FIRMWARE) +
        "import display\n"
        "class I2C:\n"
        "    def __init__(self): self.w = []\n"
        "    def writeto(self, a, b): self.w.append((a, bytes(b)))\n"
        "i2c = I2C()\n"
        "d = display.Display(i2c, 0x3C)\n"
        "init = [b[1] for a, b in i2c.w]\n"
        "print('INIT', ' '.join('%02x' % c for c in init))\n"
        "d.show('Morning Chord', 'Demo Ensemble')\n"
        "a, fb = i2c.w[-1]\n"
        "print('ADDR', a, 'LEN', len(fb), 'CTRL', fb[0])\n"
        "rows = [sum(1 for i in range(128) if fb[1 + p * 128 + i]) for p in range(8)]\n"
        "print('PAGES', rows)\n")
    r = subprocess.run([MICROPYTHON, str(script)], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    lines = dict(ln.split(" ", 1) for ln in r.stdout.splitlines())
    assert lines["INIT"].startswith("ae 20 00") and lines["INIT"].endswith("8d 14 af")
    assert lines["ADDR"].startswith("60 LEN 1025 CTRL 64")
    pages = eval(lines["PAGES"])
    assert pages[0] > 0 and pages[3] > 0 and pages[6] == 0  # title, performer, empty status
    assert sys.implementation.name == "cpython"
