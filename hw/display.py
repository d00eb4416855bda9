# SSD1306 128x64 OLED over I2C: the item's title and performer, and a status line ("paused").
# One framebuffer (1 KiB) allocated once; a write sends the control byte 0x40 and the buffer.
from compat import const

WIDTH = const(128)
HEIGHT = const(64)
COLS = const(16)  # 8-pixel font
INIT = (0xAE, 0x20, 0x00, 0x40, 0xA1, 0xA8, 0x3F, 0xC8, 0xD3, 0x00, 0xDA, 0x12, 0xD5, 0x80,
        0xD9, 0xF1, 0xDB, 0x30, 0x81, 0xFF, 0xA4, 0xA6, 0x8D, 0x14, 0xAF)


class Display:
    def __init__(self, i2c, addr=0x3C):
        import framebuf
        self.i2c = i2c
        self.addr = addr
        self.buf = bytearray(1 + WIDTH * HEIGHT // 8)
        self.buf[0] = 0x40  # data follows
        self.fb = framebuf.FrameBuffer(memoryview(self.buf)[1:], WIDTH, HEIGHT, framebuf.MONO_VLSB)
        self.cmdbuf = bytearray(2)
        self.title = ""
        self.by = ""
        for c in INIT:
            self.command(c)

    def command(self, c):
        self.cmdbuf[0] = 0x80  # one command byte follows
        self.cmdbuf[1] = c
        self.i2c.writeto(self.addr, self.cmdbuf)

    def show(self, title, by):
        self.title = title
        self.by = by
        self.status("")

    def status(self, text):
        fb = self.fb
        fb.fill(0)
        t = self.title
        fb.text(t[:COLS], 0, 0, 1)
        fb.text(t[COLS:2 * COLS], 0, 10, 1)
        fb.text(self.by[:COLS], 0, 26, 1)
        fb.text(text[:COLS], 0, 54, 1)
        for c in (0x21, 0, WIDTH - 1, 0x22, 0, HEIGHT // 8 - 1):  # the whole screen
            self.command(c)
        self.i2c.writeto(self.addr, self.buf)
