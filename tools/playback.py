"""A local media file's playback rate (bytes of the file per second) and duration (ms), as a
media record carries them ("rate", "dur") so that a device can pace its sink: one home for the
tools and the simulator.

A WAV file's come from its header (host_server/model/playback.py, the parser the owner API
uses on the bytes it checks): the fmt chunk's byte rate and the data chunk's length. Compressed
formats' from their tags and stream headers (mutagen): the duration it finds, and the file's
size over it as the rate (the mean a device must feed a decoder, tags included).
"""
import os

from host_server.model.playback import MAX_DURATION, MAX_RATE, WAV_HEAD, wav_facts


def playback_fields(path):
    """{"rate": N, "dur": N} of the file at path, or {} when neither can be found."""
    size = os.path.getsize(path)
    with open(path, "rb") as f:
        head = f.read(WAV_HEAD)
    facts = wav_facts(head, size)
    if facts is None and head[:4] != b"RIFF":
        facts = _from_tags(path, size)
    return {"rate": facts[0], "dur": facts[1]} if facts else {}


def _from_tags(path, size):
    import mutagen   # only for compressed formats
    try:
        found = mutagen.File(path)
    except (mutagen.MutagenError, OSError, ValueError, EOFError):
        return None
    length = getattr(getattr(found, "info", None), "length", 0) or 0
    if length <= 0:
        return None
    rate, dur = round(size / length), round(length * 1000)
    return (rate, dur) if 0 < rate <= MAX_RATE and 0 < dur <= MAX_DURATION else None
