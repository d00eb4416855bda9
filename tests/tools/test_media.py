"""python -m tools.media prepare, as an owner runs it: stored files and records for the meta
server that decrypt back to the original, streamed, with errors that say what was wrong."""

import base64
import hashlib
import json
import os
import stat
import subprocess
import sys

import pytest
from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from host_server.model import catalog
from tools import media

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def restore(stored, rec):
    """The original from what the file servers hold and the record (key, IV, piece)."""
    sec = rec["secure"]
    data = bytearray(stored)
    piece = base64.b64decode(sec["piece"])
    off = sec["piece_offset"]
    assert data[off:off + len(piece)] == bytes(len(piece))   # zero-filled where withheld
    data[off:off + len(piece)] = piece
    if sec["encrypted"]:
        dec = Cipher(algorithms.AES(bytes.fromhex(sec["key"])), modes.CBC(bytes.fromhex(sec["iv"]))).decryptor()
        unpad = padding.PKCS7(128).unpadder()
        data = unpad.update(dec.update(bytes(data)) + dec.finalize()) + unpad.finalize()
    return bytes(data)


def prepare(tmp_path, *args):
    return subprocess.run([sys.executable, "-m", "tools.media", "prepare", *args,
                           "--out", str(tmp_path / "out"), "--records", str(tmp_path / "rec")],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)


