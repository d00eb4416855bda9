import json
import re
import urllib.request

import pytest

from hostutil import SHA, Server, media_doc, run_cli, write_json


@pytest.fixture
def db(db_path):
    run_cli("init", db=db_path, check=0)
    return db_path


def listed(db, what):
    return json.loads(run_cli("list", what, "--json", db=db, check=0).stdout)


def catalog_doc():
    return {
        "media": [dict(media_doc(1), ref="tone-a"), dict(media_doc(2), ref="tone-b")],
        "programs": [{"name": "Demo", "items": ["tone-a", "tone-b", "tone-a"]}, {"name": "Quiet"}],
        "devices": [{"id": "dev1", "name": "Demo device", "secret": "ab" * 16,
                     "programs": ["Demo", "Quiet"], "default": "Demo"},
                    {"id": "dev2", "programs": ["Quiet"]}],
    }


def test_init_reports_schema_version_and_uses_meta_db_env(tmp_path):
    import os
    import subprocess
    import sys
    from hostutil import REPO
    path = tmp_path / "env.db"
    proc = subprocess.run([sys.executable, "-m", "host_server", "init"], cwd=REPO, text=True,
                          capture_output=True, env=dict(os.environ, META_DB=str(path)))
    from host_server.db import migrations
    latest = migrations()[-1][0]
    assert proc.returncode == 0 and f"schema version {latest}" in proc.stdout, proc.stdout
    assert path.exists()


def test_add_device_prints_generated_secret_once(db):
    proc = run_cli("add-device", "dev1", "--name", "Kitchen", db=db, check=0)
    assert re.search(r"secret \(shown once\): [0-9a-f]{32}$", proc.stdout.strip())
    assert listed(db, "devices") == [{"id": "dev1", "name": "Kitchen", "default": None,
                                      "selected": None, "programs": [], "disabled": None,
                                      "firmware": None}]
    assert "secret" not in run_cli("list", "devices", db=db, check=0).stdout


def test_add_device_errors(db):
    run_cli("add-device", "dev1", "--secret", "ab" * 16, db=db, check=0)
    proc = run_cli("add-device", "dev1", db=db, check=1)
    assert proc.stderr.startswith("error: ") and "already exists" in proc.stderr
    assert "32 hex" in run_cli("add-device", "dev2", "--secret", "short", db=db, check=1).stderr
    assert "id must be" in run_cli("add-device", "bad id!", db=db, check=1).stderr


def test_add_media_program_assign_and_list(db, tmp_path):
    run_cli("add-device", "dev1", db=db, check=0)
    path = write_json(tmp_path / "m.json", media_doc(1))
    assert run_cli("add-media", "--json", path, db=db, check=0).stdout.strip() == "media 1 added"
    assert listed(db, "media") == [{"id": 1, "title": "Tone 1", "type": "audio/wav", "size": 1001,
                                    "sha256": SHA, "src": "http://127.0.0.1:8101/music/1/tone-1.wav",
                                    "file_name": "tone-1.wav", "alternates": 1}]
    run_cli("add-program", "Morning", "--items", "1,1", db=db, check=0)
    assert listed(db, "programs") == [{"id": 1, "name": "Morning", "items": [1, 1],
                                       "titles": ["Tone 1", "Tone 1"], "devices": []}]
    run_cli("assign", "dev1", "Morning", "--default", db=db, check=0)
    assert listed(db, "programs")[0]["devices"] == ["dev1"]
    assert listed(db, "devices")[0]["default"] == 1
    assert "Morning" in run_cli("list", "programs", db=db, check=0).stdout


@pytest.mark.parametrize("content, message", [
    ("{not json", "not valid JSON"),
    ('{"size": 1}', "missing required field 'sha256'"),
    (json.dumps(media_doc(1, sha256="xyz")), "'sha256' must be 64 hex"),
    (json.dumps(media_doc(1, size=-1)), "'size'"),
    (json.dumps(media_doc(1, primary_address="ftp://x")), "primary_address"),
    (json.dumps(media_doc(1, file_name="a/b.wav")), "file_name"),
    (json.dumps(media_doc(1, performers="solo")), "performers"),
])
def test_add_media_errors_store_nothing(db, tmp_path, content, message):
    path = tmp_path / "m.json"
    path.write_text(content)
    proc = run_cli("add-media", "--json", str(path), db=db, check=1)
    assert message in proc.stderr and proc.stderr.count("\n") == 1
    assert listed(db, "media") == []


def test_add_media_missing_file(db, tmp_path):
    proc = run_cli("add-media", "--json", str(tmp_path / "nope.json"), db=db, check=1)
    assert "cannot read" in proc.stderr


