"""python -m host_server add-operator: the password from stdin, stored only as a hash."""
import os
import sqlite3
import subprocess
import sys

from hostutil import REPO


def add_operator(db, *args, stdin):
    proc = subprocess.run([sys.executable, "-m", "host_server", "--db", db, "add-operator", *args],
                          input=stdin, capture_output=True, text=True, cwd=REPO, timeout=60)
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc


def stored(db):
    with sqlite3.connect(db) as c:
        return dict(c.execute("SELECT name, password FROM operators"))


def test_add_operator_reads_the_password_from_stdin_and_stores_a_hash(tmp_path):
    db = str(tmp_path / "meta.db")
    proc = add_operator(db, "alice", stdin="a good long password\n")
    assert proc.returncode == 0 and "operator alice added" in proc.stdout
    hashes = stored(db)
    assert list(hashes) == ["alice"]
    assert hashes["alice"].startswith("scrypt$") and "a good long password" not in hashes["alice"]


def test_add_operator_refuses_bad_input_with_a_clear_error_and_stores_nothing(tmp_path):
    db = str(tmp_path / "meta.db")
    for args, stdin, why in ((["bob"], "short\n", "8-1024 characters"),
                             (["bob"], "", "no password on stdin"),
                             ([" bob"], "a good long password\n", "operator name"),
                             (["x" * 65], "a good long password\n", "operator name")):
        proc = add_operator(db, *args, stdin=stdin)
        assert proc.returncode == 1 and why in proc.stderr, (args, proc.stderr)
    assert not os.path.exists(db) or stored(db) == {}


def test_a_second_operator_of_the_same_name_is_refused_and_reset_changes_the_password(tmp_path):
    db = str(tmp_path / "meta.db")
    assert add_operator(db, "alice", stdin="first password\n").returncode == 0
    before = stored(db)["alice"]
    proc = add_operator(db, "alice", stdin="second password\n")
    assert proc.returncode == 1 and "already exists" in proc.stderr
    assert stored(db)["alice"] == before
    with sqlite3.connect(db) as c:
        c.execute("INSERT INTO operator_sessions VALUES ('ab', 'alice', 'c', 1e12)")
    proc = add_operator(db, "alice", "--reset", stdin="second password\n")
    assert proc.returncode == 0 and "password changed" in proc.stdout
    assert stored(db)["alice"] != before
    with sqlite3.connect(db) as c:
        assert c.execute("SELECT count(*) FROM operator_sessions").fetchone()[0] == 0
    proc = add_operator(db, "nobody", "--reset", stdin="second password\n")
    assert proc.returncode == 1 and "no operator 'nobody'" in proc.stderr
