"""The device with its paced sink (the jitter ring drained at the item's rate times speed), under
micropython (simulator.devices.HEAP, .mpy) and CPython, against the stand-in servers: each fault class mid-item
with underruns counted and the bytes exact, a trickling source abandoned for the alternate, and
the jitter config checked."""
import json
import subprocess

from fwservers import item
from test_fw_device import MID, SMALL, compiled_entry, interp, run_device, servers, tags  # noqa: F401

from simulator.procs import free_port

RATE = 16000           # bytes per second (128 kbit/s)
SPEED = 4              # played at 64000 B/s: MID (50000 bytes) in 781 ms
JITTER = 4096          # 64 ms of ring at that pace (what fits beside the firmware in HEAP)
PACED = {"buffer": 1024, "jitter": JITTER, "key_buffer": 0}


def paced(tmp_path):
    return dict(PACED, sink={"type": "paced", "speed": SPEED, "dir": str(tmp_path / "out")})


def test_each_fault_class_mid_item_is_played_through_with_its_underruns_counted(
        interp, tmp_path, servers):
    meta, a, fa, b, fb, ms = servers
    dead = "http://127.0.0.1:%d/m/mid.bin" % free_port()   # nothing listens there
    for path in ("/m/stall.bin", "/m/drop.bin", "/m/drop2.bin", "/m/drop3.bin"):
        a.files[path] = MID
    a.faults = {"/m/stall.bin": "stall:20000", "/m/drop.bin": "drop:20000",
                "/m/drop2.bin": "drop:20000", "/m/drop3.bin": "drop:20000"}
    alt = fb.url + "/alt/mid.bin"
    meta.items = [item(11, MID, [fa.url + "/m/stall.bin", alt], rate=RATE),
                  item(12, MID, [fa.url + "/m/drop.bin", alt], rate=RATE),
                  item(13, MID, [fa.url + "/m/drop2.bin", dead, alt], rate=RATE),
                  item(14, MID, [fa.url + "/m/drop3.bin", fa.url + "/m/nope.bin", alt], rate=RATE)]
    proc, events = run_device(interp, tmp_path, ms.url, 4, **paced(tmp_path))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    it = {ev["id"]: ev for ev in tags(events, "ITEM")}
    assert sorted(it) == [11, 12, 13, 14]
    for n in it:
        ev = it[n]
        assert ev["status"] == "played" and ev["verified"] == 1 and ev["src"] == alt, ev
        assert ev["resumed"] == 1 and ev["bytes"] == len(MID)
        assert (tmp_path / "out" / str(n)).read_bytes() == MID   # every byte, in order
        # played, not just fetched (all but the ring's tail, which plays on after the item ends)
        assert ev["ms"] >= (len(MID) - JITTER) * 1000 // (RATE * SPEED)
        assert ev["underruns"] >= 0 and ev["underrun_ms"] >= 0
    # the 500 ms read timeout outlasts the 64 ms the ring holds: at least one underrun, silent
    # for at least the difference
    assert it[11]["underruns"] >= 1 and it[11]["underrun_ms"] >= 500 - 64, it[11]
    whys = [(f["id"], f["why"].split(" at ")[0]) for f in tags(events, "FAIL")]
    assert whys == [(11, "timeout"), (12, "dropped"), (13, "dropped"), (13, "refused"),
                    (14, "dropped"), (14, "404")]
    reports = {r["id"]: r for r in meta.reports}
    for n in it:
        assert reports[n]["underruns"] == it[n]["underruns"]
        assert reports[n]["underrun_ms"] == it[n]["underrun_ms"]


