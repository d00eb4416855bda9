"""A file server that requires signed URLs, as owners run it: real nginx with
host_server/nginx/fileserver-signed.conf (Debian's nginx has secure_link) and our own file server
with --signing-secret-file, both checked with URLs the meta server's signing function makes
(model/signing.py): a signed one is served (whole, a range, HEAD), an expired one is 410, a
tampered or a missing signature 403."""
import http.client
import subprocess
import sys
import time

import pytest

from host_server.model.signing import sign_url
from simulator.nginxproc import NginxProcess
from simulator.procs import ROOT, ServerProcess, free_port

pytestmark = pytest.mark.timeout(120)
SECRET = "owner-secret_0123456789"
DATA = bytes(range(256)) * 64


@pytest.fixture(params=["nginx", "fileserver"])
async def server(request, tmp_path):
    """(address, process) of a file server serving tmp_path/root, checking SECRET."""
    (tmp_path / "root" / "music" / "a b").mkdir(parents=True)
    (tmp_path / "root" / "music" / "a b" / "tone #1.wav").write_bytes(DATA)
    (tmp_path / "root" / "music" / "other.wav").write_bytes(DATA[::-1])
    if request.param == "nginx":
        port = free_port()
        proc = NginxProcess(tmp_path / "nginx", "fileserver-signed.conf",
                            {"ROOT": tmp_path / "root", "LISTEN": "127.0.0.1:%d" % port,
                             "SECRET": SECRET}, port)
        await proc.start()
        address = "http://127.0.0.1:%d" % port
    else:
        (tmp_path / "secret").write_text(SECRET + "\n")
        proc = await ServerProcess("files", [
            "-m", "host_server.fileserver", "--root", str(tmp_path / "root"), "--port", "0",
            "--signing-secret-file", str(tmp_path / "secret")], str(tmp_path / "files.log")).start()
        address = proc.url
    yield address
    await proc.stop()


def get(url, method="GET", headers=None):
    host, _, rest = url.split("//", 1)[1].partition("/")
    conn = http.client.HTTPConnection(*host.split(":"), timeout=10)
    try:
        conn.request(method, "/" + rest, headers=headers or {})
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


async def test_a_signed_url_is_served_an_expired_one_is_gone_a_tampered_one_forbidden(server):
    url = server + "/music/a%20b/tone%20%231.wav"
    good = sign_url(url, SECRET, int(time.time()) + 300)
    assert get(good) == (200, DATA)
    assert get(good, headers={"Range": "bytes=1000-"}) == (206, DATA[1000:])
    assert get(good, "HEAD")[0] == 200
    expired = sign_url(url, SECRET, int(time.time()) - 5)
    assert get(expired)[0] == 410
    later = good.rsplit("=", 1)[0] + "=%d" % (int(time.time()) + 9999)
    for bad in (url,                                                   # no signature
                later,                                                 # a later time, same hash
                good.replace("md5=", "md5=x"),                         # the hash altered
                good.replace("tone%20%231.wav", "../other.wav").replace("a%20b/", ""),   # another file
                sign_url(url, SECRET[::-1], int(time.time()) + 300),   # another secret
                good.split("&")[0]):                                   # no time
        assert get(bad)[0] == 403, bad
    other = server + "/music/other.wav"
    assert get(sign_url(other, SECRET, int(time.time()) + 300)) == (200, DATA[::-1])


@pytest.mark.parametrize("content, said", [("short\n", "must be 16 to 128 characters"),
                                           (None, "No such file")])
def test_our_file_server_refuses_a_secret_file_it_cannot_use(tmp_path, content, said):
    path = tmp_path / "secret"
    if content is not None:
        path.write_text(content)
    r = subprocess.run([sys.executable, "-m", "host_server.fileserver", "--root", str(tmp_path),
                        "--signing-secret-file", str(path)], cwd=ROOT, capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 1 and r.stderr.startswith("error: ") and said in r.stderr, r.stderr
    assert "Traceback" not in r.stderr
