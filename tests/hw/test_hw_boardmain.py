"""main.py as a board runs it, in-process on CPython against small stand-in servers, with only
the hardware mocked (network.WLAN, machine.WDT/Timer): Wi-Fi choice among saved networks,
reconnect with the item resuming at the byte reached, the watchdog fed by the player loop."""
import json
import os
import sys

import hwpaths
import pytest

sys.path.insert(0, os.path.join(hwpaths.ROOT, "tests", "firmware"))
from fwservers import FileHandler, FileState, MetaHandler, MetaState, Running, item  # noqa: E402

SECRET = "00112233445566778899aabbccddeeff"
DATA = os.urandom(60000)
OURS = ("compat", "devlog", "devconfig", "device", "player", "fetch", "httpclient", "httpconn",
        "metaclient", "sinks", "hmacsha256", "watchdog", "wlan", "supervise", "boardmain", "secure",
        "cryptolib", "resumemark")


class FakeWLAN:
    """network.WLAN as a station sees it: a scan, connect, up or down."""

    def __init__(self, seen):
        self.seen = seen  # ssid -> rssi
        self.up = False
        self.connects = []
        self.refuse = set()

    def active(self, on=None):
        return True

    def scan(self):
        return [(s.encode(), b"\x00" * 6, 1, rssi, 3, False) for s, rssi in self.seen.items()]

    def connect(self, ssid, pw):
        self.connects.append(ssid)
        self.up = ssid not in self.refuse

    def isconnected(self):
        return self.up

    def status(self):
        return 0 if self.up else 202

    def disconnect(self):
        self.up = False

    def ifconfig(self):
        return ("127.0.0.2", "255.0.0.0", "127.0.0.1", "127.0.0.1")


@pytest.fixture
def board(mocker, machine):
    mocker.patch.dict(sys.modules)  # restored afterwards, with every module imported here
    for name in OURS:
        sys.modules.pop(name, None)
    network = mocker.MagicMock(name="network")
    network.STAT_WRONG_PASSWORD, network.STAT_NO_AP_FOUND, network.STAT_CONNECT_FAIL = 202, 201, 203
    wlan = FakeWLAN({"cafe": -80, "home": -50})
    network.WLAN.return_value = wlan
    sys.modules["network"] = network
    return machine, wlan


@pytest.fixture
def servers():
    a = FileState({"/m/x.bin": DATA})
    b = FileState({"/alt/x.bin": DATA})
    fa, fb = Running(FileHandler, a), Running(FileHandler, b)
    meta = MetaState("dev1", SECRET, [])
    ms = Running(MetaHandler, meta)
    meta.items = [item(1, DATA, [fa.url + "/m/x.bin", fb.url + "/alt/x.bin"])]
    yield meta, a, fa, b, fb, ms
    for s in (fa, fb, ms):
        s.close()


def config(tmp_path, server, **over):
    cfg = {"server": server, "device": "dev1", "secret": SECRET, "buffer": 4096,
           "connect_timeout": 1.0, "read_timeout": 0.5, "state": str(tmp_path / "state.json"),
           "sink": {"type": "file", "dir": str(tmp_path / "out")}, "items": 2,
           "backoff_base": 0.05, "backoff_cap": 0.1, "idle_wait": 0.1, "watchdog": 120,
           "wifi": [{"ssid": "hidden", "password": "password1"}, {"ssid": "cafe", "password": ""},
                    {"ssid": "home", "password": "password2"}]}
    cfg.update(over)
    p = tmp_path / "config.json"
    p.write_text(json.dumps(cfg))
    return str(p)


def events(out, tag):
    return [json.loads(ln.split(" ", 1)[1]) for ln in out.splitlines() if ln.startswith(tag + " ")]


