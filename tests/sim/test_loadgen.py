"""The boot-storm load generator on a real meta server process: every device logs in, takes its
next item and reports; started before the meta server, the devices back off and converge."""
import os
import re
import subprocess
import sys

import pytest

from simulator.procs import free_port

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
LOAD = re.compile(r"^LOAD devices=(\d+) ok=(\d+) errors=(\d+) seconds=[\d.]+ rps=\d+$")

pytestmark = pytest.mark.timeout(180)


def loadgen(tmp_path, *args):
    r = subprocess.run([sys.executable, "-m", "simulator.loadgen", "--workdir", str(tmp_path / "load"), *args],
                       cwd=ROOT, capture_output=True, text=True, timeout=170)
    m = LOAD.match(r.stdout.strip().splitlines()[-1]) if r.stdout.strip() else None
    assert m, r.stdout + r.stderr
    return r, tuple(int(x) for x in m.groups())


def test_a_storm_of_devices_all_log_in_take_next_and_report(tmp_path):
    r, (n, ok, errors) = loadgen(tmp_path, "--devices", "300", "--concurrency", "50")
    assert r.returncode == 0 and (n, ok, errors) == (300, 300, 0), r.stdout
    for kind in ("challenge", "login", "next", "report"):
        assert re.search(r"^  %s\s+300 " % kind, r.stdout, re.M), r.stdout
    # the server recorded one report per device
    out = subprocess.run([sys.executable, "-m", "host_server", "--db", str(tmp_path / "load" / "meta.db"),
                          "reports", "--json", "--limit", "100000"], cwd=ROOT, capture_output=True, text=True)
    assert out.stdout.count('"status": "played"') == 300


def test_devices_started_before_the_meta_server_back_off_and_converge(tmp_path):
    port = free_port()
    r, (n, ok, errors) = loadgen(tmp_path, "--devices", "200", "--late-start", "1.5", "--port", str(port))
    assert r.returncode == 0 and (n, ok, errors) == (200, 200, 0), r.stdout
    retries = int(re.search(r"retries (\d+)", r.stdout).group(1))
    assert retries >= 200     # every device met the closed port at least once


def test_a_storm_on_two_postgres_replicas_behind_nginx_records_every_device_once(tmp_path, pg_cluster):
    url = pg_cluster.create_database("storm", template="meta_template")
    r, (n, ok, errors) = loadgen(tmp_path, "--devices", "300", "--concurrency", "50",
                                 "--backend", "postgres", "--replicas", "2", "--db", url)
    assert r.returncode == 0 and (n, ok, errors) == (300, 300, 0), r.stdout
    assert "postgres, 2 meta server processes behind nginx" in r.stdout
    # both replicas took part, and the shared database holds one report per device
    balancer = (tmp_path / "load" / "balancer" / "access.log").read_text()
    assert len(set(re.findall(r"upstream=(127\.0\.0\.1:\d+)", balancer))) == 2
    out = subprocess.run([sys.executable, "-m", "host_server", "--db", url, "reports", "--json",
                          "--limit", "100000"], cwd=ROOT, capture_output=True, text=True)
    assert out.stdout.count('"status": "played"') == 300
    assert out.stdout.count('"advanced": true') == 300
