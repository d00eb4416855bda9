# WAV (RIFF) header: how to clock the PCM data and where it starts, from the first bytes only.
import struct


class WavError(ValueError):
    pass


def parse(hdr, n):
    """(rate, bits, channels, data_start, data_size) from hdr[0:n], the first n bytes of a WAV
    file; None while more bytes are needed. WavError says what is wrong with a bad header."""
    if n < 12:
        return None
    if bytes(hdr[0:4]) != b"RIFF" or bytes(hdr[8:12]) != b"WAVE":
        raise WavError("not a WAV file (no RIFF/WAVE header)")
    i = 12
    fmt = None
    while i + 8 <= n:
        cid = bytes(hdr[i:i + 4])
        size = struct.unpack_from("<I", hdr, i + 4)[0]
        if cid == b"fmt ":
            if size < 16:
                raise WavError("fmt chunk of %d bytes" % size)
            if i + 24 > n:
                return None
            tag, ch, rate, _, _, bits = struct.unpack_from("<HHIIHH", hdr, i + 8)
            if tag not in (1, 0xFFFE):
                raise WavError("not PCM (format %d): an I2S DAC plays PCM only" % tag)
            if bits not in (16, 32):
                raise WavError("%d-bit samples (I2S here takes 16 or 32)" % bits)
            if ch not in (1, 2):
                raise WavError("%d channels (1 or 2)" % ch)
            if not 8000 <= rate <= 96000:
                raise WavError("sample rate %d (8000..96000)" % rate)
            fmt = (rate, bits, ch)
        elif cid == b"data":
            if fmt is None:
                raise WavError("data chunk before the fmt chunk")
            return fmt + (i + 8, size)
        i += 8 + size + (size & 1)
    return None
