# Live mounts' ICY metadata (firmware/icy.py) against exact bytes: the audio comes out without
# the blocks, titles are parsed and bounded, hostile blocks are errors or cut, never a crash.
# Run by pytest (CPython) and by runner.py (micropython).
import httpclient
import icy
from fakesock import FakeSock, Opener, response
from httpconn import BadResponse, Dropped, Status

H = ("127.0.0.1", 8201)
URL = "http://127.0.0.1:8201/live"


def block(text):
    """One metadata block: the length byte, then text NUL-padded to a multiple of 16."""
    raw = text if isinstance(text, bytes) else text.encode()
    n = (len(raw) + 15) // 16
    return bytes([n]) + raw + bytes(n * 16 - len(raw))


def mount(audio, metaint, blocks, step=0, status_line=None):
    """A mount's answer: audio split every metaint bytes by the next of blocks (b"\\x00": none)."""
    body = bytearray()
    i = 0
    k = 0
    while i < len(audio):
        body += audio[i:i + metaint]
        i += metaint
        if i <= len(audio):
            body += blocks[k] if k < len(blocks) else b"\x00"
            k += 1
    data = response(200, bytes(body), ["Content-Type: audio/mpeg", "icy-metaint: %d" % metaint])
    if status_line is not None:
        data = status_line + data[data.find(b"\r\n"):]
    return FakeSock(data, step=step)


def play(sock, bufsize=100):
    titles = []
    c = httpclient.HTTPClient(1.0, 1.0, opener=Opener({H: [sock]}))
    live = icy.Live(titles.append)
    stream, skip = live.open(c, URL, 12345)   # have is ignored: a live stream starts where it is
    assert skip == 0 and stream.status == 200
    buf = bytearray(bufsize)
    out = bytearray()
    while True:
        n = stream.readinto(buf, len(buf))
        if n == 0:
            break
        out.extend(buf[:n])
    return bytes(out), titles, sock


def raises(exc, fn, *args):
    try:
        fn(*args)
    except exc as e:
        return e
    raise AssertionError("%s not raised" % exc.__name__)


AUDIO = bytes(range(256)) * 8   # small: the case runs in a 64K heap beside the firmware


def test_the_audio_comes_out_without_the_blocks_and_titles_are_told_once_each():
    blocks = [block("StreamTitle='One';StreamUrl='';"), b"\x00",
              block("StreamTitle='One';"), block("StreamTitle='Two - Song';")]
    out, titles, sock = play(mount(AUDIO, 400, blocks, step=133))
    assert out == AUDIO
    assert titles == ["One", "Two - Song"]
    assert b"Icy-MetaData: 1\r\n" in bytes(sock.sent)


def test_a_mount_without_metadata_is_passed_through():
    data = response(200, AUDIO, ["Content-Type: audio/mpeg"])
    out, titles, _ = play(FakeSock(data, step=97))
    assert out == AUDIO and titles == []


def test_a_shoutcast_status_line_is_taken():
    out, titles, _ = play(mount(AUDIO, 1000, [block("StreamTitle='Old school';")],
                                status_line=b"ICY 200 OK"))
    assert out == AUDIO and titles == ["Old school"]


def test_a_huge_block_is_read_past_and_its_title_cut():
    title = "x" * 2000
    out, titles, _ = play(mount(AUDIO, 1500, [block("StreamTitle='%s';" % title)], step=251))
    assert out == AUDIO
    assert titles == ["x" * icy.TITLE_CHARS]


def test_control_characters_and_bad_utf8_do_not_reach_the_console():
    out, titles, _ = play(mount(AUDIO, 1000, [block(b"StreamTitle='a\x1b[2Jb\xff\xfe';")]))
    assert out == AUDIO
    (t,) = titles
    assert "\x1b" not in t and t.startswith("a") and len(t) <= icy.TITLE_CHARS


def test_a_stream_that_ends_inside_a_block_has_dropped():
    sock = mount(AUDIO[:1000], 1000, [block("StreamTitle='cut';")])
    sock.f = type(sock.f)(sock.f.getvalue()[:-5])   # the block's last bytes never come
    e = raises(Dropped, play, sock)
    assert e is not None


def test_a_bad_metaint_is_refused_and_an_error_status_raised():
    c = httpclient.HTTPClient(1.0, 1.0, opener=Opener({H: [
        FakeSock(response(200, b"", ["icy-metaint: -5", "Content-Length: 0"])),
        FakeSock(response(503, b"", ["Content-Length: 0"], "Unavailable"))]}))
    live = icy.Live()
    raises(BadResponse, live.open, c, URL, 0)
    e = raises(Status, live.open, c, URL, 0)
    assert e.status == 503


def test_title_of_parses_and_bounds():
    assert icy.title_of(b"StreamTitle='A';") == "A"
    assert icy.title_of(b"StreamUrl='x';") is None
    assert icy.title_of(b"StreamTitle='no end\x00\x00") == "no end"
    assert icy.title_of(b"StreamTitle='';") == ""
