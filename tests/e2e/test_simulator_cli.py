"""`make run`'s job, as a user meets it: `python -m simulator` prints item lines and one RESULT line."""
import os
import re
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
RESULT = re.compile(r"^RESULT items=(\d+) verified=(\d+) failovers=(\d+) resumed=(\d+) secure=(\d+)"
                    r" underruns=(\d+) gap_ms=(\d+|none)( live=\d+ hls=\d+)?$")
N = 10        # demo items, the files (--no-streams: these alone)
N_SECURE = 3  # of them secure
STREAMS = "--no-streams"   # the runs below the first: the files' faults, not the streams.

pytestmark = pytest.mark.timeout(240)


def simulate(tmp_path, *args):
    return subprocess.run([sys.executable, "-m", "simulator", "--workdir", str(tmp_path / "sim"), *args],
                          cwd=ROOT, capture_output=True, text=True, timeout=220)


def result_of(out):
    lines = out.strip().splitlines()
    assert sum(1 for l in lines if l.startswith("RESULT")) == 1, out
    m = RESULT.match(lines[-1])
    assert m, "last line is not the RESULT line:\n" + out
    return tuple(int(x) if x.isdigit() else x for x in m.groups()[:7])


def test_the_demo_plays_every_item_through_404_refused_and_a_dying_primary(tmp_path):
    r = simulate(tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    items, verified, failovers, resumed, secure, underruns, gap = result_of(r.stdout)
    # the ten files, then the live radio (its primary mount killed mid-stream) and the
    # encrypted HLS presentation
    assert items == verified == N + 2 and secure == N_SECURE + 1, r.stdout
    assert r.stdout.strip().endswith(" live=1 hls=1"), r.stdout
    assert "R2 (the relay, the radio's primary mount) killed" in r.stdout
    assert re.search(r"Demo Radio .* from R1 .*failovers=1 .* verified", r.stdout), r.stdout
    assert re.search(r"Demo HLS \[secure\] .* verified", r.stdout), r.stdout
    assert failovers >= 3 and resumed >= 2, r.stdout
    assert isinstance(gap, int), r.stdout   # a median over the demo's 11 boundaries
    assert "gaps     11 boundaries between paced items" in r.stdout
    assert "(.mpy)" in r.stdout   # as on a board, by default
    assert "paced at 4 x each item's rate through a 16384-byte jitter ring" in r.stdout
    item_lines = [l for l in r.stdout.splitlines() if re.match(r"^dev1\s+\d+/%d " % (N + 2), l)]
    assert len(item_lines) == N + 2 and all("verified" in l and "MB/s" in l for l in item_lines), r.stdout
    assert any("Breaking Point" in l and "from ABC" in l and "resumed=1" in l
               for l in item_lines), r.stdout
    # the secure item whose primary drops it mid-stream resumes on the alternate
    assert any("The Vault [secure]" in l and "from ABC" in l and "resumed=1" in l
               for l in item_lines), r.stdout
    assert "recorded %d reports: %d played, 0 failed" % (N + 2, N + 2) in r.stdout


def test_several_devices_under_cpython_with_every_fault(tmp_path):
    r = simulate(tmp_path, STREAMS, "--interpreter", "cpython", "--devices", "3", "--faults", "all",
                 "--read-timeout", "0.5")
    assert r.returncode == 0, r.stdout + r.stderr
    assert result_of(r.stdout)[:2] == (3 * N, 3 * N)
    assert result_of(r.stdout)[4] == 3 * N_SECURE


def test_the_firmware_from_source_plays_in_a_larger_heap(tmp_path):
    r = simulate(tmp_path, STREAMS, "--source", "--heap", "128K", "--faults", "secure-cut,drop")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "(.mpy)" not in r.stdout
    assert result_of(r.stdout)[:2] == (N, N)


def test_an_unknown_fault_is_a_clear_usage_error(tmp_path):
    r = simulate(tmp_path, "--faults", "404,meteor")
    assert r.returncode == 2
    assert "unknown fault 'meteor'" in r.stderr and "Traceback" not in r.stderr


def test_a_heap_too_small_for_the_device_fails_the_run_honestly(tmp_path):
    r = simulate(tmp_path, STREAMS, "--heap", "4K", "--faults", "none", "--timeout", "60")
    assert r.returncode == 1
    items, verified = result_of(r.stdout)[:2]
    assert items == N and verified < N - 1


def test_the_firmware_compiled_by_mpy_cross_plays_the_demo_with_every_fault(tmp_path):
    r = simulate(tmp_path, STREAMS, "--faults", "all", "--read-timeout", "0.5")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "(.mpy)" in r.stdout
    assert result_of(r.stdout)[:2] == (N, N)
    mpy = sorted(os.listdir(tmp_path / "sim" / "firmware-mpy"))
    assert "player.mpy" in mpy and "fetch.mpy" in mpy and "player.py" not in mpy


def test_rounds_with_a_null_sink_play_the_program_through_twice(tmp_path):
    r = simulate(tmp_path, STREAMS, "--faults", "none", "--sink", "null", "--rounds", "2")
    assert r.returncode == 0, r.stdout + r.stderr
    assert result_of(r.stdout) == (2 * N, 2 * N, 0, 0, 2 * N_SECURE, 0, "none")
    assert os.listdir(tmp_path / "sim" / "devices" / "dev1" / "out") == []


def test_the_demo_plays_through_two_replicas_on_postgresql_behind_nginx(tmp_path):
    r = simulate(tmp_path, STREAMS, "--replicas", "2", "--devices", "2")
    assert r.returncode == 0, r.stdout + r.stderr
    items, verified, failovers, resumed, secure, underruns, gap = result_of(r.stdout)
    assert items == verified == 2 * N and secure == 2 * N_SECURE
    assert "nginx in front of 2 replicas on PostgreSQL" in r.stdout
    assert re.search(r"recorded %d reports: %d played" % (2 * N, 2 * N), r.stdout), r.stdout
