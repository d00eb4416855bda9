"""tools/mediafile.py: a file is what its name says and decodes to its end, or it is refused
with the reason; the record's fields from its tags, the title falling back to its name."""
import shutil

import pytest

from host_server.model import catalog
from host_server.model.formats import TYPES, canonical_type, type_for_name
from tests.tools.mediafiles import MP3_FRAME, decodable_flac, flac, mp3, noise, wav
from tools import mediafile
from tools.mediafile import BadMedia, NotMedia, media_type, record_fields

NO_FFPROBE = shutil.which("ffprobe") is None


def write(tmp_path, name, data):
    path = tmp_path / name
    path.write_bytes(data if isinstance(data, bytes) else data.encode())
    return str(path)


@pytest.mark.parametrize("name,data,ctype", [
    ("a.wav", wav(bytes(1000)), "audio/wav"),
    ("b.MP3", mp3(), "audio/mpeg"),
    ("tagged.mp3", mp3(TIT2="Song") + b"TAG" + bytes(125), "audio/mpeg"),   # ID3v2 and ID3v1
    ("c.flac", decodable_flac(), "audio/flac"),
])
def test_a_file_that_is_what_its_name_says_has_its_one_type(tmp_path, name, data, ctype):
    assert media_type(write(tmp_path, name, data)) == ctype


@pytest.mark.parametrize("name,data,why", [
    ("noise.mp3", noise(), "not an MP3 file: no MPEG audio frame at byte 0"),
    ("words.wav", "this is a text file\n" * 20, "not a WAV file: it starts b'this is a te'"),
    ("cut.mp3", mp3()[:-200], "truncated: its last frame (at byte 16263) needs 417 bytes"),
    ("junk.mp3", mp3() + b"junk" * 100, "not MPEG audio from byte 16680 on (after 40 frames"),
    ("cut.wav", wav(bytes(1000))[:-100], "truncated: its data chunk claims 1000 bytes, the file"
                                         " holds 900"),
    ("notes.flac", "not flac\n" * 10, "not a FLAC file"),
    ("wav.flac", wav(bytes(1000)), "not a FLAC file (mutagen: it is not a valid FLAC"),
    ("empty.mp3", b"", "empty file"),
    ("tag-only.mp3", mp3(0, TIT2="Nothing"), "not an MP3 file: no MPEG audio frame at byte 28"
                                             " (after its ID3 tag)"),
])
def test_a_file_that_is_not_what_its_name_says_or_is_cut_is_refused_saying_why(
        tmp_path, name, data, why):
    with pytest.raises(BadMedia) as exc:
        media_type(write(tmp_path, name, data))
    assert str(exc.value).startswith(why), str(exc.value)


def test_leading_zeros_are_skipped_and_named_as_no_tag(tmp_path):
    assert media_type(write(tmp_path, "padded.mp3", bytes(100) + mp3())) == "audio/mpeg"
    with pytest.raises(BadMedia) as exc:
        media_type(write(tmp_path, "zeros.mp3", bytes(100) + b"Z" * 100))
    assert str(exc.value) == "not an MP3 file: no MPEG audio frame at byte 100"


def test_a_name_of_no_format_is_not_media():
    with pytest.raises(NotMedia, match=r"not a media file name \(\.txt; media files end in "):
        media_type("notes.txt")
    with pytest.raises(NotMedia, match="no extension"):
        media_type("README")


def test_frame_lengths_of_each_mpeg_version_and_layer():
    assert mediafile.mpeg_frame_length(MP3_FRAME[:4]) == 417
    assert mediafile.mpeg_frame_length(b"\xff\xfb\x92\x00") == 418            # padded
    assert mediafile.mpeg_frame_length(b"\xff\xf3\x90\x00") == 261   # MPEG-2 L3 80k 22.05 kHz
    assert mediafile.mpeg_frame_length(b"\xff\xfd\x90\x00") == 522   # MPEG-1 L2 160k 44.1 kHz
    assert mediafile.mpeg_frame_length(b"\xff\xff\x90\x00") == 312   # MPEG-1 L1 288k: 78 slots
    for bad in (b"\xff\xfb\x00\x00", b"\xff\xfb\xf0\x00", b"\xff\xfb\x9c\x00", b"\xff\xeb\x90\x00",
                b"\xff\xf9\x90\x00", b"\xfe\xfb\x90\x00"):
        assert mediafile.mpeg_frame_length(bad) is None, bad


def test_record_fields_come_from_tags_and_the_title_falls_back_to_the_file_name(tmp_path):
    tagged = record_fields(write(tmp_path, "one.wav", wav(bytes(8000), INAM="First Light",
                                                          IART="Ensemble One")))
    assert (tagged["title"], tagged["performers"], tagged["type"]) == (
        "First Light", ["Ensemble One"], "audio/wav")
    assert (tagged["rate"], tagged["dur"]) == (8000, 1000)
    plain = record_fields(write(tmp_path, "Night Walk.mp3", mp3()))
    assert plain["title"] == "Night Walk" and plain["file_name"] == "Night Walk.mp3"
    assert plain["type"] == "audio/mpeg" and plain["dur"] == 1042
    unchecked = record_fields(write(tmp_path, "noise.mp3", noise(500)), checked=False)
    assert unchecked["type"] == "audio/mpeg" and unchecked["title"] == "noise"


def test_one_type_per_format_and_the_meta_server_stores_aliases_as_it():
    assert type_for_name("x.WAV") == "audio/wav" and type_for_name("x.aif") == "audio/aiff"
    assert type_for_name(".wav") is None and type_for_name("x.txt") is None
    assert canonical_type("audio/x-wav") == "audio/wav" == canonical_type("Audio/WAV")
    assert set(TYPES.values()) == {canonical_type(t) for t in TYPES.values()}
    rec = catalog.validate_media({"size": 1, "sha256": "0" * 64, "type": "audio/x-wav",
                                  "primary_address": "http://h", "primary_directory": "/",
                                  "file_name": "a.wav"})
    assert rec["type"] == "audio/wav"


@pytest.mark.skipif(NO_FFPROBE, reason="ffprobe is not installed (Debian's ffmpeg has it)")
def test_ffprobe_reads_every_frame_when_installed(tmp_path):
    assert media_type(write(tmp_path, "ok.mp3", mp3())) == "audio/mpeg"
    with pytest.raises(BadMedia, match="does not decode"):   # a header, and not one frame
        media_type(write(tmp_path, "header-only.flac", flac()))
