"""An item's playback rate and duration: read from a WAV file's first bytes, and checked.

A device paces its sink by the rate (bytes of the stored file per second) and shows the
duration (ms); both are facts of the file, found at registration: the owner API parses a WAV
header from the first bytes of the source it checks (outbound/sourcecheck.py), and the tools
(tools/playback.py) read the local file, with this parser for WAV and a tags library for
compressed formats. Pure: bytes in, numbers out.
"""

import struct

from .checks import is_int
from .errors import Invalid

MAX_RATE = 100_000_000        # bytes/s: 32-bit 384 kHz PCM in 8 channels is 12.3 MB/s
MAX_DURATION = 2 ** 31 - 1    # ms (24.8 days): fits a 32-bit signed integer on any board
WAV_HEAD = 64 * 1024          # bytes of a WAV file read to find its fmt and data chunks


def wav_data(head):
    """(rate, offset, length) of a RIFF/WAVE file's data chunk from the file's first bytes: the
    fmt chunk's byte rate, where the samples start and the length the chunk claims; None when
    the bytes are not a WAV file or do not reach a data chunk after a fmt chunk."""
    head = bytes(head)
    if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
        return None
    at, rate = 12, None
    while at + 8 <= len(head):
        tag, length = head[at:at + 4], struct.unpack_from("<I", head, at + 4)[0]
        body = at + 8
        if tag == b"fmt ":
            if length < 16 or body + 16 > len(head):
                return None
            rate = struct.unpack_from("<I", head, body + 8)[0]
        elif tag == b"data":
            return (rate, body, length) if rate else None
        at = body + length + (length & 1)   # chunks are padded to an even length
    return None


def wav_facts(head, size=None):
    """(rate, dur) of a RIFF/WAVE file from its first bytes, or None when they are not one or
    do not reach the data chunk. rate is the fmt chunk's byte rate; dur the data chunk's
    length at that rate, in ms. size (the whole file's) bounds a data chunk that claims more
    (or 0 or 0xFFFFFFFF, as writers of a stream leave it)."""
    found = wav_data(head)
    if found is None or found[0] > MAX_RATE:
        return None
    rate, body, length = found
    if size is not None and (length in (0, 0xFFFFFFFF) or body + length > size):
        length = max(0, size - body)
    dur = length * 1000 // rate
    return (rate, dur) if 0 < dur <= MAX_DURATION else None


def check_playback(obj, where):
    """{"rate": int or None, "dur": int or None} from a record's optional fields (null or
    missing: not known), else Invalid naming the field."""
    out = {}
    for key, limit, unit in (("rate", MAX_RATE, "bytes per second"),
                             ("dur", MAX_DURATION, "milliseconds")):
        value = obj.get(key)
        if value is not None and not (is_int(value) and 0 < value <= limit):
            raise Invalid(f"{where}: field {key!r} must be a positive integer ({unit}) of at most"
                          f" {limit}, or null when not known")
        out[key] = value
    return out