def test_program_and_assign_errors(db):
    assert "no media 7" in run_cli("add-program", "P", "--items", "7", db=db, check=1).stderr
    assert "not a media id" in run_cli("add-program", "P", "--items", "a", db=db, check=1).stderr
    run_cli("add-program", "P", db=db, check=0)
    assert "already exists" in run_cli("add-program", "P", db=db, check=1).stderr
    assert "no device 'ghost'" in run_cli("assign", "ghost", "P", db=db, check=1).stderr
    run_cli("add-device", "dev1", db=db, check=0)
    assert "no program 'Nope'" in run_cli("assign", "dev1", "Nope", db=db, check=1).stderr


def test_import_stores_everything_and_prints_summary(db, tmp_path):
    proc = run_cli("import", write_json(tmp_path / "c.json", catalog_doc()), db=db, check=0)
    summary = json.loads(proc.stdout)
    assert summary["media"] == {"tone-a": 1, "tone-b": 2}
    assert summary["programs"] == {"Demo": 1, "Quiet": 2}
    assert summary["devices"]["dev1"] == "ab" * 16
    assert re.fullmatch(r"[0-9a-f]{32}", summary["devices"]["dev2"])
    assert listed(db, "programs")[0]["items"] == [1, 2, 1]
    devices = {d["id"]: d for d in listed(db, "devices")}
    assert devices["dev1"]["default"] == 1 and sorted(devices["dev1"]["programs"]) == [1, 2]
    assert devices["dev2"]["default"] == 2   # a device's only program is its default


def _broken(mutate):
    doc = catalog_doc()
    mutate(doc)
    return doc


@pytest.mark.parametrize("doc, message", [
    (_broken(lambda d: d["media"][1].pop("file_name")), "media[1] ('tone-b'): missing required field 'file_name'"),
    (_broken(lambda d: d["media"][1].update(sha256="00")), "media[1] ('tone-b'): field 'sha256'"),
    (_broken(lambda d: d["media"][1].update(ref="tone-a")), "duplicate ref"),
    (_broken(lambda d: d["programs"][0]["items"].append("ghost")), "programs[0] ('Demo'): field 'items' names unknown media ref 'ghost'"),
    (_broken(lambda d: d["devices"][1]["programs"].append("Nope")), "devices[1] ('dev2'): field 'programs' names unknown program 'Nope'"),
    (_broken(lambda d: d["devices"][0].update(default="Other")), "devices[0] ('dev1'): field 'default'"),
    (_broken(lambda d: d["devices"][0].update(secret="xyz")), "secret must be 32 hex"),
    (["not", "an", "object"], "catalog must be a JSON object"),
])
def test_bad_catalog_stores_nothing(db, tmp_path, doc, message):
    proc = run_cli("import", write_json(tmp_path / "c.json", doc), db=db, check=1)
    assert message in proc.stderr, proc.stderr
    assert proc.stdout == ""
    assert listed(db, "media") == [] and listed(db, "programs") == [] and listed(db, "devices") == []


def test_import_conflicting_with_stored_data_rolls_back(db, tmp_path):
    run_cli("add-device", "dev2", db=db, check=0)   # the catalog's second device exists already
    proc = run_cli("import", write_json(tmp_path / "c.json", catalog_doc()), db=db, check=1)
    assert "device 'dev2' already exists" in proc.stderr
    assert listed(db, "media") == [] and listed(db, "programs") == []
    assert [d["id"] for d in listed(db, "devices")] == ["dev2"]


def test_reports_lists_what_devices_reported(db, tmp_path):
    import asyncio
    from host_server.db import Database

    run_cli("import", write_json(tmp_path / "c.json", catalog_doc()), db=db, check=0)

    async def report():
        d = await Database(db).connect()
        await d.devices.add_report("dev1", {"id": 1, "pos": 0, "status": "failed", "src": None, "bytes": 0,
                                    "ms": 5, "errors": [["http://x/a.wav", "refused"]]})
        await d.devices.add_report("dev2", {"id": 2, "pos": 0, "status": "played", "src": "http://x/b.wav",
                                    "bytes": 9, "ms": 5, "errors": []})
        await d.close()
    asyncio.run(report())
    rows = json.loads(run_cli("reports", "--device", "dev1", "--json", db=db, check=0).stdout)
    assert len(rows) == 1 and rows[0]["status"] == "failed" and rows[0]["advanced"] is True
    assert rows[0]["errors"] == [["http://x/a.wav", "refused"]]
    assert len(json.loads(run_cli("reports", "--limit", "1", "--json", db=db, check=0).stdout)) == 1
    text = run_cli("reports", db=db, check=0).stdout
    assert "refused" in text and "played" in text
    assert "--limit" in run_cli("reports", "--limit", "0", db=db, check=1).stderr


