# VS1053 decoder sink over SPI (MP3, AAC, OGG, WAV as most ESP32 internet radios do): control
# registers through SCI (xCS), audio bytes through SDI (xDCS) in 32-byte blocks, each sent only
# while DREQ is high (the decoder's FIFO then has room for at least 32 bytes). Datasheet v1.22:
# 7.4 SPI, 8.7 registers, 10.5 "Finishing/cancelling playback".
from compat import const, sleep_ms
from playsink import PlaySink

SCI_WRITE = const(0x02)
SCI_READ = const(0x03)
SCI_MODE = const(0x00)
SCI_CLOCKF = const(0x03)
SCI_WRAM = const(0x06)
SCI_WRAMADDR = const(0x07)
SCI_VOL = const(0x0B)
SM_RESET = const(0x0004)
SM_CANCEL = const(0x0008)
SM_SDINEW = const(0x0800)
CLOCKF_3_5X = const(0x6000)  # SC_MULT 3.5x: the internal clock decoding needs
END_FILL_ADDR = const(0x1E06)
BLOCK = const(32)
DREQ_WAIT_MS = const(1000)  # DREQ low this long: the decoder is stuck


class VS1053Error(OSError):
    pass


class VS1053Sink(PlaySink):
    def __init__(self, sck, mosi, miso, xcs, xdcs, dreq, xreset=None, spi=2, volume=0x20,
                 mark=None, buttons=None, display=None):
        import machine
        PlaySink.__init__(self, mark, buttons, display)
        Pin = machine.Pin
        self.spi = machine.SPI(spi, baudrate=1000000, sck=Pin(sck), mosi=Pin(mosi), miso=Pin(miso))
        self.xcs = Pin(xcs, Pin.OUT, value=1)
        self.xdcs = Pin(xdcs, Pin.OUT, value=1)
        self.dreq = Pin(dreq, Pin.IN)
        self.xreset = Pin(xreset, Pin.OUT, value=1) if xreset is not None else None
        self.cmd = bytearray(4)
        self.fill = bytearray(BLOCK)
        self.blocks = None  # 32-byte views of the stream buffer, made once
        self.blen = 0
        self.volume = volume
        self.reset()

    # SCI: control registers
    def write_reg(self, reg, value):
        self._wait()
        c = self.cmd
        c[0], c[1], c[2], c[3] = SCI_WRITE, reg, value >> 8, value & 0xFF
        self.xcs(0)
        self.spi.write(c)
        self.xcs(1)

    def read_reg(self, reg):
        self._wait()
        c = self.cmd
        c[0], c[1], c[2], c[3] = SCI_READ, reg, 0xFF, 0xFF
        self.xcs(0)
        self.spi.write_readinto(c, c)
        self.xcs(1)
        return (c[2] << 8) | c[3]

    def _wait(self):
        n = 0
        while not self.dreq():
            n += 1
            if n > DREQ_WAIT_MS:
                raise VS1053Error("VS1053: DREQ stayed low")
            sleep_ms(1)

    def reset(self):
        if self.xreset is not None:
            self.xreset(0)
            sleep_ms(2)
            self.xreset(1)
            sleep_ms(2)
        self.write_reg(SCI_MODE, SM_SDINEW | SM_RESET)
        self.write_reg(SCI_CLOCKF, CLOCKF_3_5X)
        self.spi.init(baudrate=4000000)  # SCI reads allow CLKI/7 after CLOCKF is set
        self.write_reg(SCI_VOL, (self.volume << 8) | self.volume)

    # SDI: audio bytes
    def _send(self, block):
        self._wait()
        self.xdcs(0)
        self.spi.write(block)
        self.xdcs(1)

    def start(self, meta, buf):
        if buf is not None and len(buf) != self.blen:
            mv = memoryview(buf)
            self.blocks = tuple(mv[i:i + BLOCK] for i in range(0, len(buf) - BLOCK + 1, BLOCK))
            self.blen = len(buf)
        if self.started and self.pos == 0 and self.skip_to:
            self._cancel()  # a restart: drop what the decoder holds of the failed attempt

    def out(self, mv, at):
        v = self.audible(mv, at, 0, 1 << 30)
        if v is None:
            return
        n = len(v)
        if n == self.blen and self.blocks is not None and n % BLOCK == 0:
            for b in self.blocks:  # the stream buffer, whole: its views, no allocation
                self._send(b)
            return
        i = 0
        while i < n:
            self._send(v[i:i + BLOCK])
            i += BLOCK

    def stop(self, ok):
        # 10.5.1: 2052 end-fill bytes flush the last frame, then cancel and fill until it clears
        self.write_reg(SCI_WRAMADDR, END_FILL_ADDR)
        fill = self.read_reg(SCI_WRAM) & 0xFF
        f = self.fill
        for i in range(BLOCK):
            f[i] = fill
        for _ in range(2052 // BLOCK):
            self._send(f)
        self._send(memoryview(f)[:2052 % BLOCK])
        self._cancel()

    def _cancel(self):
        self.write_reg(SCI_MODE, SM_SDINEW | SM_CANCEL)
        for _ in range(2048 // BLOCK):
            self._send(self.fill)
            if not self.read_reg(SCI_MODE) & SM_CANCEL:
                return
        self.reset()  # 10.5.2: SM_CANCEL did not clear: software reset
