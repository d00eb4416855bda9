"""host_server/nginx/*.conf as an operator uses them: filled in by `python -m host_server
nginx-conf` from any folder, and accepted by nginx with a PREFIX that holds nothing yet (nginx
makes its temp folders itself; they used to sit in PREFIX/tmp, which had to exist)."""

import datetime
import os
import subprocess
import sys

import pytest

from simulator.nginxproc import nginx_path


def nginx_conf(cwd, *args):
    return subprocess.run([sys.executable, "-m", "host_server", "nginx-conf", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=60)


def self_signed(folder):
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(1)
            .not_valid_before(now).not_valid_after(now + datetime.timedelta(days=1))
            .sign(key, hashes.SHA256()))
    (folder / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (folder / "key.pem").write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    return str(folder / "cert.pem"), str(folder / "key.pem")


@pytest.mark.parametrize("conf", ["fileserver", "fileserver-signed", "replicas", "tls-front"])
def test_each_config_filled_in_is_accepted_with_an_empty_prefix(conf, tmp_path):
    prefix = tmp_path / "prefix"     # not there yet: nginx-conf creates it, nginx fills it
    values = {"PREFIX": str(prefix), "LISTEN": "127.0.0.1:8080", "ROOT": str(tmp_path),
              "REPLICAS": "server 127.0.0.1:8001 max_fails=1 fail_timeout=5s;",
              "META_LISTEN": "127.0.0.1:8443", "META": "127.0.0.1:8000",
              "FILES_LISTEN": "127.0.0.1:8444", "SECRET": "s3cr3t-s3cr3t-s3cr3t"}
    if conf == "tls-front":
        values["CERT"], values["KEY"] = self_signed(tmp_path)
    r = nginx_conf(tmp_path, conf)
    assert r.returncode == 1 and "takes PREFIX=..." in r.stderr and "missing:" in r.stderr
    needed = r.stderr.split("takes ", 1)[1].split(";", 1)[0].replace("=...", "").split()
    r = nginx_conf(tmp_path, conf, *("%s=%s" % (n, values[n]) for n in needed))
    assert r.returncode == 0, r.stderr
    assert "@@" not in "".join(l for l in r.stdout.splitlines() if not l.lstrip().startswith("#"))
    assert os.listdir(prefix) == []
    (tmp_path / "nginx.conf").write_text(r.stdout)
    t = subprocess.run([nginx_path() or "/usr/sbin/nginx", "-t", "-p", str(prefix),
                        "-e", str(prefix / "error.log"), "-c", str(tmp_path / "nginx.conf")],
                       capture_output=True, text=True, timeout=60)
    assert t.returncode == 0, t.stderr
    assert "test is successful" in t.stderr


def test_a_relative_prefix_or_a_stray_name_is_refused(tmp_path):
    r = nginx_conf(tmp_path, "fileserver", "PREFIX=nginx", "LISTEN=127.0.0.1:8080", "ROOT=/srv")
    assert r.returncode == 1 and "PREFIX must be an absolute path" in r.stderr
    r = nginx_conf(tmp_path, "fileserver", "PREFIX=/tmp/x", "LISTEN=1:2", "ROOT=/srv", "ROOTS=/a")
    assert r.returncode == 1 and "not one of its placeholders: ROOTS" in r.stderr
