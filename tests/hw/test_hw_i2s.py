"""The I2S DAC sink against a mock of machine: what the DAC would receive (I2S configuration
from the WAV header, the PCM bytes exactly once), resume after a reset, restart, buttons."""
import os

import pytest
from hwutil import Recorder, stream, wav

META = {"id": 7, "pos": 3, "size": 0, "title": "Tone", "by": "Ensemble", "type": "audio/wav"}


class FakeRTC:
    """ESP32 RTC memory: survives a reset, so one instance plays both sides of it."""

    def __init__(self):
        self.mem = b""

    def memory(self, data=None):
        if data is None:
            return self.mem
        self.mem = bytes(data)


def make(machine, **kw):
    import i2ssink
    sink = i2ssink.I2SSink(sck=26, ws=25, sd=27, **kw)
    rec = Recorder()
    machine.I2S.return_value.write.side_effect = rec
    return sink, rec


def played(rec):
    return b"".join(c[0] for c in rec.calls)


def test_wav_header_sets_the_i2s_clock_and_only_pcm_reaches_the_dac(machine):
    pcm = os.urandom(50000)
    data = wav(pcm, rate=44100, bits=16, channels=2, trailer=b"LIST\x04\x00\x00\x00abcd")
    sink, rec = make(machine)
    stream(sink, META, data)
    machine.Pin.assert_any_call(26)
    machine.Pin.assert_any_call(27)
    I2S = machine.I2S
    I2S.assert_called_once_with(0, sck=machine.Pin.return_value, ws=machine.Pin.return_value,
                                sd=machine.Pin.return_value, mode=I2S.TX, bits=16,
                                format=I2S.STEREO, rate=44100, ibuf=20000)
    assert played(rec) == pcm


def test_mono_32_bit_and_a_header_split_into_tiny_chunks(machine):
    pcm = os.urandom(8000)
    data = wav(pcm, rate=22050, bits=32, channels=1, extra_chunks=b"LIST\x06\x00\x00\x00abcdef")
    sink, rec = make(machine)
    stream(sink, META, data, chunk=7)
    kw = machine.I2S.call_args.kwargs
    assert (kw["rate"], kw["bits"], kw["format"]) == (22050, 32, machine.I2S.MONO)
    assert played(rec) == pcm


def test_same_format_keeps_the_i2s_and_a_new_format_reconfigures_it(machine):
    sink, rec = make(machine)
    stream(sink, META, wav(b"\x01" * 400))
    stream(sink, dict(META, id=8), wav(b"\x02" * 400))
    assert machine.I2S.call_count == 1
    stream(sink, dict(META, id=9), wav(b"\x03" * 400, rate=48000))
    assert machine.I2S.call_count == 2
    machine.I2S.return_value.deinit.assert_called_once_with()
    assert played(rec) == b"\x01" * 400 + b"\x02" * 400 + b"\x03" * 400


@pytest.mark.parametrize("data,why", [
    (b"ID3\x03" + b"\x00" * 600, "not a WAV file"),
    (wav(b"\x00" * 100, bits=8), "8-bit samples"),
    (wav(b"\x00" * 100, channels=6), "6 channels"),
    (wav(b"\x00" * 100, extra_chunks=b"JUNK" + (600).to_bytes(4, "little") + b"\x00" * 600),
     "header longer than 512 bytes"),
])
def test_unplayable_item_is_not_sent_and_says_why(machine, capsys, data, why):
    sink, rec = make(machine)
    stream(sink, META, data, chunk=256)
    assert rec.calls == [] and not machine.I2S.called
    out = capsys.readouterr().out
    assert out.startswith("E item 7 not playable on I2S: ") and why in out


def test_after_a_reset_output_resumes_at_the_marked_byte_on_a_whole_frame(machine):
    import playsink
    import resumemark
    rtc = FakeRTC()
    pcm = bytes(range(256)) * 1000  # 256000 bytes
    data = wav(pcm)
    sink, rec = make(machine, mark=resumemark.Mark(rtc))
    # play 3 full marks' worth, then "reset" (nothing more is written, end is never called)
    import hashlib
    buf = bytearray(4096)
    sink.begin(META, hashlib.sha256(), buf, False)
    sent = 0
    while sent < 3 * playsink.MARK_EVERY + 1000:
        buf[:] = data[sent:sent + 4096]
        sink.write(memoryview(buf))
        sent += 4096
    marked = resumemark.Mark(rtc).held(7, 3)
    assert marked >= 3 * playsink.MARK_EVERY and marked <= sent
    # the device restarts: a fresh sink, the same item again with resume=True
    sink2, rec2 = make(machine, mark=resumemark.Mark(rtc))
    stream(sink2, META, data, resume=True)
    again = played(rec2)
    start = len(data) - len(pcm)  # 44: where the PCM starts
    skip = (marked - start) // 4 * 4  # whole 16-bit stereo frames
    assert again == pcm[skip:]
    assert rtc.mem == b""  # cleared at the end of the item
    # a different item (or not a resume) plays from its start
    sink3, rec3 = make(machine, mark=resumemark.Mark(rtc))
    stream(sink3, dict(META, id=8), data, resume=True)
    assert played(rec3) == pcm


def test_restart_after_a_bad_hash_does_not_play_twice(machine):
    import hashlib
    pcm = os.urandom(20000)
    data = wav(pcm)
    sink, rec = make(machine)
    buf = bytearray(4096)
    sink.begin(META, hashlib.sha256(), buf, False)
    for i in range(0, 12288, 4096):
        buf[:] = data[i:i + 4096]
        sink.write(memoryview(buf))
    sink.restart()  # fetch: the next source starts the item over from byte 0
    for i in range(0, len(data), 4096):
        part = data[i:i + 4096]
        buf[:len(part)] = part
        sink.write(memoryview(buf)[:len(part)])
    sink.end(True)
    assert played(rec) == pcm


def test_next_button_mutes_the_rest_and_pause_waits(machine, mocker):
    import playsink
    sink, rec = make(machine)
    presses = []

    class Buttons:
        def take(self, name):
            return bool(presses) and presses[0] == name and presses.pop(0) == name

    sink.buttons = Buttons()
    sleeps = []
    mocker.patch.object(playsink, "sleep_ms", side_effect=lambda ms: (
        sleeps.append(ms), presses.append("pause") if len(sleeps) == 3 else None))
    pcm = os.urandom(4096 * 4)
    data = wav(pcm)
    import hashlib
    buf = bytearray(4096)
    sink.begin(META, hashlib.sha256(), buf, False)
    for i in range(0, len(data), 4096):
        if i == 4096:
            presses.append("pause")  # waits until pause is pressed again (3rd sleep)
        if i == 3 * 4096:
            presses.append("next")
        part = data[i:i + 4096]
        buf[:len(part)] = part
        sink.write(memoryview(buf)[:len(part)])
    sink.end(True)
    assert sleeps == [50, 50, 50]
    assert played(rec) == (data[:3 * 4096])[44:]
