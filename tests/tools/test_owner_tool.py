"""`python -m tools.owner` as an owner runs it, against a real meta server and real file servers
(processes on loopback): register a folder from its tags, re-run, mirror, list, remove."""
import json
import os
import re
import stat
import subprocess
import sys
import urllib.request

import pytest

from tests.host.hostutil import REPO, Server
from tests.tools.mediafiles import mp3, noise, wav
from tools.filehash import file_sha256

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def world(tmp_path):
    """A meta server with owner "Label", the owner's file server (root/music is the folder) and
    an alternate's file server (alt/m is where mirror copies to)."""
    root, alt = tmp_path / "root", tmp_path / "alt"
    folder = root / "music"
    (folder / "live").mkdir(parents=True)
    (alt / "m").mkdir(parents=True)
    (folder / "one.wav").write_bytes(wav(
        bytes(range(256)) * 40, INAM="First Light", IART="Ensemble One", IMUS="C. Writer",
        IPRD="Dawn Suite", ICOP="Label Records"))
    (folder / "live" / "two.wav").write_bytes(wav(bytes(255 - b for b in range(256)) * 30))
    (folder / "notes.txt").write_text("not media")
    db = str(tmp_path / "meta.db")
    out = subprocess.run([sys.executable, "-m", "host_server", "--db", db, "add-owner", "Label"],
                         cwd=REPO, capture_output=True, text=True, check=True).stdout
    token = re.search(r"\(shown once\): (own_\S+)$", out.strip()).group(1)
    servers = [Server("host_server", "--db", db, "serve", "--port", "0", "--no-access-log",
                      "--allow-source-net", "127.0.0.0/8"),
               Server("host_server.fileserver", "--root", str(root), "--port", "0"),
               Server("host_server.fileserver", "--root", str(alt), "--port", "0")]
    meta, files, mirror = (f"http://127.0.0.1:{s.port}" for s in servers)
    yield {"folder": folder, "alt": alt / "m", "meta": meta, "files": files, "mirror": mirror,
           "token": token, "db": db}
    for s in servers:
        s.stop()


def tool(world, *args):
    env = dict(os.environ, META_SERVER=world["meta"], OWNER_TOKEN=world["token"])
    proc = subprocess.run([sys.executable, "-m", "tools.owner", *args], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=60)
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc


def api(world, path):
    req = urllib.request.Request(world["meta"] + "/api/v1/owner" + path,
                                 headers={"Authorization": "Bearer " + world["token"]})
    with urllib.request.urlopen(req, timeout=10) as resp:
        return json.loads(resp.read())


def register(world):
    return tool(world, "register", str(world["folder"]), "--address", world["files"],
                "--directory", "/music")


def test_register_reads_tags_and_a_rerun_registers_nothing_twice(world):
    proc = register(world)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.endswith("2 of 2 media files registered or already registered; 1 other"
                                " file skipped (media files end in .aac .aif .aiff .flac .m4a"
                                " .mp3 .ogg .opus .wav .wma)\n")
    assert "skipped notes.txt: not a media file name\n" in proc.stdout
    assert "register" in proc.stderr and "3/3" in proc.stderr          # the progress bar
    media = {m["file_name"]: m for m in api(world, "/media")["media"]}
    assert set(media) == {"one.wav", "two.wav"}
    one = api(world, f"/media/{media['one.wav']['id']}")
    assert (one["title"], one["performers"], one["composers"], one["composer"], one["work"],
            one["copyright_holder"]) == ("First Light", ["Ensemble One"], ["C. Writer"],
                                         "C. Writer", "Dawn Suite", "Label Records")
    assert one["owner"] == "Label" and one["type"] == "audio/wav"
    assert one["sha256"] == file_sha256(world["folder"] / "one.wav")
    two = api(world, f"/media/{media['two.wav']['id']}")
    assert two["primary_directory"] == "/music/live" and two["title"] == "two"   # no tags
    again = register(world)
    assert again.returncode == 0
    assert again.stdout.count(": already registered as media") == 2 and len(api(world, "/media")["media"]) == 2


def test_register_reports_files_the_server_does_not_serve(world):
    proc = tool(world, "register", str(world["folder"]), "--address", world["files"],
                "--directory", "/elsewhere")
    assert proc.returncode == 1
    assert proc.stdout.count("FAILED") == 2 and "status 404" in proc.stdout
    assert api(world, "/media")["media"] == []


