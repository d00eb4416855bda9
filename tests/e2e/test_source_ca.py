"""An owner's https file server whose certificate a private CA signed (nginx, Debian's package,
with a CA and certificate the test makes): the meta server started with --source-ca-file of
that CA registers the owner's file and probes the server up; started without it, registration
is refused and the probe marks the server down, each saying the certificate is not trusted and
which setting trusts it. A CA file that is not one stops the server at start, saying so."""
import asyncio
import json
import os
import re
import subprocess
import sys
import urllib.error
import urllib.request

import pytest

from simulator.media import write_demo_media
from simulator.procs import ServerProcess, run_cli
from tests.e2e.test_https import TLSNginx, make_ca, make_server_cert

pytestmark = pytest.mark.timeout(120)
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
NOT_TRUSTED = ("its TLS certificate is not trusted (signed by a private CA? the operator can"
               " trust it with --source-ca-file)")


async def wait_for_line(path, pattern, timeout=30.0):
    """The first line of the log matching pattern, once it is written."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        with open(path, encoding="utf-8", errors="replace") as f:
            for line in f:
                if re.search(pattern, line):
                    return line
        await asyncio.sleep(0.05)
    raise AssertionError(f"no line matching {pattern!r} in {path}")


async def meta_server(tmp_path, name, *options):
    db = str(tmp_path / f"{name}.db")
    out = await run_cli(["--db", db, "add-owner", "Label"])
    token = re.search(r"\(shown once\): (own_\S+)$", out.strip()).group(1)
    meta = ServerProcess(name, ["-m", "host_server", "--db", db, "serve", "--port", "0",
                                "--no-access-log", "--allow-source-net", "127.0.0.0/8",
                                "--probe-interval", "0.2", *options],
                         str(tmp_path / f"{name}.log"))
    return await meta.start(), token


def register(meta, token, doc):
    req = urllib.request.Request(meta.url + "/api/v1/owner/media", json.dumps(doc).encode(),
                                 {"Authorization": "Bearer " + token,
                                  "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


@pytest.fixture
async def owner_https(tmp_path):
    pki = str(tmp_path / "pki")
    os.makedirs(pki)
    ca_path, ca_key, ca_cert = make_ca(pki, "owner-ca")
    cert, key = make_server_cert(pki, ca_key, ca_cert)
    files = tmp_path / "files"
    song = write_demo_media(str(files / "music"))[0]
    # tls-front.conf proxies a meta server too; none is needed there: its port is never used
    nginx = await TLSNginx(tmp_path / "nginx", ("127.0.0.1", 9), files, cert, key).start()
    address = "https://127.0.0.1:%d" % nginx.files_port
    doc = {"size": song["size"], "sha256": song["sha256"], "type": "audio/wav",
           "primary_address": address, "primary_directory": "/music", "file_name": song["name"]}
    yield {"ca": ca_path, "address": address, "doc": doc}
    await nginx.stop()


async def test_with_the_owners_ca_registration_and_probes_succeed(tmp_path, owner_https):
    meta, token = await meta_server(tmp_path, "trusting", "--source-ca-file", owner_https["ca"])
    try:
        status, answer = register(meta, token, owner_https["doc"])
        assert status == 201, answer
        assert answer["sources"][0]["ok"] is True
        line = await wait_for_line(meta.log_path, "file server %s is " % re.escape(owner_https["address"]))
        assert line.rstrip().endswith("is up"), line
    finally:
        await meta.stop()


async def test_without_it_both_fail_saying_the_certificate_is_not_trusted(tmp_path, owner_https):
    meta, token = await meta_server(tmp_path, "plain")
    try:
        status, answer = register(meta, token, owner_https["doc"])
        assert status == 422, answer
        assert answer["error"] == f"primary source failed its check: cannot connect: {NOT_TRUSTED}"
        # the operator adds it without a check; the probe then finds the server down, saying why
        rec = tmp_path / "rec.json"
        rec.write_text(json.dumps(owner_https["doc"]))
        await run_cli(["--db", str(tmp_path / "plain.db"), "add-media", "--json", str(rec)])
        line = await wait_for_line(meta.log_path, "file server %s is " % re.escape(owner_https["address"]))
        assert f"is down: probe: {NOT_TRUSTED}" in line, line
    finally:
        await meta.stop()


def test_a_ca_file_that_is_not_one_stops_the_server_at_start(tmp_path):
    bad = tmp_path / "ca.pem"
    bad.write_text("not a certificate\n")
    for path, why in ((bad, "no PEM certificate in it"), (tmp_path / "none.pem", "cannot read it")):
        proc = subprocess.run([sys.executable, "-m", "host_server", "--db", str(tmp_path / "m.db"),
                               "serve", "--port", "0", "--source-ca-file", str(path)],
                              cwd=ROOT, capture_output=True, text=True, timeout=60)
        assert proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stderr
        assert f"error: --source-ca-file {path}: {why}" in proc.stderr