def test_usage_errors_exit_nonzero_without_traceback(db):
    assert run_cli("frobnicate", db=db).returncode == 2
    assert run_cli("list", "things", db=db).returncode == 2


def test_unreadable_database_is_a_clear_error(tmp_path):
    bad = tmp_path / "bad.db"
    bad.write_text("this is not a database" * 100)
    proc = run_cli("list", "media", db=str(bad), check=1)
    assert proc.stderr.startswith("error: database")


def test_serve_prints_listening_line_and_answers(db, tmp_path):
    run_cli("import", write_json(tmp_path / "c.json", catalog_doc()), db=db, check=0)
    server = Server("host_server", "--db", db, "serve", "--port", "0", "--token-ttl", "60")
    try:
        req = urllib.request.Request(f"http://127.0.0.1:{server.port}/api/v1/login/challenge",
                                     data=b'{"device": "dev1"}', method="POST")
        with urllib.request.urlopen(req, timeout=10) as resp:
            assert re.fullmatch(r"[0-9a-f]{32}", json.loads(resp.read())["nonce"])
    finally:
        assert server.stop() == 0
    assert "/api/v1/login/challenge" in server.stderr        # one access line per request
    assert "Traceback" not in server.stderr


def test_serve_on_a_busy_port_fails_clearly(db):
    server = Server("host_server", "--db", db, "serve", "--port", "0")
    try:
        proc = run_cli("serve", "--port", str(server.port), db=db, check=1)
        assert proc.stderr.startswith("error: ")
    finally:
        server.stop()


def test_revoke_device_names_an_unknown_device_and_counts_tokens(db):
    run_cli("add-device", "dev9", db=db, check=0)
    out = run_cli("revoke-device", "dev9", db=db, check=0).stdout
    assert "dev9: 0 token(s) revoked" in out
    err = run_cli("revoke-device", "ghost", db=db, check=1).stderr
    assert "no device 'ghost'" in err


def test_an_unreachable_postgresql_database_is_a_one_line_error_without_its_password():
    proc = run_cli("list", "devices", db="postgresql://meta:hunter2@127.0.0.1:1/meta", check=1)
    assert proc.stderr.startswith("error: cannot connect to the database postgresql://meta:***@127.0.0.1:1/meta")
    assert "hunter2" not in proc.stderr + proc.stdout


def test_a_device_secret_can_come_from_a_file_or_stdin_not_only_the_command_line(db, tmp_path):
    import subprocess
    import sys
    from hostutil import REPO
    (tmp_path / "secret").write_text("AB" * 16 + "\n")
    proc = run_cli("add-device", "dev1", "--secret-file", str(tmp_path / "secret"), db=db, check=0)
    assert "ab" * 16 not in proc.stdout and "AB" * 16 not in proc.stdout   # not printed back
    piped = subprocess.run([sys.executable, "-m", "host_server", "--db", db, "add-device", "dev2",
                            "--secret-file", "-"], input="cd" * 16 + "\n", cwd=REPO,
                           capture_output=True, text=True, timeout=30)
    assert piped.returncode == 0, piped.stderr
    assert "cannot read the secret from" in run_cli(
        "add-device", "dev3", "--secret-file", str(tmp_path / "none"), db=db, check=1).stderr
    assert "--secret-file" in run_cli("add-device", "--help", db=db, check=0).stdout


def test_remove_media_and_remove_program(db, tmp_path):
    run_cli("import", write_json(tmp_path / "cat.json", catalog_doc()), db=db, check=0)
    ids = {p["name"]: p["id"] for p in listed(db, "programs")}
    proc = run_cli("remove-media", "1", db=db, check=0)
    assert proc.stdout.strip() == "media 1 removed (and from programs %d)" % ids["Demo"]
    assert [m["id"] for m in listed(db, "media")] == [2]
    assert {p["name"]: p["items"] for p in listed(db, "programs")}["Demo"] == [2]
    proc = run_cli("remove-media", "1", db=db, check=1)
    assert "no media 1" in proc.stderr and "2" in proc.stderr     # it says which ids exist
    assert "must be a non-negative integer" in run_cli("remove-media", "x", db=db, check=1).stderr
    assert run_cli("remove-program", "Demo", db=db, check=0).stdout.strip() == \
        "program %d removed" % ids["Demo"]
    assert [p["name"] for p in listed(db, "programs")] == ["Quiet"]
    devices = {d["id"]: d for d in listed(db, "devices")}
    assert devices["dev1"]["default"] is None and devices["dev1"]["programs"] == [ids["Quiet"]]
    assert "no program 'Demo'" in run_cli("remove-program", "Demo", db=db, check=1).stderr
