"""What a local media file is, found before it is registered (tools/owner.py) or prepared
(tools/media.py): its type by its name (host_server/model/formats.py, the one table), checked
against its bytes, and that it decodes to its end; then its tags and its record's fields.

The checks, per format: a WAV file's chunks (its data chunk holds what it claims); an MP3
file's frames, walked from its ID3 tag to its end (the last frame whole; an ID3v1, APE or
Lyrics3 tag may follow); the other formats' stream headers, read by mutagen as the format
their name says. Where `ffprobe` is installed it also reads every frame of the stream and
must report no error. A file that fails is refused with the reason, never registered.
"""
import mmap
import os
import shutil
import subprocess

from host_server.model.formats import TYPES, type_for_name
from host_server.model.playback import WAV_HEAD, wav_data
from tools.playback import playback_fields

KNOWN = " ".join(sorted(TYPES))
# the mutagen classes a file of each extension may parse as
MUTAGEN = {".flac": ("FLAC",), ".ogg": ("OggVorbis", "OggOpus", "OggFLAC", "OggSpeex"),
           ".opus": ("OggOpus",), ".m4a": ("MP4",), ".aac": ("AAC",), ".aif": ("AIFF",),
           ".aiff": ("AIFF",), ".wma": ("ASF",)}
NAMES = {".wav": "a WAV file", ".mp3": "an MP3 file", ".flac": "a FLAC file",
         ".ogg": "an Ogg file", ".opus": "an Opus file", ".m4a": "an MP4 audio file",
         ".aac": "an AAC (ADTS) file", ".aif": "an AIFF file", ".aiff": "an AIFF file",
         ".wma": "a WMA (ASF) file"}
FFPROBE_TIMEOUT = 300


class NotMedia(Exception):
    """The file's name says no media format: str() says what it was."""


class BadMedia(Exception):
    """The file is not the format its name says, or does not decode: str() says why."""


def media_type(path):
    """The file's MIME type, checked: NotMedia for a name of no format, BadMedia for a file
    that is not what its name says or does not decode."""
    name = os.path.basename(path)
    ctype = type_for_name(name)
    if ctype is None:
        ext = os.path.splitext(name)[1]
        raise NotMedia(f"not a media file name ({ext or 'no extension'}; media files end in {KNOWN})")
    ext = os.path.splitext(name)[1].lower()
    size = os.path.getsize(path)
    if size == 0:
        raise BadMedia("empty file")
    if ext == ".wav":
        _check_wav(path, size)
    elif ext == ".mp3":
        _check_mp3(path, size)
    else:
        _check_by_mutagen(path, ext)
    if shutil.which("ffprobe"):
        _check_by_ffprobe(path)
    return ctype


def _check_wav(path, size):
    with open(path, "rb") as f:
        head = f.read(WAV_HEAD)
    if head[:4] != b"RIFF" or head[8:12] != b"WAVE":
        raise BadMedia(f"not a WAV file: it starts {head[:12]!r}, not RIFF....WAVE")
    found = wav_data(head)
    if found is None:
        raise BadMedia("not a playable WAV file: no fmt chunk and data chunk in its first"
                       f" {WAV_HEAD // 1024} KiB")
    _, body, length = found
    if length not in (0, 0xFFFFFFFF) and body + length > size:   # streams' writers leave those
        raise BadMedia(f"truncated: its data chunk claims {length} bytes, the file holds"
                       f" {max(0, size - body)} after its header")


# MPEG audio frame headers: bit rates (kbit/s) by (version is 1, layer) and sample rates by version
BITRATES = {(True, 1): (32, 64, 96, 128, 160, 192, 224, 256, 288, 320, 352, 384, 416, 448),
            (True, 2): (32, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 384),
            (True, 3): (32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320),
            (False, 1): (32, 48, 56, 64, 80, 96, 112, 128, 144, 160, 176, 192, 224, 256),
            (False, 2): (8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160),
            (False, 3): (8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160)}
SAMPLE_RATES = {3: (44100, 48000, 32000), 2: (22050, 24000, 16000), 0: (11025, 12000, 8000)}
TRAILERS = (b"TAG", b"APETAGEX", b"LYRICS")   # tags after the last frame