def test_a_trickling_source_is_abandoned_as_slow_and_the_alternate_resumes_at_the_byte(
        interp, tmp_path, servers):
    meta, a, fa, b, fb, ms = servers
    a.faults = {"/m/mid.bin": "trickle:2000"}   # an eighth of the rate: 25 s for the item
    meta.items = [item(2, MID, [fa.url + "/m/mid.bin", fb.url + "/alt/mid.bin"], rate=RATE)]
    proc, events = run_device(interp, tmp_path, ms.url, 1, **paced(tmp_path))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    fail = tags(events, "FAIL")
    assert len(fail) == 1 and fail[0]["why"] == "slow" and fail[0]["src"] == fa.url + "/m/mid.bin"
    at = fail[0]["at"]
    assert 0 < at < 2000   # within the first window of the read timeout (0.5 s)
    assert b.requests == [("/alt/mid.bin", "bytes=%d-" % at)]
    ev = tags(events, "ITEM")[0]
    assert ev["status"] == "played" and ev["src"] == fb.url + "/alt/mid.bin"
    assert ev["resumed"] == 1 and ev["ms"] < 5000
    assert (tmp_path / "out" / "2").read_bytes() == MID
    assert meta.reports[0]["errors"] == [[fa.url + "/m/mid.bin", "slow"]]


def test_an_item_without_a_rate_plays_unpaced_and_reports_no_underruns(interp, tmp_path, servers):
    meta, a, fa, b, fb, ms = servers
    meta.items = [item(3, SMALL, [fa.url + "/m/small.bin"])]
    proc, events = run_device(interp, tmp_path, ms.url, 1, **paced(tmp_path))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    ev = tags(events, "ITEM")[0]
    assert ev["status"] == "played" and "underruns" not in ev
    assert "underruns" not in meta.reports[0]
    assert (tmp_path / "out" / "3").read_bytes() == SMALL


def test_a_bad_jitter_config_is_a_clear_config_error(interp, tmp_path):
    for over, why in (({"jitter": "16K"}, "jitter must be a whole number"),
                      ({"jitter": 1000}, "jitter must be 0 or at least 1024 and a multiple of 16"),
                      ({"jitter": 8200}, "jitter must be 0 or at least 1024 and a multiple of 16"),
                      ({"sink": {"type": "paced"}}, "a paced sink needs jitter"),
                      ({"jitter": 8192, "sink": {"type": "paced", "speed": 0}},
                       "sink.speed must be a number above 0")):
        path = tmp_path / "cfg.json"
        path.write_text(json.dumps(dict({"server": "http://127.0.0.1:1", "device": "d",
                                         "secret": "00112233445566778899aabbccddeeff"}, **over)))
        proc = subprocess.run(interp + [str(path)], capture_output=True, text=True, timeout=30)
        assert proc.returncode == 2, proc.stdout
        assert proc.stdout.startswith("E config: " + why), proc.stdout


def test_items_play_gapless_one_after_another_with_a_failover_at_a_boundary(
        interp, tmp_path, servers):
    meta, a, fa, b, fb, ms = servers
    other = bytes(reversed(MID))   # a different item at another rate
    a.files["/m/other.bin"] = other
    b.files["/alt/other.bin"] = other
    meta.items = [item(21, MID, [fa.url + "/m/mid.bin", fb.url + "/alt/mid.bin"], rate=RATE),
                  item(22, other, [fa.url + "/m/nope.bin", fb.url + "/alt/other.bin"],
                       rate=2 * RATE),  # its primary answers 404: a failover at the boundary
                  item(23, MID, [fa.url + "/m/mid.bin"], rate=RATE),
                  item(24, SMALL, [fa.url + "/m/small.bin"], rate=RATE)]  # shorter than the ring
    proc, events = run_device(interp, tmp_path, ms.url, 4, **paced(tmp_path))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    it = tags(events, "ITEM")
    assert [ev["id"] for ev in it] == [21, 22, 23, 24]   # in program order
    for ev, data in zip(it, (MID, other, MID, SMALL)):
        assert ev["status"] == "played" and ev["verified"] == 1 and ev["bytes"] == len(data), ev
        # every byte of each item, in order, though each one's tail played after its ITEM line
        assert (tmp_path / "out" / str(ev["id"])).read_bytes() == data
    assert [f["why"] for f in tags(events, "FAIL")] == ["404"]
    # a gap is measured at each boundary (the sink's own clock), none before the first item
    assert "gap_ms" not in it[0] and all(ev["gap_ms"] >= 0 for ev in it[1:]), it
    assert all("gap_ms" not in r for r in meta.reports)   # the ITEM line's alone