def test_register_refuses_files_that_are_not_what_their_names_say_and_lists_the_rest(world):
    folder = world["folder"]
    (folder / "noise.mp3").write_bytes(noise())
    (folder / "words.wav").write_text("this is a text file\n" * 20)
    (folder / "cut.mp3").write_bytes(mp3()[:-200])
    (folder / "whole.mp3").write_bytes(mp3())
    (folder / "cover.jpg").write_bytes(b"\xff\xd8\xff" + bytes(100))
    proc = register(world)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    out = proc.stdout
    assert "REFUSED noise.mp3: not an MP3 file: no MPEG audio frame at byte 0" in out
    assert "REFUSED words.wav: not a WAV file: it starts b'this is a te'" in out
    assert "REFUSED cut.mp3: truncated: its last frame (at byte 16263) needs 417 bytes" in out
    assert "skipped cover.jpg: not a media file name" in out
    assert "skipped notes.txt: not a media file name" in out
    assert "3 of 6 media files registered or already registered; 2 other files skipped" in out
    media = {m["file_name"]: m for m in api(world, "/media")["media"]}
    assert set(media) == {"one.wav", "two.wav", "whole.mp3"}
    whole = api(world, f"/media/{media['whole.mp3']['id']}")
    assert (whole["type"], whole["title"], whole["dur"]) == ("audio/mpeg", "whole", 1042)


def test_mirror_copies_only_what_changed_verifies_and_registers_the_alternate(world):
    assert register(world).returncode == 0
    args = ("mirror", str(world["folder"]), str(world["alt"]), "--address", world["mirror"],
            "--directory", "/m")
    first = tool(world, *args)
    assert first.returncode == 0, first.stdout + first.stderr
    assert "2 of 2 registered files copied" in first.stdout
    assert "alternate registered for 2 media" in first.stdout
    for rel in ("one.wav", "live/two.wav"):
        assert file_sha256(world["alt"] / rel) == file_sha256(world["folder"] / rel)
    media = {m["file_name"]: m["id"] for m in api(world, "/media")["media"]}
    two = api(world, f"/media/{media['two.wav']}")
    assert two["alternates"] == [{"address": world["mirror"], "directory": "/m/live"}]
    assert [f for f in os.listdir(world["alt"]) if f.startswith(".mirror-")] == []

    second = tool(world, *args)
    assert "0 of 2 registered files copied" in second.stdout
    assert "alternate registered for 0 media, already for 2" in second.stdout
    assert (f"media {media['two.wav']} two.wav: alternate {world['mirror']}/m/live already"
            " registered") in second.stdout
    (world["alt"] / "one.wav").write_bytes(b"damaged")
    third = tool(world, *args)
    assert "1 of 2 registered files copied" in third.stdout
    assert file_sha256(world["alt"] / "one.wav") == file_sha256(world["folder"] / "one.wav")
    one = api(world, f"/media/{media['one.wav']}")
    assert one["alternates"] == [{"address": world["mirror"], "directory": "/m"}]


def test_mirror_copies_only_registered_files_and_keeps_their_modes(world):
    folder = world["folder"]
    assert register(world).returncode == 0
    os.chmod(folder / "one.wav", 0o640)
    os.chmod(folder / "live" / "two.wav", 0o604)
    (folder / "later.wav").write_bytes(wav(bytes(300)))          # not registered yet
    (folder / "live" / "two.wav.bak").write_bytes((folder / "live" / "two.wav").read_bytes())
    args = ("mirror", str(folder), str(world["alt"]), "--address", world["mirror"],
            "--directory", "/m")
    proc = tool(world, *args)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    for shown in ("later.wav", "notes.txt", "live/two.wav.bak"):
        assert f"not copied {shown}: not registered" in proc.stdout
    assert sorted(p.relative_to(world["alt"]).as_posix() for p in world["alt"].rglob("*")
                  if p.is_file()) == ["live/two.wav", "one.wav"]
    assert stat.S_IMODE(os.stat(world["alt"] / "one.wav").st_mode) == 0o640
    assert stat.S_IMODE(os.stat(world["alt"] / "live" / "two.wav").st_mode) == 0o604
    os.chmod(folder / "one.wav", 0o644)                          # a mode changed, not the bytes
    again = tool(world, *args, "--no-register")
    assert "0 of 2 registered files copied" in again.stdout
    assert stat.S_IMODE(os.stat(world["alt"] / "one.wav").st_mode) == 0o644


def test_list_and_remove(world):
    assert register(world).returncode == 0
    media = {m["file_name"]: m["id"] for m in api(world, "/media")["media"]}
    listed = tool(world, "list")
    assert listed.stdout.split("\n")[0].split() == ["id", "bytes", "title", "source"]
    assert "First Light" in listed.stdout and listed.stdout.count("\n") == 3
    proc = tool(world, "remove", str(media["one.wav"]))
    assert proc.returncode == 0 and "removed" in proc.stdout
    assert [m["file_name"] for m in api(world, "/media")["media"]] == ["two.wav"]
    gone = tool(world, "remove", str(media["one.wav"]))
    assert gone.returncode == 1
    assert gone.stderr == (f"error: no media {media['one.wav']} of yours (yours:"
                           f" {media['two.wav']}; `list` shows them)\n")


