"""What one connection may cost, on the meta server and the file server, as real processes on
loopback: dripped headers, a dripped body and a silent connection are closed after their
deadlines; connections over a cap are closed at once; with the descriptor limit at 256 and 200
slow connections open, a device still logs in and gets its next item, with no traceback."""

import http.client
import json
import re
import resource
import select
import socket
import subprocess
import sys
import time

import pytest

from host_server.services.auth import proof
from hostutil import REPO, SECRET, Server, run_cli

BOUND = 8.0   # seconds: "closed at all" within this (deadlines in these tests are 1 s; aiohttp's own
#               keep-alive would hold them an hour, its lingering close 10 s)
LONG = ["--header-timeout", "600", "--body-timeout", "600", "--keepalive-timeout", "600"]


class LimitedServer(Server):
    """Server, started with RLIMIT_NOFILE at `nofile`."""

    def __init__(self, nofile, *args):
        self.proc = subprocess.Popen(
            [sys.executable, "-m", *args], cwd=REPO, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True,
            preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, nofile)))
        line = self.proc.stdout.readline()
        match = re.fullmatch(r"LISTENING http://127\.0\.0\.1:(\d+)\n", line)
        if not match:
            self.stop()
            raise AssertionError(f"no LISTENING line: {line!r} {self.stderr}")
        self.port = int(match.group(1))


@pytest.fixture
def meta_db(tmp_path):
    db = str(tmp_path / "meta.db")
    run_cli("init", db=db, check=0)
    run_cli("add-device", "dev1", "--secret", SECRET, db=db, check=0)
    return db


@pytest.fixture
def root(tmp_path):
    (tmp_path / "root").mkdir()
    (tmp_path / "root" / "small.bin").write_bytes(b"x" * 1000)
    return str(tmp_path / "root")


def meta(db, *options):
    return Server("host_server", "--db", db, "serve", "--port", "0", *options)


def files(root, *options):
    return Server("host_server.fileserver", "--root", root, "--port", "0", *options)


OPENED = []   # every client socket, closed after each test


@pytest.fixture(autouse=True)
def _close_sockets():
    yield
    while OPENED:
        OPENED.pop().close()


def connect(port, source="127.0.0.1"):
    s = socket.socket()
    OPENED.append(s)
    s.bind((source, 0))
    s.connect(("127.0.0.1", port))
    return s


def closed_by_server(s, drip=b""):
    """Drips `drip` one byte per 0.2 s (then waits) until the server closes the connection:
    True when it did within BOUND. What the server sent before closing is ignored."""
    end = time.monotonic() + BOUND
    pending = drip
    while time.monotonic() < end:
        readable, _, _ = select.select([s], [], [], 0.2)
        if readable:
            try:
                if s.recv(65536) == b"":
                    return True
            except ConnectionResetError:
                return True
        elif pending:
            try:
                s.send(pending[:1])
            except (BrokenPipeError, ConnectionResetError):
                return True
            pending = pending[1:]
    return False


def get(s, path="/nope"):
    """One keep-alive request on socket s; its status (the body is read and dropped)."""
    s.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = s.recv(65536)
        assert chunk, "closed before an answer"
        head += chunk
    top, rest = head.split(b"\r\n\r\n", 1)
    length = int(re.search(rb"(?i)content-length: *(\d+)", top).group(1))
    while len(rest) < length:
        rest += s.recv(65536)
    return int(top.split()[1])


