"""Small media files built byte by byte for the tools' tests (no encoder is installed here)."""
import struct

# MPEG-1 Layer III, 128 kbit/s, 44.1 kHz, no padding: 417 bytes a frame; zero side information
# and main data decode as silence
MP3_FRAME = b"\xff\xfb\x90\x00" + bytes(413)


def id3v2(**frames):
    """An ID3v2.3 tag of text frames (TIT2 title, TPE1 artist, ...)."""
    body = b""
    for key, text in frames.items():
        data = b"\x00" + text.encode("latin-1")
        body += key.encode() + struct.pack(">I", len(data)) + b"\0\0" + data
    size = len(body)
    synchsafe = bytes([(size >> 21) & 0x7F, (size >> 14) & 0x7F, (size >> 7) & 0x7F, size & 0x7F])
    return b"ID3\x03\x00\x00" + synchsafe + body


def mp3(frames=40, **tags):
    return (id3v2(**tags) if tags else b"") + MP3_FRAME * frames


def wav(frames, **info):
    """A small 8-bit mono WAV with a RIFF LIST/INFO chunk (INAM title, IART artist, ...)."""
    fmt = struct.pack("<HHIIHH", 1, 1, 8000, 8000, 1, 8)
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt
    body += b"data" + struct.pack("<I", len(frames)) + frames + (b"\0" if len(frames) % 2 else b"")
    items = b""
    for key, value in info.items():
        text = value.encode() + b"\0"
        items += key.encode() + struct.pack("<I", len(text)) + text + (b"\0" if len(text) % 2 else b"")
    if items:
        body += b"LIST" + struct.pack("<I", 4 + len(items)) + b"INFO" + items
    return b"RIFF" + struct.pack("<I", len(body)) + body


def flac(seconds=2, rate=8000):
    """A FLAC stream's header: STREAMINFO alone (mutagen reads no frames)."""
    samples = seconds * rate
    info = struct.pack(">HH", 4096, 4096) + bytes(6)
    info += ((rate << 44) | (0 << 41) | (15 << 36) | samples).to_bytes(8, "big") + bytes(16)
    return b"fLaC" + bytes([0x80, 0, 0, len(info)]) + info


def decodable_flac(seconds=1, rate=8000):
    """A FLAC file with frames (ffmpeg's, where it is installed: then ffprobe, which reads every
    frame, is too), else the header alone (what the tools check without ffprobe)."""
    import os
    import shutil
    import subprocess
    import tempfile
    if not shutil.which("ffmpeg"):
        return flac(seconds, rate)
    with tempfile.TemporaryDirectory() as d:   # a file: ffmpeg writes the length at the end
        out = os.path.join(d, "t.flac")
        subprocess.run(["ffmpeg", "-v", "error", "-f", "lavfi", "-i",
                        "sine=frequency=440:duration=%d:sample_rate=%d" % (seconds, rate),
                        "-ac", "1", "-fflags", "+bitexact", out],
                       check=True, capture_output=True, timeout=60)
        with open(out, "rb") as f:
            return f.read()


def noise(size=20000, seed=1):
    """Random bytes, the same each run, that no format begins with (its first byte is not a
    frame sync, a tag's or a zero)."""
    import random
    return b"Z" + random.Random(seed).randbytes(size - 1)