def mpeg_frame_length(header):
    """The length in bytes of the MPEG audio frame whose 4-byte header this is, or None when it
    is not a frame header (no sync, a reserved field, a free-format bit rate)."""
    b1, b2 = header[1], header[2]
    if header[0] != 0xFF or b1 & 0xE0 != 0xE0:
        return None
    version, layer = (b1 >> 3) & 3, 4 - ((b1 >> 1) & 3)
    index, rate_index, pad = b2 >> 4, (b2 >> 2) & 3, (b2 >> 1) & 1
    if version == 1 or layer == 4 or index in (0, 15) or rate_index == 3:
        return None
    bitrate = BITRATES[(version == 3, layer)][index - 1] * 1000
    rate = SAMPLE_RATES[version][rate_index]
    if layer == 1:
        return (12 * bitrate // rate + pad) * 4
    per_frame = 144 if layer == 2 or version == 3 else 72
    return per_frame * bitrate // rate + pad


def _check_mp3(path, size):
    with open(path, "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as data:
        at = 0
        tagged = data[:3] == b"ID3" and size >= 10
        if tagged:   # ID3v2: a synchsafe size after 6 bytes
            s = data[6:10]
            at = 10 + (s[0] << 21 | s[1] << 14 | s[2] << 7 | s[3]) + (10 if data[5] & 0x10 else 0)
        while at < size and data[at] == 0:   # padding some writers leave after the tag
            at += 1
        frames = 0
        while at + 4 <= size:
            length = mpeg_frame_length(data[at:at + 4])
            if length is None:
                break
            if at + length > size:
                raise BadMedia(f"truncated: its last frame (at byte {at}) needs {length} bytes,"
                               f" the file ends {size - at} bytes after it starts")
            frames += 1
            at += length
        if frames == 0:
            raise BadMedia(f"not an MP3 file: no MPEG audio frame at byte {at}"
                           + (" (after its ID3 tag)" if tagged else ""))
        if at < size and not any(data[at:at + len(t)] == t for t in TRAILERS):
            raise BadMedia(f"not MPEG audio from byte {at} on (after {frames} frames; the file"
                           f" has {size} bytes): damaged or truncated")


def _check_by_mutagen(path, ext):
    import mutagen   # only for these formats
    try:
        found = mutagen.File(path)
    except (mutagen.MutagenError, OSError, ValueError, EOFError, IndexError) as exc:
        why = str(exc).replace(repr(path), "it").replace(path, "it") or type(exc).__name__
        raise BadMedia(f"not {NAMES[ext]} (mutagen: {why})") from None
    kind = type(found).__name__ if found is not None else None
    if kind not in MUTAGEN[ext]:
        raise BadMedia(f"not {NAMES[ext]}" + (f": its bytes are {kind}" if kind else
                                               ": no stream header of its format"))
    if not getattr(found.info, "length", 0):
        raise BadMedia(f"{NAMES[ext]} without a length: no audio in its stream header")


def _check_by_ffprobe(path):
    try:
        proc = subprocess.run(
            ["ffprobe", "-v", "error", "-select_streams", "a:0", "-count_frames", "-show_entries",
             "stream=nb_read_frames", "-of", "csv=p=0", path],
            capture_output=True, text=True, timeout=FFPROBE_TIMEOUT)
    except subprocess.TimeoutExpired:
        raise BadMedia(f"ffprobe did not finish reading it in {FFPROBE_TIMEOUT} s") from None
    errors = proc.stderr.strip().splitlines()
    if proc.returncode != 0 or errors:
        raise BadMedia("does not decode (ffprobe: " + (errors[-1] if errors else
                                                      f"exit status {proc.returncode}") + ")")
    if not proc.stdout.strip().isdigit() or int(proc.stdout.strip()) == 0:
        raise BadMedia("does not decode: ffprobe found no audio frame")


def tag_fields(path):
    """The record's descriptive fields from the file's own tags ({} when it has none)."""
    from tinytag import TinyTag, TinyTagException
    try:
        tags = TinyTag.get(path).as_dict()
    except (TinyTagException, OSError, ValueError):
        return {}

    def first(key):
        values = tags.get(key) or []
        return values[0] if isinstance(values, list) and values else ""

    def every(key):
        values = tags.get(key) or []
        return [v for v in values if isinstance(v, str) and v] if isinstance(values, list) else []

    fields = {"title": first("title"), "performers": every("artist"),
              "composers": every("composer"), "composer": first("composer"),
              "work": first("album"), "copyright_holder": first("copyright"),
              "creators": every("lyricist")}
    return {k: v for k, v in fields.items() if v}


def record_fields(path, checked=True):
    """A record's fields that the file itself gives: its type (checked unless checked=False:
    then by its name alone, application/octet-stream for a name of no format), its file name,
    its tags' fields with its title falling back to the file name's stem, and its playback rate
    and duration. NotMedia or BadMedia when checked and the file fails."""
    name = os.path.basename(path)
    ctype = media_type(path) if checked else (type_for_name(name) or "application/octet-stream")
    fields = {"type": ctype, "file_name": name, **tag_fields(path), **playback_fields(path)}
    if not fields.get("title", "").strip():
        fields["title"] = os.path.splitext(name)[0]
    return fields
