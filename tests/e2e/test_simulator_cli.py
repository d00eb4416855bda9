"""`make run`'s job, as a user meets it: `python -m simulator` prints item lines and one RESULT line."""
import os
import re
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
RESULT = re.compile(r"^RESULT items=(\d+) verified=(\d+) failovers=(\d+) resumed=(\d+)$")

pytestmark = pytest.mark.timeout(240)


def simulate(tmp_path, *args):
    return subprocess.run([sys.executable, "-m", "simulator", "--workdir", str(tmp_path / "sim"), *args],
                          cwd=ROOT, capture_output=True, text=True, timeout=220)


def result_of(out):
    lines = out.strip().splitlines()
    assert sum(1 for l in lines if l.startswith("RESULT")) == 1, out
    m = RESULT.match(lines[-1])
    assert m, "last line is not the RESULT line:\n" + out
    return tuple(int(x) for x in m.groups())


def test_the_demo_plays_every_item_through_404_refused_and_a_dying_primary(tmp_path):
    r = simulate(tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    items, verified, failovers, resumed = result_of(r.stdout)
    assert items == verified == 7
    assert failovers >= 3 and resumed >= 1
    item_lines = [l for l in r.stdout.splitlines() if re.match(r"^dev1\s+\d+/7 ", l)]
    assert len(item_lines) == 7 and all("verified" in l and "MB/s" in l for l in item_lines)
    assert any("Breaking Point" in l and "from ABC" in l and "resumed=1" in l for l in item_lines)
    assert "recorded 7 reports: 7 played, 0 failed" in r.stdout


def test_several_devices_under_cpython_with_every_fault(tmp_path):
    r = simulate(tmp_path, "--interpreter", "cpython", "--devices", "3", "--faults", "all",
                 "--read-timeout", "0.5")
    assert r.returncode == 0, r.stdout + r.stderr
    assert result_of(r.stdout)[:2] == (21, 21)


def test_an_unknown_fault_is_a_clear_usage_error(tmp_path):
    r = simulate(tmp_path, "--faults", "404,meteor")
    assert r.returncode == 2
    assert "unknown fault 'meteor'" in r.stderr and "Traceback" not in r.stderr


def test_a_heap_too_small_for_the_device_fails_the_run_honestly(tmp_path):
    r = simulate(tmp_path, "--heap", "4K", "--faults", "none", "--timeout", "60")
    assert r.returncode == 1
    items, verified, _, _ = result_of(r.stdout)
    assert items == 7 and verified < 6


def test_the_firmware_compiled_by_mpy_cross_plays_the_demo_with_every_fault(tmp_path):
    r = simulate(tmp_path, "--mpy", "--faults", "all", "--read-timeout", "0.5")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "(.mpy)" in r.stdout
    assert result_of(r.stdout)[:2] == (7, 7)
    mpy = sorted(os.listdir(tmp_path / "sim" / "firmware-mpy"))
    assert "player.mpy" in mpy and "fetch.mpy" in mpy and "player.py" not in mpy


def test_rounds_with_a_null_sink_play_the_program_through_twice(tmp_path):
    r = simulate(tmp_path, "--faults", "none", "--sink", "null", "--rounds", "2")
    assert r.returncode == 0, r.stdout + r.stderr
    assert result_of(r.stdout) == (14, 14, 0, 0)
    assert os.listdir(tmp_path / "sim" / "devices" / "dev1" / "out") == []
