"""The meta server's API fuzzed from its own OpenAPI document (schemathesis) on a real server
process: whatever a client sends, as a device, an owner or nobody, no answer is a 5xx and the
server's log has no unhandled exception."""
import json
import os
import re
import subprocess
import sys
import time
import urllib.request

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

from host_server.services.auth import proof
from hostutil import REPO, SECRET, media_doc, run_cli, write_json

EXAMPLES = int(os.environ.get("API_FUZZ_EXAMPLES", "20"))
# The same examples on every run, so that main stays green on what it already survived;
# API_FUZZ_RANDOM=1 (with a larger API_FUZZ_EXAMPLES) explores new ones.
DERANDOMIZE = not os.environ.get("API_FUZZ_RANDOM")
pytestmark = pytest.mark.timeout(600)


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def server(request, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("fuzz")
    if request.param == "sqlite":
        db = str(tmp / "meta.db")
    else:
        db = request.getfixturevalue("pg_cluster").create_database(
            "fuzz%d" % os.getpid(), template="meta_template")
    key = str(tmp / "master.key")
    run_cli("new-master-key", key, check=0)
    catalog = {"media": [dict(media_doc(1), ref="a"), dict(media_doc(2), ref="b")],
               "programs": [{"name": "P", "items": ["a", "b"]}],
               "devices": [{"id": "dev1", "secret": SECRET, "programs": ["P"], "default": "P"}]}
    run_cli("--master-key-file", key, "import", write_json(tmp / "cat.json", catalog), db=db, check=0)
    out = run_cli("add-owner", "Fuzz Label", db=db, check=0).stdout
    owner = re.search(r"(own_\S+)", out).group(1)
    log_path = tmp / "meta.log"
    with open(log_path, "wb") as log:   # a file, not a pipe: nothing blocks on a full pipe
        proc = subprocess.Popen([sys.executable, "-m", "host_server", "--db", db, "--master-key-file",
                                 key, "serve", "--port", "0"], cwd=REPO, stdout=log, stderr=log)
    port = None
    for _ in range(200):
        m = re.search(rb"LISTENING http://127\.0\.0\.1:(\d+)", log_path.read_bytes())
        if m:
            port = int(m.group(1))
            break
        time.sleep(0.05)
    assert port, log_path.read_text()
    yield {"url": "http://127.0.0.1:%d" % port, "owner": owner}
    proc.terminate()
    proc.wait(10)
    text = log_path.read_text(errors="replace")
    assert "Traceback" not in text and "internal error" not in text, text[-3000:]


def device_token(url):
    def post(path, doc):
        req = urllib.request.Request(url + path, json.dumps(doc).encode(),
                                     {"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=10) as r:
            return json.load(r)
    nonce = post("/api/v1/login/challenge", {"device": "dev1"})["nonce"]
    return post("/api/v1/login", {"device": "dev1", "nonce": nonce,
                                  "proof": proof(SECRET, "dev1", nonce)})["token"]


@pytest.fixture(scope="module")
def tokens(server):
    return {"device": device_token(server["url"]), "owner": server["owner"]}


def headers_for(path, tokens):
    if path.startswith("/api/v1/owner"):
        return {"Authorization": "Bearer " + tokens["owner"]}
    if path.startswith("/api/v1/") and not path.startswith("/api/v1/login"):
        return {"Authorization": "Bearer " + tokens["device"]}
    return {}


def test_no_request_gets_a_server_error(server, tokens):
    # the document as the server serves it; requests go to the server it came from
    # (schemathesis's own pytest plugin does not load under this pytest: driven by hand)
    schema = schemathesis.openapi.from_url(server["url"] + "/api/v1/openapi.yaml")
    failures, calls = [], []
    operations = [r.ok() for r in schema.get_all_operations()]
    assert len(operations) >= 15
    for op in operations:
        @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck),
                  database=None, derandomize=DERANDOMIZE)
        @given(op.as_strategy())
        def run(case):
            resp = case.call(headers=headers_for(case.path, tokens), timeout=10)
            calls.append(resp.status_code)
            if resp.status_code >= 500:
                failures.append("%s %s -> %d %s" % (case.method, case.formatted_path,
                                                    resp.status_code, resp.text[:200]))
        run()
    assert len(calls) >= len(operations) * 2
    assert not failures, "\n".join(failures[:10])
