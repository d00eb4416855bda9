"""device.py as the simulator runs it, under micropython (simulator.devices.HEAP, modules compiled to .mpy as on
a board) and CPython, against small local stand-in servers: event lines, failover with Range,
sha256, reports, state, re-login."""
import json
import os
import re
import subprocess
import sys

import pytest
from fwpaths import FIRMWARE, MICROPYTHON
from fwservers import FileHandler, FileState, MetaHandler, MetaState, Running, item

from simulator.devices import HEAP
from simulator.procs import free_port, refusing_port

SECRET = "00112233445566778899aabbccddeeff"
BIG = os.urandom(1000000)
MID = os.urandom(50000)
SMALL = b"small item\n" * 10

INTERPRETERS = {"micropython": [MICROPYTHON, "-X", "heapsize=" + HEAP], "cpython": [sys.executable]}


@pytest.fixture(scope="session")
def compiled_entry(tmp_path_factory):
    from simulator.devices import compile_firmware
    return compile_firmware(str(tmp_path_factory.mktemp("fw-mpy")))


@pytest.fixture(params=sorted(INTERPRETERS))
def interp(request, compiled_entry):
    """The command that runs the device: the interpreter and the entry script."""
    if request.param == "micropython":
        return INTERPRETERS[request.param] + [compiled_entry]
    return INTERPRETERS[request.param] + [os.path.join(FIRMWARE, "device.py")]


@pytest.fixture
def servers():
    a = FileState({"/m/big.bin": BIG, "/m/mid.bin": MID, "/m/small.bin": SMALL})
    b = FileState({"/alt/big.bin": BIG, "/alt/mid.bin": MID, "/alt/small.bin": SMALL})
    fa, fb = Running(FileHandler, a), Running(FileHandler, b)
    meta = MetaState("dev1", SECRET, [])
    ms = Running(MetaHandler, meta)
    yield meta, a, fa, b, fb, ms
    for s in (fa, fb, ms):
        s.close()


def run_device(interp, tmp_path, server, items, timeout=60, **over):
    cfg = {"server": server, "device": "dev1", "secret": SECRET, "buffer": 4096,
           "connect_timeout": 1.0, "read_timeout": 0.5, "state": str(tmp_path / "state.json"),
           "sink": {"type": "file", "dir": str(tmp_path / "out")}, "items": items, "program": None,
           "backoff_base": 0.1, "backoff_cap": 0.3, "idle_wait": 0.1}
    cfg.update(over)
    path = tmp_path / "cfg.json"
    path.write_text(json.dumps(cfg))
    proc = subprocess.run(interp + [str(path)],
                          capture_output=True, text=True, timeout=timeout, cwd=str(tmp_path))
    events = []
    for line in proc.stdout.splitlines():
        tag, _, rest = line.partition(" ")
        if tag in ("LOGIN", "PROGRAM", "FAIL", "ITEM", "BACKOFF", "DONE"):
            events.append((tag, json.loads(rest)))
        else:
            assert line[:2] in ("I ", "W ", "E ", "D "), "unexpected output line %r" % line
    return proc, events


def tags(events, tag):
    return [e for t, e in events if t == tag]


def test_failover_resumes_with_range_and_reports(interp, tmp_path, servers):
    meta, a, fa, b, fb, ms = servers
    meta.items = [item(1, BIG, [fa.url + "/m/big.bin", fb.url + "/alt/big.bin"], "Big"),
                  item(2, MID, [fa.url + "/m/mid.bin", fb.url + "/alt/mid.bin"]),
                  item(3, SMALL, [fa.url + "/m/small.bin", fb.url + "/alt/small.bin"])]
    a.faults = {"/m/big.bin": "drop:300000", "/m/mid.bin": "404"}
    proc, events = run_device(interp, tmp_path, ms.url, 3)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert tags(events, "LOGIN") == [{"device": "dev1", "program": 1}]
    it = tags(events, "ITEM")
    assert [(e["id"], e["status"], e["verified"]) for e in it] == [(1, "played", 1), (2, "played", 1),
                                                                    (3, "played", 1)]
    assert it[0]["src"] == fb.url + "/alt/big.bin" and it[0]["resumed"] == 1 and it[0]["failovers"] == 1
    assert it[0]["bytes"] == len(BIG) and it[0]["title"] == "Big"
    assert it[2]["src"] == fa.url + "/m/small.bin" and it[2]["failovers"] == 0
    fails = tags(events, "FAIL")
    assert fails[0]["id"] == 1 and fails[0]["why"].startswith("dropped at ")
    dropped_at = fails[0]["at"]
    assert 0 < dropped_at <= 300000
    assert ("/alt/big.bin", "bytes=%d-" % dropped_at) in b.requests  # never fetched twice
    assert fails[1] == {"id": 2, "src": fa.url + "/m/mid.bin", "why": "404", "at": 0}
    assert tags(events, "DONE") == [{"items": 3}]
    for n, data in ((1, BIG), (2, MID), (3, SMALL)):
        assert (tmp_path / "out" / str(n)).read_bytes() == data
    assert [r["status"] for r in meta.reports] == ["played"] * 3
    assert meta.reports[0]["errors"] == [[fa.url + "/m/big.bin", "dropped at %d" % dropped_at]]
    assert meta.reports[1]["errors"] == [[fa.url + "/m/mid.bin", "404"]]
    assert meta.pos == 0  # 3 reports advanced a 3-item program around to the start