def test_a_bad_token_or_no_server_is_one_clear_line(world):
    proc = tool(world, "list")
    env_bad = dict(world, token="own_wrong")
    bad = tool(env_bad, "list")
    assert bad.returncode == 1 and bad.stderr.startswith("error: meta server refused the token")
    down = tool(dict(world, meta="http://127.0.0.1:9"), "list")
    assert down.returncode == 1 and "cannot reach the meta server" in down.stderr
    assert proc.returncode == 0


def post(url, doc, token=None):
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = "Bearer " + token
    req = urllib.request.Request(url, json.dumps(doc).encode(), headers)
    with urllib.request.urlopen(req, timeout=10) as resp:
        return json.loads(resp.read())


def test_usage_shows_the_plays_and_failovers_devices_reported(world):
    from host_server.services.auth import proof
    secret = "00112233445566778899aabbccddeeff"
    assert register(world).returncode == 0
    media = {m["file_name"]: m for m in api(world, "/media")["media"]}
    subprocess.run([sys.executable, "-m", "host_server", "--db", world["db"], "add-device", "d1",
                    "--secret", secret], cwd=REPO, capture_output=True, check=True)
    nonce = post(world["meta"] + "/api/v1/login/challenge", {"device": "d1"})["nonce"]
    token = post(world["meta"] + "/api/v1/login", {"device": "d1", "nonce": nonce,
                                                   "proof": proof(secret, "d1", nonce)})["token"]
    one = media["one.wav"]
    post(world["meta"] + "/api/v1/report", {
        "id": one["id"], "pos": 0, "status": "played", "src": world["mirror"] + "/m/one.wav",
        "bytes": one["size"], "errors": [[one["src"], "dropped at 100"]]}, token)
    shown = tool(world, "usage")
    assert shown.returncode == 0, shown.stderr
    lines = shown.stdout.splitlines()
    assert lines[0].split() == ["day", "media", "title", "server", "plays", "failed", "bytes",
                                "errors", "away", "onto", "devices"]
    rows = {line.split()[-8]: line.split()[-7:] for line in lines[1:3]}   # by server
    assert rows == {world["files"]: ["0", "0", "0", "1", "1", "0", "1"],
                    world["mirror"]: ["1", "0", str(one["size"]), "0", "0", "1", "1"]}
    assert lines[3] == (f"total: 1 plays, 0 failed, {one['size']:,} bytes, 1 source errors,"
                        " 1 failovers, 1 devices")
    per_item = tool(world, "usage", "--by", "media").stdout.splitlines()
    assert per_item[0].split() == ["media", "title", "plays", "failed", "bytes", "errors", "away",
                                   "onto", "devices"]
    assert per_item[1].split() == [str(one["id"]), "First", "Light", "1", "0", str(one["size"]),
                                   "1", "1", "1", "1"]
    later = tool(world, "usage", "--since", "2099-01-01")
    assert later.returncode == 0 and "total: 0 plays" in later.stdout
    bad = tool(world, "usage", "--until", "tomorrow")
    assert bad.returncode == 1 and "until must be a day as YYYY-MM-DD" in bad.stderr


def test_weight_sets_lists_and_removes_a_servers_share_with_clear_errors(world):
    assert register(world).returncode == 0
    proc = tool(world, "weight", world["files"], "3")
    assert proc.returncode == 0
    assert proc.stdout == f"{world['files']}: weight 3; 2 of your media records name it\n"
    assert tool(world, "weight", world["mirror"] + "/", "2").returncode == 0
    listed = tool(world, "weights").stdout.splitlines()   # by address
    assert sorted(listed) == sorted([f"    3  {world['files']}  (2 media)",
                                     f"    2  {world['mirror']}  (0 media)"])
    bad = tool(world, "weight", world["files"], "0")
    assert bad.returncode == 1 and "weight must be a whole number from 1 to 1000" in bad.stderr
    neither = tool(world, "weight", world["files"])
    assert neither.returncode == 1 and "give a weight (1 to 1000) or --remove" in neither.stderr
    gone = tool(world, "weight", world["mirror"], "--remove")
    assert gone.returncode == 0 and "weight removed" in gone.stdout
    again = tool(world, "weight", world["mirror"], "--remove")
    assert again.returncode == 1 and f"no weight is set for {world['mirror']} by you" in again.stderr
    assert tool(world, "weights").stdout.count("\n") == 1