def release(s):
    """Has the server close s (a last request, "Connection: close"): once its end is read, the
    server has let go of its place under the caps (it does before it closes)."""
    s.sendall(b"GET /nope HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    while s.recv(65536):
        pass


HEAD = b"GET /small.bin HTTP/1.1\r\nHost: x\r\nUser-Agent: slow\r\n\r\n"
BODY_HEAD = (b"POST /api/v1/login/challenge HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
             b"Content-Length: 40\r\n\r\n")


def start(which, db, root, *options):
    return meta(db, *options) if which == "meta" else files(root, *options)


def only(name):
    """The long deadlines but `name`'s, at 1 s: the test sees that one deadline act."""
    flags = ["--header-timeout", "--body-timeout", "--keepalive-timeout"]
    return [x for flag in flags for x in (flag, "1" if flag == name else "600")]


@pytest.mark.parametrize("which", ["meta", "files"])
def test_dripped_headers_and_a_silent_connection_are_closed_at_the_header_deadline(
        which, meta_db, root):
    server = start(which, meta_db, root, *only("--header-timeout"))
    try:
        assert closed_by_server(connect(server.port), drip=HEAD)   # 11 s of dripping if let
        assert closed_by_server(connect(server.port))              # silent from the start
        assert get(connect(server.port)) == 404                    # and still serving
    finally:
        assert server.stop() == 0
    assert "Traceback" not in server.stderr


@pytest.mark.parametrize("which", ["meta", "files"])
def test_a_dripped_body_is_closed_at_the_body_deadline(which, meta_db, root):
    server = start(which, meta_db, root, *only("--body-timeout"))
    try:
        body = connect(server.port)
        body.sendall(BODY_HEAD)
        assert closed_by_server(body, drip=b'{"device": "dev1"}' + b" " * 22)   # 8 s if let
        assert get(connect(server.port)) == 404
    finally:
        assert server.stop() == 0
    assert "Traceback" not in server.stderr


@pytest.mark.parametrize("which", ["meta", "files"])
def test_an_idle_keep_alive_connection_is_closed_at_the_keep_alive_timeout(which, meta_db, root):
    server = start(which, meta_db, root, *only("--keepalive-timeout"))
    try:
        idle = connect(server.port)
        assert get(idle) == 404
        assert closed_by_server(idle)
    finally:
        assert server.stop() == 0
    assert "Traceback" not in server.stderr


@pytest.mark.parametrize("which", ["meta", "files"])
def test_a_keep_alive_request_has_its_header_deadline_from_its_first_byte(which, meta_db, root):
    server = start(which, meta_db, root, *only("--header-timeout"))
    try:
        s = connect(server.port)
        assert get(s) == 404
        assert select.select([s], [], [], 2.0)[0] == []   # idle past the header deadline: held
        assert get(s) == 404
        assert closed_by_server(s, drip=HEAD)             # but a dripped one is closed
    finally:
        assert server.stop() == 0


@pytest.mark.parametrize("which", ["meta", "files"])
def test_headers_arriving_within_their_deadline_outlast_the_keep_alive_timeout(
        which, meta_db, root):
    server = start(which, meta_db, root, *only("--keepalive-timeout"))
    try:
        s = connect(server.port)
        head = b"GET /nope HTTP/1.1\r\nHost: x\r\n\r\n"
        for i in range(10):                           # 2 s of dripping, 1 s keep-alive timeout
            assert select.select([s], [], [], 0.2)[0] == []
            s.send(head[i:i + 1])
        s.sendall(head[10:])
        assert s.recv(65536).startswith(b"HTTP/1.1 404 ")
    finally:
        assert server.stop() == 0


@pytest.mark.parametrize("which", ["meta", "files"])
def test_connections_over_the_per_address_cap_are_closed_at_once(which, meta_db, root):
    server = start(which, meta_db, root, *LONG, "--max-address-connections", "3")
    try:
        held = [connect(server.port) for _ in range(3)]
        assert [get(s) for s in held] == [404] * 3            # admitted, and kept alive
        over = connect(server.port)
        assert closed_by_server(over)                         # nothing sent: closed at once
        assert get(connect(server.port, "127.0.0.2")) == 404  # another address gets in
        release(held.pop())
        assert get(connect(server.port)) == 404               # a freed place is taken again
    finally:
        assert server.stop() == 0
    assert "refused a connection over the cap (3 connections from 127.0.0.1)" in server.stderr
    assert "Traceback" not in server.stderr


def test_connections_over_the_cap_in_all_are_closed_at_once(meta_db):
    server = meta(meta_db, *LONG, "--max-connections", "4")
    try:
        held = [connect(server.port, f"127.0.0.{n}") for n in range(2, 6)]
        assert [get(s) for s in held] == [404] * 4
        assert closed_by_server(connect(server.port))
        release(held.pop())
        assert get(connect(server.port)) == 404
    finally:
        assert server.stop() == 0
    assert "refused a connection over the cap (4 connections in all)" in server.stderr


def slow_flood(port, count, per_address=10):
    """`count` connections from 127.0.0.2, .3, ..., each admitted (one request answered) and
    then dripping the start of its next request's headers."""
    flood = []
    for n in range(count):
        s = connect(port, f"127.0.0.{2 + n // per_address}")
        assert get(s) == 404
        s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n")
        flood.append(s)
    return flood


def device_login_and_next(port):
    """A device's login (challenge, proof) and its next item, from 127.0.0.1: the seconds taken."""
    start = time.monotonic()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request("POST", "/api/v1/login/challenge", json.dumps({"device": "dev1"}),
                 {"Content-Type": "application/json"})
    resp = conn.getresponse()
    assert resp.status == 200
    nonce = json.loads(resp.read())["nonce"]
    conn.request("POST", "/api/v1/login", json.dumps(
        {"device": "dev1", "nonce": nonce, "proof": proof(SECRET, "dev1", nonce)}),
        {"Content-Type": "application/json"})
    resp = conn.getresponse()
    assert resp.status == 200
    token = json.loads(resp.read())["token"]
    conn.request("GET", "/api/v1/next", headers={"Authorization": f"Bearer {token}"})
    resp = conn.getresponse()
    assert resp.status == 204   # logged in; dev1 has no program
    resp.read()
    conn.close()
    return time.monotonic() - start


def test_a_device_logs_in_with_the_descriptor_limit_at_256_and_200_slow_connections(meta_db):
    server = LimitedServer(256, "host_server", "--db", meta_db, "serve", "--port", "0", *LONG)
    try:
        flood = slow_flood(server.port, 200)
        took = device_login_and_next(server.port)
        print(f"\ndevice login and next with 200 slow connections, RLIMIT_NOFILE 256: {took:.3f} s")
        assert took < 30      # answered at all (the figure, within 1 s, is in the report)
        assert select.select(flood, [], [], 0)[0] == []   # the flood is held, not closed
        # beyond the cap (256 less --fd-headroom 32) a burst takes the places of the connections
        # waiting longest for their headers, or is closed at once: never EMFILE
        more = [connect(server.port, f"127.0.0.{30 + n // 10}") for n in range(60)]
        assert closed_by_server(more[-1]) or closed_by_server(flood[0])
        for s in flood + more:
            s.close()
        # the server learns of those closes on its own time: a device retries, as devices do
        for attempt in range(20):
            try:
                assert device_login_and_next(server.port) < 30
                break
            except ConnectionResetError:
                assert attempt < 19, "the device never got in after the flood ended"
                time.sleep(0.25)
    finally:
        assert server.stop() == 0
    assert "Traceback" not in server.stderr
    assert "out of file descriptors" not in server.stderr


def test_out_of_descriptors_accepting_backs_off_quietly_and_logs_once(meta_db):
    # the headroom at 1 lets the connections use up the descriptors: accept() meets EMFILE
    server = LimitedServer(64, "host_server", "--db", meta_db, "serve", "--port", "0", *LONG,
                           "--fd-headroom", "1")
    try:
        flood = [connect(server.port, f"127.0.0.{2 + n // 10}") for n in range(80)]
        line = "-"
        while line and "accept" not in line:    # asyncio's own message says accept() too
            line = server.proc.stderr.readline()
        assert "out of file descriptors accepting connections" in line
        for s in flood:
            s.close()
        assert device_login_and_next(server.port) < 30
    finally:
        assert server.stop() == 0
    assert "out of file descriptors" not in server.stderr   # said once (read above), not again
    assert "Traceback" not in server.stderr


def test_with_the_cap_full_of_slow_clients_from_many_addresses_a_device_still_gets_in(meta_db):
    """The cap in all is full of connections dripping their headers, from more addresses than
    the per-address cap can stop: a device's connection takes the place of the one that has
    waited longest, so the device logs in at once."""
    server = LimitedServer(256, "host_server", "--db", meta_db, "serve", "--port", "0", *LONG)
    try:
        flood = slow_flood(server.port, 224)   # the whole cap: 256 less --fd-headroom 32
        oldest = flood[0]
        assert device_login_and_next(server.port) < 30
        assert closed_by_server(oldest)   # it gave its place to the device's connection
    finally:
        assert server.stop() == 0
    assert "closed a connection slow with its headers to make room" in server.stderr
    assert "Traceback" not in server.stderr
