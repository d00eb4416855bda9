"""A device back from offline sends its queued reports as one batch to a real meta server process
(`serve`: a request whose client hangs up is cancelled), loses the answers, and sends the batch
again, on several connections at once: every report is stored once and applied once, and the
device ends where the program says it should. On SQLite and on PostgreSQL."""
import asyncio
import json
import socket
import urllib.request

import pytest

from host_server.services.auth import proof
from tests.host.hostutil import Server, run_cli, sql, write_json

pytestmark = pytest.mark.timeout(120)

SECRET = "0123456789abcdef0123456789abcdef"
N_ITEMS = 3


def catalog():
    media = [{"ref": "m%d" % i, "size": 1000 + i, "sha256": "%02x" % i * 32, "type": "audio/wav",
              "rate": 16000, "dur": 4000 + i, "primary_address": "http://127.0.0.1:9",
              "primary_directory": "/m", "file_name": "m%d.wav" % i} for i in range(N_ITEMS)]
    return {"media": media, "programs": [{"name": "P", "items": [m["ref"] for m in media]}],
            "devices": [{"id": "dev1", "secret": SECRET, "programs": ["P"], "default": "P"}]}


def call(port, method, path, doc=None, token=None):
    req = urllib.request.Request("http://127.0.0.1:%d/api/v1%s" % (port, path), method=method,
                                 data=None if doc is None else json.dumps(doc).encode(),
                                 headers={"Content-Type": "application/json",
                                          **({"Authorization": "Bearer " + token} if token else {})})
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.load(r)


def send_and_hang_up(port, token, doc):
    """The whole request, then the connection closed before any answer: a lost answer."""
    body = json.dumps(doc).encode()
    head = ("POST /api/v1/reports HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nAuthorization: Bearer %s\r\n"
            "Content-Type: application/json\r\nContent-Length: %d\r\n\r\n" % (port, token, len(body)))
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(head.encode() + body)


async def test_a_batch_sent_again_and_again_is_applied_once(tmp_path, db_path):
    run_cli("import", write_json(tmp_path / "catalog.json", catalog()), db=db_path, check=0)
    server = Server("host_server", "--db", db_path, "serve", "--port", "0", "--no-access-log")
    try:
        port = server.port
        nonce = call(port, "POST", "/login/challenge", {"device": "dev1"})["nonce"]
        token = call(port, "POST", "/login", {"device": "dev1", "nonce": nonce,
                                               "proof": proof(SECRET, "dev1", nonce)})["token"]
        items = call(port, "GET", "/horizon?k=%d" % N_ITEMS, token=token)["items"]
        assert [i["pos"] for i in items] == list(range(N_ITEMS)) and items[0]["rate"] == 16000
        # a whole program played offline, plus the first item again: 4 reports
        plays = items + items[:1]
        batch = {"reports": [{"seq": 100 + i, "id": d["id"], "pos": d["pos"], "status": "played",
                              "src": d["src"][0], "bytes": d["size"], "ms": d["dur"],
                              "underruns": i, "underrun_ms": 10 * i} for i, d in enumerate(plays)]}
        for _ in range(3):
            send_and_hang_up(port, token, batch)
        answers = await asyncio.gather(*(asyncio.to_thread(call, port, "POST", "/reports", batch, token)
                                         for _ in range(4)))
        assert answers == [{"applied": 4, "next_pos": 1}] * 4
        assert sql(db_path, "SELECT pos, seq, underruns, advanced FROM reports ORDER BY id") == [
            (0, 100, 0, 1), (1, 101, 1, 1), (2, 102, 2, 1), (0, 103, 3, 1)]
        assert call(port, "GET", "/next", token=token)["pos"] == 1
    finally:
        assert server.stop() == 0
    assert "Traceback" not in server.stderr, server.stderr