@pytest.fixture
def originals(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    files = {"song.wav": os.urandom(3 * (1 << 20) + 5), "tiny.mp3": os.urandom(100), "exact.wav": os.urandom(8192)}
    for name, data in files.items():
        (src / name).write_bytes(data)
    return src, files


@pytest.mark.parametrize("args,encrypted,piece", [
    ((), True, 4096),
    (("--piece-length", "0"), True, 0),
    (("--no-encrypt",), False, 4096),
    (("--piece-offset", "100", "--piece-length", "1000"), True, 1000),
])
def test_prepared_files_restore_to_the_original_and_records_validate(tmp_path, originals, args, encrypted, piece):
    src, files = originals
    r = prepare(tmp_path, *[str(src / n) for n in files], *args,
                "--address", "http://127.0.0.1:8101", "--directory", "/music")
    assert r.returncode == 0, r.stderr
    for name, data in files.items():
        stored = (tmp_path / "out" / name).read_bytes()
        rec_path = tmp_path / "rec" / (name + ".json")
        rec = json.loads(rec_path.read_text())
        assert stat.S_IMODE(os.stat(rec_path).st_mode) == 0o600      # it holds the key
        assert rec["size"] == len(stored) and rec["sha256"] == hashlib.sha256(stored).hexdigest()
        assert rec["secure"]["plain_size"] == len(data)
        assert rec["secure"]["plain_sha256"] == hashlib.sha256(data).hexdigest()
        assert rec["secure"]["encrypted"] is encrypted
        assert len(base64.b64decode(rec["secure"]["piece"])) == min(piece, len(stored))
        if encrypted:
            assert data[:64] not in stored
        assert restore(stored, rec) == data
        catalog.validate_media(rec)          # the meta server takes it as it is
    assert not any(n.endswith(".part") for n in os.listdir(tmp_path / "out"))


def test_a_large_file_streams_through_in_chunks(tmp_path, mocker):
    big = tmp_path / "big.bin"
    with open(big, "wb") as f:
        for _ in range(5):
            f.write(os.urandom(media.CHUNK))
    reads = []
    real_open = open

    class Spy:
        def __init__(self, f):
            self.f = f

        def read(self, n=-1):
            reads.append(n)
            return self.f.read(n)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.f.close()

    mocker.patch("builtins.open", lambda p, m="r", *a, **k: Spy(real_open(p, m, *a, **k))
                 if p == str(big) else real_open(p, m, *a, **k))
    facts = media.prepare_file(str(big), str(tmp_path / "big.out"))
    assert reads and max(reads) == media.CHUNK and -1 not in reads
    assert facts["size"] == 5 * media.CHUNK + 16


def test_errors_say_what_was_wrong_and_leave_nothing_behind(tmp_path, originals):
    src, files = originals
    r = prepare(tmp_path, str(src / "nope.wav"))
    assert r.returncode == 1 and "nope.wav is not a file" in r.stderr and "Traceback" not in r.stderr
    r = prepare(tmp_path, str(src / "song.wav"), "--no-encrypt", "--piece-length", "0")
    assert r.returncode == 1 and "nothing secret" in r.stderr
    r = prepare(tmp_path, str(src / "song.wav"), "--address", "http://127.0.0.1:1")
    assert r.returncode == 1 and "go together" in r.stderr
    r = subprocess.run([sys.executable, "-m", "tools.media", "prepare", str(src / "song.wav"),
                        "--out", str(tmp_path / "o"), "--records", str(tmp_path / "o" / "rec")],
                       cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert r.returncode == 1 and "must not be inside --out" in r.stderr
    assert not (tmp_path / "out").exists() or os.listdir(tmp_path / "out") == []


def test_the_piece_is_moved_inside_a_small_file():
    assert media.piece_place(100_000, 4096, 4096) == (4096, 4096)
    assert media.piece_place(5000, 4096, 4096) == (904, 4096)
    assert media.piece_place(112, 4096, 4096) == (0, 112)


def test_a_piece_no_device_could_take_is_refused_before_anything_is_written(tmp_path, originals):
    from host_server.model import secure
    from tools import media
    assert media.MAX_PIECE == secure.MAX_PIECE   # the tool and the meta server agree
    src, files = originals
    r = prepare(tmp_path, str(src / "song.wav"), "--piece-length", str(media.MAX_PIECE + 16),
                "--address", "http://127.0.0.1:8101", "--directory", "/music")
    assert r.returncode != 0 and "no device could play it" in r.stderr
    assert not (tmp_path / "out").exists() or not os.listdir(tmp_path / "out")


def test_records_carry_the_files_tags_and_one_type_per_format(tmp_path):
    from tests.tools.mediafiles import mp3, wav
    src = tmp_path / "src"
    src.mkdir()
    (src / "dawn.wav").write_bytes(wav(bytes(8000), INAM="First Light", IART="Ensemble One",
                                       IPRD="Dawn Suite"))
    (src / "Night Walk.mp3").write_bytes(mp3(TIT2="", TPE1="Trio"))
    r = prepare(tmp_path, str(src / "dawn.wav"), str(src / "Night Walk.mp3"),
                "--address", "http://127.0.0.1:8101", "--directory", "/music")
    assert r.returncode == 0, r.stderr
    dawn = json.loads((tmp_path / "rec" / "dawn.wav.json").read_text())
    assert (dawn["title"], dawn["performers"], dawn["work"], dawn["type"]) == (
        "First Light", ["Ensemble One"], "Dawn Suite", "audio/wav")
    assert (dawn["rate"], dawn["dur"]) == (8000, 1000)            # the original's, not encrypted
    night = json.loads((tmp_path / "rec" / "Night Walk.mp3.json").read_text())
    assert (night["title"], night["performers"], night["type"]) == (
        "Night Walk", ["Trio"], "audio/mpeg")                     # an empty title: the name
    catalog.validate_media(night)


def test_a_record_holding_a_key_is_never_replaced_without_force(tmp_path, originals):
    src, files = originals
    args = [str(src / "song.wav"), str(src / "tiny.mp3")]
    assert prepare(tmp_path, *args).returncode == 0
    kept = {n: (tmp_path / d / f).read_bytes() for n, d, f in (
        ("rec", "rec", "tiny.mp3.json"), ("out", "out", "tiny.mp3"))}
    (tmp_path / "rec" / "song.wav.json").unlink()                 # added to the meta server, say
    again = prepare(tmp_path, *args)
    assert again.returncode == 1
    assert "rec/tiny.mp3.json holds the key of a prepared file: nothing written" in again.stderr
    assert "--force replaces it" in again.stderr and "Traceback" not in again.stderr
    assert not (tmp_path / "rec" / "song.wav.json").exists()     # nothing half-done
    assert (tmp_path / "rec" / "tiny.mp3.json").read_bytes() == kept["rec"]
    assert (tmp_path / "out" / "tiny.mp3").read_bytes() == kept["out"]
    forced = prepare(tmp_path, *args, "--force")
    assert forced.returncode == 0, forced.stderr
    assert (tmp_path / "rec" / "tiny.mp3.json").read_bytes() != kept["rec"]
    (tmp_path / "rec" / "song.wav.json").write_text("{not json")
    assert prepare(tmp_path, str(src / "song.wav")).returncode == 1   # unreadable: might hold one


def test_two_files_of_one_name_are_refused(tmp_path, originals):
    src, files = originals
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "tiny.mp3").write_bytes(b"x" * 50)
    r = prepare(tmp_path, str(src / "tiny.mp3"), str(tmp_path / "other" / "tiny.mp3"))
    assert r.returncode == 1 and "two files named tiny.mp3" in r.stderr


def test_a_folder_that_cannot_be_made_names_its_option(tmp_path, originals):
    src, files = originals
    (tmp_path / "file").write_text("a file, not a folder")
    for option in ("--out", "--records"):
        paths = {"--out": str(tmp_path / "o"), "--records": str(tmp_path / "r"),
                 option: str(tmp_path / "file" / "sub")}
        r = subprocess.run([sys.executable, "-m", "tools.media", "prepare", str(src / "tiny.mp3"),
                            "--out", paths["--out"], "--records", paths["--records"]],
                           cwd=ROOT, capture_output=True, text=True, timeout=60)
        assert r.returncode == 1 and "Traceback" not in r.stderr
        assert r.stderr == (f"error: {option} {tmp_path / 'file' / 'sub'}: cannot create the folder"
                            " (Not a directory)\n")
