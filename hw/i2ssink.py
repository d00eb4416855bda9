# I2S DAC sink (MAX98357A, PCM5102; ESP32 and rp2): the WAV header of each item sets the I2S
# clock (rate, bits, mono/stereo), then the PCM data goes to machine.I2S.write, which blocks
# while the DMA buffers are full: the DAC paces the stream.
import wavhdr
from devlog import log
from playsink import PlaySink

HEADER_MAX = 512  # a WAV header (fmt, LIST, ... chunks before data) must fit in this


class I2SSink(PlaySink):
    def __init__(self, sck, ws, sd, id=0, ibuf=20000, mark=None, buttons=None, display=None):
        import machine
        PlaySink.__init__(self, mark, buttons, display)
        self.machine = machine
        self.id = id
        self.ibuf = ibuf
        self.pins = (machine.Pin(sck), machine.Pin(ws), machine.Pin(sd))
        self.hdr = bytearray(HEADER_MAX)
        self.got = 0
        self.i2s = None
        self.fmt = None
        self.lo = self.hi = 0

    def start(self, meta, buf):
        self.got = 0
        self.lo = self.hi = -1  # data range unknown until the header is in

    def out(self, mv, at):
        if self.lo < 0:
            if not self._header(mv, at):
                return
        v = self.audible(mv, at, self.lo, self.hi)
        i2s = self.i2s
        if v is not None and i2s is not None:
            i2s.write(v)

    def _header(self, mv, at):
        n = len(self.hdr) - at
        if n > 0:
            if n > len(mv):
                n = len(mv)
            self.hdr[at:at + n] = mv[:n]
            self.got = at + n
        try:
            f = wavhdr.parse(self.hdr, self.got)
            if f is None:
                if self.got < len(self.hdr):
                    return False
                raise wavhdr.WavError("header longer than %d bytes" % len(self.hdr))
        except wavhdr.WavError as e:
            # the item is still fetched and checked, only not played
            log("E", "item %s not playable on I2S: %s" % (self.meta["id"], e))
            self.muted = True
            return False
        rate, bits, ch, start, size = f
        self._configure(rate, bits, ch)
        frame = ch * bits // 8
        self.lo = start
        self.hi = start + size - size % frame
        if self.skip_to > start:  # resume on a whole frame
            self.skip_to = start + (self.skip_to - start) // frame * frame
        return True

    def _configure(self, rate, bits, ch):
        if self.fmt == (rate, bits, ch):
            return
        if self.i2s is not None:
            self.i2s.deinit()
            self.i2s = None
        I2S = self.machine.I2S
        sck, ws, sd = self.pins
        self.i2s = I2S(self.id, sck=sck, ws=ws, sd=sd, mode=I2S.TX, bits=bits,
                       format=I2S.STEREO if ch == 2 else I2S.MONO, rate=rate, ibuf=self.ibuf)
        self.fmt = (rate, bits, ch)

    def close(self):
        if self.i2s is not None:
            self.i2s.deinit()
            self.i2s = None
            self.fmt = None
