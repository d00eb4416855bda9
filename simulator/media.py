"""The demo program: real WAV files (generated tones) with their descriptive fields filled in."""
import array
import hashlib
import math
import os
import struct
import sys

RATE = 22050

# (file name, seconds, notes in Hz, title, performer, composer, body of work)
DEMO_ITEMS = [
    ("morning.wav", 6, (440.0, 554.37, 659.25), "Morning Chord", "Loopback Ensemble", "A. Sine", "Tones for Small Devices"),
    ("signal.wav", 5, (392.0, 493.88), "Signal Fifth", "Loopback Ensemble", "B. Square", "Tones for Small Devices"),
    ("interlude.wav", 4, (349.23, 440.0), "Interlude", "Loopback Ensemble", "B. Square", "Tones for Small Devices"),
    ("missing.wav", 4, (329.63, 415.30), "Lost and Found", "The Alternates", "C. Mirror", "Failover Suite"),
    ("down.wav", 4, (261.63, 329.63, 392.0), "Server Down", "The Alternates", "C. Mirror", "Failover Suite"),
    ("breaking.wav", 12, (220.0, 277.18, 329.63), "Breaking Point", "Range Quartet", "D. Resume", "Failover Suite"),
    ("after.wav", 4, (293.66, 369.99), "After the Break", "Range Quartet", "D. Resume", "Failover Suite"),
]
# Secure items (file name -> how the file servers hold it): encrypted with a withheld piece,
# encrypted only, and only a withheld piece (tools/media.py prepares them).
SECURE_ITEMS = [
    ("vault.wav", 6, (246.94, 311.13, 369.99), "The Vault", "Cipher Trio", "E. Block", "Secure Suite"),
    ("sealed.wav", 3, (277.18, 349.23), "Sealed", "Cipher Trio", "E. Block", "Secure Suite"),
    ("partial.wav", 3, (311.13, 392.0), "Partial Credit", "Cipher Trio", "F. Piece", "Secure Suite"),
]
SECURE_FORM = {"vault.wav": "encrypted+piece", "sealed.wav": "encrypted", "partial.wav": "piece"}


def tone_wav(seconds, notes, title, performer, rate=RATE):
    """A 16-bit mono WAV of a chord that fades in and out, with a RIFF INFO tag chunk."""
    n = int(seconds * rate)
    samples = array.array("h", bytes(2 * n))
    amp = 9000 / len(notes)
    fade = rate // 10
    steps = [2 * math.pi * f / rate for f in notes]
    for i in range(n):
        v = 0.0
        for s in steps:
            v += math.sin(s * i)
        env = min(1.0, i / fade, (n - i) / fade)
        samples[i] = int(amp * env * v)
    if sys.byteorder == "big":
        samples.byteswap()
    data = samples.tobytes()

    def info(tag, text):
        b = text.encode("utf-8") + b"\0"
        if len(b) % 2:
            b += b"\0"
        return tag + struct.pack("<I", len(b)) + b

    tags = b"INFO" + info(b"INAM", title) + info(b"IART", performer)
    fmt = struct.pack("<HHIIHH", 1, 1, rate, rate * 2, 2, 16)
    body = (b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt
            + b"LIST" + struct.pack("<I", len(tags)) + tags
            + b"data" + struct.pack("<I", len(data)) + data)
    return b"RIFF" + struct.pack("<I", len(body)) + body


def write_demo_media(folder):
    """Writes the demo files into ``folder``; returns one dict a file with its facts."""
    os.makedirs(folder, exist_ok=True)
    out = []
    for name, secs, notes, title, performer, composer, work in DEMO_ITEMS + SECURE_ITEMS:
        blob = tone_wav(secs, notes, title, performer)
        path = os.path.join(folder, name)
        with open(path, "wb") as f:
            f.write(blob)
        out.append({
            "name": name, "path": path, "size": len(blob),
            "sha256": hashlib.sha256(blob).hexdigest(),
            "title": title, "performer": performer, "composer": composer, "work": work,
            "secure": SECURE_FORM.get(name),
        })
    return out
