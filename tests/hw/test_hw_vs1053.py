"""The VS1053 sink against a mock of machine (SPI bus, pins): the SCI command sequence and the
SDI data bytes a real decoder would receive, framed by its chip selects and paced by DREQ."""
import os

import pytest
from hwutil import stream

SCI_MODE, SCI_CLOCKF, SCI_WRAM, SCI_WRAMADDR, SCI_VOL = 0x00, 0x03, 0x06, 0x07, 0x0B
META = {"id": 4, "pos": 0, "title": "Radio", "by": "Station", "type": "audio/mpeg"}


class Pin:
    OUT, IN = 1, 0

    def __init__(self, n, mode=None, value=None):
        self.n = n
        self.v = value

    def __call__(self, v=None):
        if v is None:
            return self.v
        self.v = v


class FakeDecoder:
    """What the chip sees on the bus: SCI frames while xCS is low, SDI bytes while xDCS is low.
    DREQ goes low every `busy_every` checks, as a full FIFO does."""

    def __init__(self, machine, end_fill=0x5A, cancel_clears_after=3):
        self.pins = {}
        self.sci = []             # ("w", reg, value) / ("r", reg)
        self.sdi = bytearray()
        self.sdi_writes = []      # length of each SDI write
        self.regs = {SCI_MODE: 0x0800}
        self.end_fill = end_fill
        self.cancel_left = cancel_clears_after
        self.dreq_checks = 0
        self.wramaddr = 0
        machine.Pin.side_effect = self.pin
        machine.Pin.OUT, machine.Pin.IN = Pin.OUT, Pin.IN
        spi = machine.SPI.return_value
        spi.write.side_effect = self.write
        spi.write_readinto.side_effect = self.write_readinto

    def pin(self, n, *a, **kw):
        p = Pin(n, *a, **kw)
        if n == 4:  # DREQ
            p.__call__ = None
            p = _Dreq(self)
        self.pins[n] = p
        return p

    def write(self, data):
        data = bytes(data)
        if self.pins[5].v == 0:  # xCS
            assert self.pins[16].v == 1, "xCS and xDCS low together"
            assert data[0] == 0x02 and len(data) == 4
            reg, val = data[1], (data[2] << 8) | data[3]
            self.sci.append(("w", reg, val))
            if reg == SCI_WRAMADDR:
                self.wramaddr = val
            self.regs[reg] = val
        elif self.pins[16].v == 0:  # xDCS
            assert len(data) <= 32, "more than DREQ allows"
            self.sdi += data
            self.sdi_writes.append(len(data))
            if self.regs[SCI_MODE] & 0x0008:
                self.cancel_left -= 1
                if self.cancel_left <= 0:
                    self.regs[SCI_MODE] &= ~0x0008
        else:
            raise AssertionError("SPI write with no chip selected")

    def write_readinto(self, out, into):
        assert self.pins[5].v == 0 and out[0] == 0x03
        reg = out[1]
        self.sci.append(("r", reg))
        val = self.end_fill if (reg == SCI_WRAM and self.wramaddr == 0x1E06) else self.regs.get(reg, 0)
        into[2], into[3] = val >> 8, val & 0xFF


class _Dreq:
    def __init__(self, dec):
        self.dec = dec
        self.v = 1

    def __call__(self, v=None):
        self.dec.dreq_checks += 1
        return 0 if self.dec.dreq_checks % 7 == 0 else 1


@pytest.fixture
def decoder(machine, mocker):
    import vs1053
    mocker.patch.object(vs1053, "sleep_ms")
    return FakeDecoder(machine)


def make(**kw):
    import vs1053
    return vs1053.VS1053Sink(sck=18, mosi=23, miso=19, xcs=5, xdcs=16, dreq=4, xreset=17, **kw)


def test_init_resets_and_sets_mode_clock_volume(machine, decoder):
    make(volume=0x28)
    assert decoder.sci == [("w", SCI_MODE, 0x0804), ("w", SCI_CLOCKF, 0x6000), ("w", SCI_VOL, 0x2828)]
    assert decoder.pins[17].v == 1  # out of hardware reset
    spi = machine.SPI
    assert spi.call_args.args == (2,) and spi.call_args.kwargs["baudrate"] == 1000000
    spi.return_value.init.assert_called_once_with(baudrate=4000000)


def test_item_bytes_reach_sdi_in_order_in_32_byte_blocks_then_end_fill_and_cancel(decoder):
    sink = make()
    decoder.sci.clear()
    mp3 = os.urandom(4096 * 3 + 1000)
    stream(sink, META, mp3)
    n = len(mp3)
    assert bytes(decoder.sdi[:n]) == mp3
    tail = bytes(decoder.sdi[n:])
    assert tail[:2052] == b"\x5a" * 2052  # end-fill byte read from WRAM 0x1E06
    assert all(w <= 32 for w in decoder.sdi_writes)
    assert decoder.sci[:3] == [("w", SCI_WRAMADDR, 0x1E06), ("r", SCI_WRAM), ("w", SCI_MODE, 0x0808)]
    assert decoder.regs[SCI_MODE] & 0x0008 == 0  # the cancel completed, no reset needed
    assert ("w", SCI_CLOCKF, 0x6000) not in decoder.sci


def test_cancel_that_never_clears_falls_back_to_a_software_reset(decoder):
    decoder.cancel_left = 10 ** 9
    sink = make()
    decoder.sci.clear()
    stream(sink, META, os.urandom(100))
    assert ("w", SCI_MODE, 0x0804) in decoder.sci and ("w", SCI_CLOCKF, 0x6000) in decoder.sci


def test_dreq_stuck_low_is_a_clear_error(machine, mocker):
    import vs1053
    mocker.patch.object(vs1053, "sleep_ms")
    machine.Pin.return_value.return_value = 0  # every pin reads 0: DREQ never rises
    with pytest.raises(vs1053.VS1053Error, match="DREQ stayed low"):
        make()


def test_config_picks_the_board_and_rejects_bad_pins(decoder):
    import boardsinks
    import vs1053
    s = boardsinks.make_sink({"type": "board", "board": "esp32-vs1053", "buttons": False})
    assert isinstance(s, vs1053.VS1053Sink)
    with pytest.raises(ValueError, match="sink.dreq must be a pin number"):
        boardsinks.make_sink({"type": "vs1053", "sck": 18, "mosi": 23, "miso": 19, "xcs": 5,
                              "xdcs": 16})
    with pytest.raises(ValueError, match="sink.volume"):
        boardsinks.make_sink({"type": "board", "board": "esp32-vs1053", "volume": 300,
                               "buttons": False})