def test_stall_refused_and_all_failing(interp, tmp_path, servers):
    meta, a, fa, b, fb, ms = servers
    dead = "http://127.0.0.1:%d/x.bin" % free_port()  # nothing listens there
    meta.items = [item(2, MID, [fa.url + "/m/mid.bin", dead, fb.url + "/alt/mid.bin"]),
                  item(3, SMALL, [dead, fa.url + "/nope.bin"])]
    a.faults = {"/m/mid.bin": "stall:1000"}
    proc, events = run_device(interp, tmp_path, ms.url, 2, sink={"type": "null"})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    fails = tags(events, "FAIL")
    assert [(f["id"], f["why"]) for f in fails] == [(2, "timeout"), (2, "refused"), (3, "refused"),
                                                    (3, "404")]
    it = tags(events, "ITEM")
    assert it[0]["status"] == "played" and it[0]["failovers"] == 2
    assert it[1]["status"] == "failed" and it[1]["src"] is None and it[1]["verified"] == 0
    assert meta.reports[1]["status"] == "failed" and meta.reports[1]["src"] is None


def test_restart_reuses_token_and_resumes_a_held_item(interp, tmp_path, servers):
    meta, a, fa, b, fb, ms = servers
    meta.items = [item(1, BIG, [fa.url + "/m/big.bin"]), item(3, SMALL, [fa.url + "/m/small.bin"])]
    proc, _ = run_device(interp, tmp_path, ms.url, 1)
    assert proc.returncode == 0 and meta.logins == 1
    # as if the device had rebooted 123456 bytes into item 1 (the server still has it current)
    meta.pos = 0
    state = json.loads((tmp_path / "state.json").read_text())
    state.update(id=1, pos=0)
    (tmp_path / "state.json").write_text(json.dumps(state))
    (tmp_path / "out" / "1").write_bytes(BIG[:123456])
    a.requests.clear()
    proc, events = run_device(interp, tmp_path, ms.url, 1)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert meta.logins == 1 and not tags(events, "LOGIN")  # the stored token was still good
    assert a.requests == [("/m/big.bin", "bytes=123456-")]
    assert tags(events, "ITEM")[0]["resumed"] == 1 and tags(events, "ITEM")[0]["status"] == "played"
    assert (tmp_path / "out" / "1").read_bytes() == BIG


def test_expired_token_logs_in_again(interp, tmp_path, servers):
    meta, a, fa, b, fb, ms = servers
    meta.items = [item(3, SMALL, [fa.url + "/m/small.bin"])]
    run_device(interp, tmp_path, ms.url, 1)
    meta.tokens.clear()
    proc, events = run_device(interp, tmp_path, ms.url, 1)
    assert proc.returncode == 0 and meta.logins == 2 and len(tags(events, "LOGIN")) == 1
    assert tags(events, "ITEM")[0]["status"] == "played"


def test_unreachable_meta_server_backs_off_with_jitter_then_stops_after_items(interp, tmp_path):
    # items=0 would run forever; a refused login keeps backing off, so bound it with the timeout
    with refusing_port() as s, pytest.raises(subprocess.TimeoutExpired) as ex:
        run_device(interp, tmp_path, "http://127.0.0.1:%d" % s.getsockname()[1], 1, timeout=3)
    out = ex.value.stdout or b""
    out = out.decode() if isinstance(out, bytes) else out
    lines = [ln for ln in out.splitlines() if ln.startswith("BACKOFF ")]
    for ln in lines:  # a short decimal, as a person would write it (no 0.5600000000000001)
        assert re.match(r'^BACKOFF \{"why": "refused", "s": \d+\.\d{1,3}\}$', ln), ln
    backoffs = [json.loads(ln[8:]) for ln in lines]
    assert len(backoffs) >= 3
    assert all(b["why"] == "refused" and 0 <= b["s"] <= 0.3 for b in backoffs)
    assert len({b["s"] for b in backoffs}) > 1  # jittered


