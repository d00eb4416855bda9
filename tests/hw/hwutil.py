"""Helpers of the board tests (a unique module name: every test folder has a conftest)."""
import hashlib
import struct


class Recorder:
    """What a part received: every call's bytes copied at call time (the firmware reuses its one
    buffer, so a memoryview seen later would show later bytes)."""

    def __init__(self):
        self.calls = []

    def __call__(self, *args):
        self.calls.append(tuple(bytes(a) if isinstance(a, (bytes, bytearray, memoryview)) else a
                                for a in args))


def wav(pcm, rate=44100, bits=16, channels=2, extra_chunks=b"", trailer=b""):
    """A WAV file: RIFF header, fmt, optional chunks before data, data, optional chunks after."""
    fmt = struct.pack("<HHIIHH", 1, channels, rate, rate * channels * bits // 8,
                      channels * bits // 8, bits)
    body = (b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt + extra_chunks
            + b"data" + struct.pack("<I", len(pcm)) + pcm + trailer)
    return b"RIFF" + struct.pack("<I", len(body)) + body


def stream(sink, meta, data, chunk=4096, buf=None, resume=False):
    """Feed data through a sink as firmware/fetch.py does: one reused buffer, memoryview chunks."""
    buf = buf or bytearray(chunk)
    mv = memoryview(buf)
    sink.begin(meta, hashlib.sha256(), buf, resume)
    for i in range(0, len(data), chunk):
        part = data[i:i + chunk]
        buf[:len(part)] = part
        sink.write(mv if len(part) == len(buf) else mv[:len(part)])
    sink.end(True)
