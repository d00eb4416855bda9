import http.client
import os
import socket

import pytest

from hostutil import Server

BIG = 50 * 1024 * 1024
SMALL = bytes(range(256)) * 4   # 1024 bytes


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    base = tmp_path_factory.mktemp("fs")
    root = base / "root"
    (root / "music" / "a b").mkdir(parents=True)
    (root / "music" / "a b" / "tone #1.wav").write_bytes(SMALL)
    (root / "small.bin").write_bytes(SMALL)
    (root / "small.bin.gz").write_bytes(b"not the file")
    with open(root / "big.bin", "wb") as f:       # sparse: no 50 MB on disk
        f.truncate(BIG - 4)
        f.seek(BIG - 4)
        f.write(b"tail")
    (root / "empty.bin").write_bytes(b"")
    (base / "secret.txt").write_text("outside the root")
    os.symlink(base / "secret.txt", root / "escape.txt")
    os.symlink(root / "small.bin", root / "inside-link.bin")
    return root


@pytest.fixture(scope="module")
def server(files):
    srv = Server("host_server.fileserver", "--root", str(files), "--port", "0")
    yield srv
    assert srv.stop() == 0


def request(server, method, path, headers=None, conn=None):
    own = conn is None
    conn = conn or http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    try:
        conn.request(method, path, headers=headers or {})
        resp = conn.getresponse()
        return resp, resp.read()
    finally:
        if own:
            conn.close()


def raw_request(server, target):
    """Send the request target exactly as given (no client-side normalization)."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as s:
        s.sendall(f"GET {target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    return int(data.split(b" ", 2)[1]), data


def test_listening_line_is_exact(server):
    assert server.line == f"LISTENING http://127.0.0.1:{server.port}\n"


def test_get_whole_file_with_validators(server):
    resp, body = request(server, "GET", "/small.bin")
    assert resp.status == 200 and body == SMALL
    assert resp.getheader("Content-Length") == "1024"
    assert resp.getheader("Accept-Ranges") == "bytes"
    assert resp.getheader("ETag") and resp.getheader("Last-Modified")


def test_percent_encoded_names(server):
    resp, body = request(server, "GET", "/music/a%20b/tone%20%231.wav")
    assert resp.status == 200 and body == SMALL


def test_head_has_length_and_no_body(server):
    resp, body = request(server, "HEAD", "/small.bin")
    assert resp.status == 200 and body == b""
    assert resp.getheader("Content-Length") == "1024"


def test_range_gives_206_with_exact_bytes(server):
    resp, body = request(server, "GET", "/small.bin", {"Range": "bytes=10-19"})
    assert resp.status == 206 and body == SMALL[10:20]
    assert resp.getheader("Content-Range") == "bytes 10-19/1024"
    assert resp.getheader("Content-Length") == "10"


def test_open_ended_range(server):
    resp, body = request(server, "GET", "/small.bin", {"Range": "bytes=1000-"})
    assert resp.status == 206 and body == SMALL[1000:]
    assert resp.getheader("Content-Range") == "bytes 1000-1023/1024"


def test_suffix_range_and_range_past_end(server):
    resp, body = request(server, "GET", "/small.bin", {"Range": "bytes=-4"})
    assert resp.status == 206 and body == SMALL[-4:]
    resp, body = request(server, "GET", "/small.bin", {"Range": "bytes=1020-5000"})
    assert resp.status == 206 and body == SMALL[1020:]
    assert resp.getheader("Content-Range") == "bytes 1020-1023/1024"


@pytest.mark.parametrize("rng", ["bytes=1024-", "bytes=5000-6000", "bytes=0-1,5-6", "bytes=9-3",
                                 "items=0-1"])
def test_unsatisfiable_or_multi_range_is_416(server, rng):
    resp, _ = request(server, "GET", "/small.bin", {"Range": rng})
    assert resp.status == 416
    assert resp.getheader("Content-Range") == "bytes */1024"


def test_keep_alive_serves_several_requests_on_one_connection(server):
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    request(server, "GET", "/small.bin", conn=conn)
    sock = conn.sock
    resp, body = request(server, "GET", "/small.bin", {"Range": "bytes=1-2"}, conn=conn)
    assert body == SMALL[1:3] and conn.sock is sock
    conn.close()


def test_precompressed_sibling_is_not_served(server):
    resp, body = request(server, "GET", "/small.bin", {"Accept-Encoding": "gzip, br"})
    assert body == SMALL and resp.getheader("Content-Encoding") is None


def test_conditional_get(server):
    resp, _ = request(server, "GET", "/small.bin")
    again, body = request(server, "GET", "/small.bin", {"If-None-Match": resp.getheader("ETag")})
    assert again.status == 304 and body == b""


@pytest.mark.parametrize("target", [
    "/../secret.txt", "/music/../../secret.txt", "/%2e%2e/secret.txt", "/%2E%2E/%2e%2e/secret.txt",
    "/music/%2e%2e/%2e%2e/secret.txt", "/..%2fsecret.txt", "/%2e%2e%2fsecret.txt",
    "//etc/passwd", "/%2fetc/passwd", "/..\\secret.txt", "/escape.txt", "/music", "/", "/missing",
    "/small.bin%00", "http://x/../secret.txt",
])
def test_paths_outside_the_root_or_not_files_are_refused(server, target):
    status, data = raw_request(server, target)
    assert status in (400, 403, 404), data
    assert b"outside the root" not in data and b"root:" not in data


def test_symlink_inside_the_root_is_served(server):
    resp, body = request(server, "GET", "/inside-link.bin")
    assert resp.status == 200 and body == SMALL


def test_empty_file(server):
    resp, body = request(server, "GET", "/empty.bin")
    assert resp.status == 200 and body == b"" and resp.getheader("Content-Length") == "0"


def test_large_file_is_streamed_with_right_length(server):
    resp, body = request(server, "HEAD", "/big.bin")
    assert resp.getheader("Content-Length") == str(BIG)
    resp, body = request(server, "GET", "/big.bin", {"Range": f"bytes={BIG - 10}-"})
    assert resp.status == 206 and body == b"\0" * 6 + b"tail"
    assert resp.getheader("Content-Range") == f"bytes {BIG - 10}-{BIG - 1}/{BIG}"
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    conn.request("GET", "/big.bin")
    resp = conn.getresponse()
    assert resp.status == 200 and resp.getheader("Content-Length") == str(BIG)
    total = 0
    while chunk := resp.read(1 << 20):
        total += len(chunk)
        last = chunk
    conn.close()
    assert total == BIG and last.endswith(b"tail")


def test_missing_root_is_a_clear_error(tmp_path):
    import subprocess
    import sys
    from hostutil import REPO
    proc = subprocess.run([sys.executable, "-m", "host_server.fileserver", "--root",
                           str(tmp_path / "nope")], cwd=REPO, capture_output=True, text=True,
                          timeout=30)
    assert proc.returncode == 1 and "not a directory" in proc.stderr
    assert "Traceback" not in proc.stderr