def test_bad_config_exits_nonzero_with_a_clear_message(interp, tmp_path):
    path = tmp_path / "cfg.json"
    path.write_text(json.dumps({"server": "http://127.0.0.1:1", "device": "d"}))
    proc = subprocess.run(interp + [str(path)],
                          capture_output=True, text=True, timeout=30)
    assert proc.returncode == 2 and proc.stdout.strip() == "E config: secret is required (a string)"
    path.write_text(json.dumps({"server": "http://127.0.0.1:1", "device": "d", "secret": "0" * 32,
                                "sink": {"type": "file", "dir": str(tmp_path / "no" / "such")}}))
    proc = subprocess.run(interp + [str(path)],
                          capture_output=True, text=True, timeout=30)
    assert proc.returncode == 2 and "cannot be created" in proc.stdout
    path.write_text("{not json")
    proc = subprocess.run(interp + [str(path)],
                          capture_output=True, text=True, timeout=30)
    assert proc.returncode == 2 and proc.stdout.startswith("E config: ")


def test_429_at_login_waits_retry_after_and_report_is_retried(interp, tmp_path, servers):
    meta, a, fa, b, fb, ms = servers
    meta.items = [item(3, SMALL, [fa.url + "/m/small.bin"])]
    meta.too_many = 1
    meta.report_errors = 2
    proc, events = run_device(interp, tmp_path, ms.url, 1)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    backoffs = tags(events, "BACKOFF")
    assert backoffs[0]["why"] == "429" and backoffs[0]["s"] >= 1.0
    assert [b["why"] for b in backoffs[1:]] == ["report 503", "report 503"]
    assert len(meta.reports) == 1 and meta.pos == 0 and meta.reports[0]["status"] == "played"
    assert tags(events, "ITEM")[0]["status"] == "played"


def test_a_report_the_meta_server_cannot_take_for_a_while_is_kept_and_no_item_plays_twice(
        interp, tmp_path, servers):
    meta, a, fa, b, fb, ms = servers
    meta.items = [item(3, SMALL, [fa.url + "/m/small.bin"]), item(4, MID, [fa.url + "/m/mid.bin"])]
    meta.report_errors = 9   # the meta server is away for longer than any fixed number of tries
    proc, events = run_device(interp, tmp_path, ms.url, 2)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert [b["why"] for b in tags(events, "BACKOFF")] == ["report 503"] * 9
    assert [(r["id"], r["pos"]) for r in meta.reports] == [(3, 0), (4, 1)]
    assert [(ev["id"], ev["pos"]) for ev in tags(events, "ITEM")] == [(3, 0), (4, 1)]
    assert json.loads((tmp_path / "state.json").read_text()).get("report") is None


def test_a_report_kept_from_before_a_restart_is_delivered_before_the_next_item(
        interp, tmp_path, servers):
    meta, a, fa, b, fb, ms = servers
    meta.items = [item(3, SMALL, [fa.url + "/m/small.bin"]), item(4, MID, [fa.url + "/m/mid.bin"])]
    run_device(interp, tmp_path, ms.url, 1)
    # as if the power went after item 3 played but before its report was taken
    meta.reports.clear()
    meta.pos = 0
    state = json.loads((tmp_path / "state.json").read_text())
    state.update(id=3, pos=0, report={"id": 3, "pos": 0, "status": "played", "src": "x",
                                      "bytes": len(SMALL), "ms": 1, "errors": []})
    (tmp_path / "state.json").write_text(json.dumps(state))
    a.requests.clear()
    proc, events = run_device(interp, tmp_path, ms.url, 1)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert [(r["id"], r["pos"]) for r in meta.reports] == [(3, 0), (4, 1)]
    assert [ev["id"] for ev in tags(events, "ITEM")] == [4]
    assert [p for p, _ in a.requests] == ["/m/mid.bin"]   # item 3 was not fetched again


def test_empty_program_waits_and_asks_again(interp, tmp_path, servers):
    meta, a, fa, b, fb, ms = servers
    with pytest.raises(subprocess.TimeoutExpired) as ex:
        run_device(interp, tmp_path, ms.url, 1, timeout=2)
    out = ex.value.stdout or b""
    out = out.decode() if isinstance(out, bytes) else out
    assert out.count("I nothing to play") >= 3 and "ITEM" not in out


def test_configured_program_is_selected_after_login(interp, tmp_path, servers):
    meta, a, fa, b, fb, ms = servers
    meta.items = [item(3, SMALL, [fa.url + "/m/small.bin"])]
    proc, events = run_device(interp, tmp_path, ms.url, 1, program=2)
    assert proc.returncode == 0 and meta.program == 2
    assert tags(events, "PROGRAM") == [{"program": 2}]
    (tmp_path / "state.json").unlink()
    proc, events = run_device(interp, tmp_path, ms.url, 1, program=9)
    assert proc.returncode == 0 and meta.program == 2
    assert "E program 9 not selected: 403" in proc.stdout.splitlines()
    assert tags(events, "LOGIN") == [{"device": "dev1", "program": 2}]
    assert tags(events, "PROGRAM") == []
