"""A board's whole job on the real MicroPython interpreter (unix port, the board's .mpy files from
tools.fwbuild, main.py as on a board), with only the hardware stood in for (tests/hw/unixboard/
fakehw.py: I2S, WDT, Timer, RTC, WLAN): Wi-Fi, watchdog, the I2S sink from the board
definition, WAV items from stand-in servers; the DAC gets exactly the PCM, in a 96K heap."""
import hashlib
import json
import os
import subprocess
import sys

import hwpaths
import pytest
from hwutil import wav

sys.path.insert(0, hwpaths.ROOT)
sys.path.insert(0, os.path.join(hwpaths.ROOT, "tests", "firmware"))
from fwservers import FileHandler, FileState, MetaHandler, MetaState, Running, item  # noqa: E402
from tools import fwbuild  # noqa: E402

SECRET = "00112233445566778899aabbccddeeff"
RUN = os.path.join(hwpaths.HERE, "unixboard", "run_board.py")
PCM1 = os.urandom(300000)
PCM2 = os.urandom(200000)


@pytest.fixture(scope="module")
def board_dir(tmp_path_factory):
    out = str(tmp_path_factory.mktemp("esp32-board"))
    fwbuild.build("esp32", out)
    # the stand-ins for machine and network, compiled like the rest (on a board they are built in)
    fwbuild.put([("fakehw.py", os.path.join(hwpaths.HERE, "unixboard", "fakehw.py"))], out)
    return out


def run_board(board_dir, tmp_path, heap, items):
    w1, w2 = wav(PCM1), wav(PCM2, rate=22050, channels=1)
    a = FileState({"/m/1.wav": w1, "/m/2.wav": w2})
    b = FileState({"/alt/1.wav": w1, "/alt/2.wav": w2})
    a.faults["/m/1.wav"] = "drop:100000"  # failover mid-item: the DAC must not hear bytes twice
    fa, fb = Running(FileHandler, a), Running(FileHandler, b)
    meta = MetaState("dev1", SECRET, [])
    ms = Running(MetaHandler, meta)
    meta.items = [dict(item(1, w1, [fa.url + "/m/1.wav", fb.url + "/alt/1.wav"]), type="audio/wav"),
                  dict(item(2, w2, [fa.url + "/m/2.wav", fb.url + "/alt/2.wav"]), type="audio/wav")]
    cfg = {"server": ms.url, "device": "dev1", "secret": SECRET, "items": items,
           "connect_timeout": 1.0, "read_timeout": 0.5, "state": str(tmp_path / "state.json"),
           "sink": {"type": "board", "board": "esp32-i2s"}, "watchdog": 120,
           "wifi": [{"ssid": "home", "password": "password1"}]}
    p = tmp_path / "config.json"
    p.write_text(json.dumps(cfg))
    try:
        r = subprocess.run([hwpaths.MICROPYTHON, "-X", "heapsize=" + heap, RUN, board_dir, str(p)],
                           capture_output=True, text=True, timeout=60, cwd=str(tmp_path))
    finally:
        for s in (fa, fb, ms):
            s.close()
    return r, meta


def test_board_job_plays_wav_through_i2s_in_a_96k_heap(board_dir, tmp_path):
    # 96K: what the whole board job needs here (88K fails importing the sink; the stand-ins,
    # which a board has built in, hold about 6K of it). README "Flash a board" has the figures.
    r, meta = run_board(board_dir, tmp_path, "96K", 2)
    out = r.stdout
    assert r.returncode == 0, out + r.stderr
    assert "I wifi home up, address 127.0.0.2" in out
    items = [json.loads(ln[5:]) for ln in out.splitlines() if ln.startswith("ITEM ")]
    assert [(i["verified"], i["resumed"]) for i in items] == [(1, 1), (1, 0)]
    board = [ln for ln in out.splitlines() if ln.startswith("BOARD ")][0].split(" ", 4)
    assert board[1] == "0" and int(board[2]) == len(PCM1) + len(PCM2)
    assert board[3] == hashlib.sha256(PCM1 + PCM2).hexdigest()
    assert board[4].startswith("[(44100, 16, 1), (22050, 16, 0)]")
    assert int(board[4].split()[-1]) == 0  # the timer (not run on the unix port) feeds the WDT
    assert "out of memory" not in out and "MemoryError" not in out
    assert [rep["status"] for rep in meta.reports] == ["played", "played"]