def test_boots_on_the_strongest_saved_network_with_the_watchdog_fed(board, servers, tmp_path, capsys):
    machine, wlan = board
    meta, *_ , ms = servers
    wlan.refuse = {"home"}  # strongest, but refuses: the next one is tried
    import boardmain
    assert boardmain.main(config(tmp_path, ms.url)) == 0
    out = capsys.readouterr().out
    assert wlan.connects == ["home", "cafe"]
    assert "W wifi home: wrong password" in out and "I wifi cafe up, address 127.0.0.2" in out
    assert [e["verified"] for e in events(out, "ITEM")] == [1, 1]
    machine.WDT.assert_called_once_with(timeout=5000)
    timer = machine.Timer.return_value
    kw = timer.init.call_args.kwargs
    assert kw["period"] == 2500 and kw["mode"] == machine.Timer.PERIODIC
    machine.Timer.assert_called_once_with(-1)  # a file sink names no board: the virtual timer
    import watchdog
    dog = watchdog._dog
    # the loop fed it: the deadline is ~120 s after the last event, so the timer feeds the WDT
    machine.WDT.return_value.feed.reset_mock()
    kw["callback"](timer)
    machine.WDT.return_value.feed.assert_called_once_with()
    # a loop that stops feeding: once the deadline passes, the hardware is no longer fed
    dog.deadline = watchdog.ticks_add(watchdog.ticks_ms(), -1)
    kw["callback"](timer)
    assert machine.WDT.return_value.feed.call_count == 1


def test_wifi_lost_mid_item_reconnects_and_the_next_source_resumes_at_the_byte(board, servers,
                                                                                  tmp_path, capsys):
    machine, wlan = board
    meta, a, fa, b, fb, ms = servers
    a.faults["/m/x.bin"] = "drop:20000"
    orig = FileHandler.do_GET

    def lose_wifi(self):
        if self.path == "/m/x.bin":
            wlan.up = False  # the access point goes away while the primary streams
        orig(self)
    fa.httpd.RequestHandlerClass.do_GET = lose_wifi
    import boardmain
    assert boardmain.main(config(tmp_path, ms.url, items=1)) == 0
    out = capsys.readouterr().out
    assert wlan.connects == ["home", "home"]
    assert "W wifi home lost" in out
    it = events(out, "ITEM")[0]
    assert it["verified"] == 1 and it["resumed"] == 1 and it["src"].endswith("/alt/x.bin")
    assert b.requests == [("/alt/x.bin", "bytes=20000-")]
    assert (tmp_path / "out" / "1").read_bytes() == DATA


def test_bad_board_keys_are_config_errors_before_anything_starts(board, tmp_path, capsys):
    machine, wlan = board
    import boardmain
    for server, over, why in (
            ("http://127.0.0.1:9", {"wifi": [{"ssid": "x", "password": "short"}]},
             "wifi x: password must be"),
            ("http://127.0.0.1:9", {"wifi": [{"password": "password1"}]}, "needs an ssid"),
            ("http://127.0.0.1:9", {"watchdog": "soon"}, "watchdog must be"),
            ("ftp://x", {}, "server must be an http://")):
        assert boardmain.main(config(tmp_path, server, **over)) == 2
        last = capsys.readouterr().out.splitlines()[-1]
        assert last.startswith("E config: ") and why in last
    assert not machine.WDT.called and wlan.connects == []


def test_flash_is_written_only_at_item_boundaries(board, servers, tmp_path, capsys, mocker):
    """The state file (flash on a board) is replaced once at login (the token), and three times
    per item: its id when it starts, its report when it is fetched (kept until the meta server
    takes it), both cleared when the report is taken. Nothing per chunk: the byte reached lives
    in RTC memory (resumemark), not in flash."""
    rename = mocker.spy(os, "rename")
    import boardmain
    assert boardmain.main(config(tmp_path, servers[-1].url, items=3)) == 0
    state_writes = [c for c in rename.call_args_list if str(c.args[1]).endswith("state.json")]
    assert len(state_writes) == 1 + 3 * 3


def test_watchdog_timer_comes_from_the_board_definition(board, servers, tmp_path, capsys):
    machine, wlan = board
    import boardmain
    path = config(tmp_path, servers[-1].url, items=1,
                  sink={"type": "board", "board": "esp32-i2s", "buttons": False})
    assert boardmain.main(path) == 0
    machine.Timer.assert_called_once_with(0)  # ESP32 has hardware timers 0..3, no virtual -1
    # the I2S sink of the board took the item (random bytes, not a WAV: fetched, not played)
    assert "E item 1 not playable on I2S: not a WAV file" in capsys.readouterr().out
    assert not machine.I2S.called
