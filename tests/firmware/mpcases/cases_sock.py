# The connection layer over real loopback sockets, in one process (both interpreters):
# refused, connect timeout, read timeout, and no blocking for more than the server sent.

import httpclient
import httpconn
from compat import ticks_diff, ticks_ms
from loopback import listener


def _free_port():
    s, port = listener()
    s.close()
    return port


def _raises(exc, fn, *args):
    try:
        fn(*args)
    except exc as e:
        return e
    raise AssertionError("%s not raised" % exc.__name__)


def test_connect_to_a_closed_port_is_refused():
    port = _free_port()
    _raises(httpconn.Refused, httpconn.connect, "127.0.0.1", port, 1000)


def test_connect_with_no_answer_times_out():
    lst, port = listener(0)
    held = []
    try:
        t0 = ticks_ms()
        for _ in range(8):  # fill the accept queue until SYNs go unanswered
            try:
                held.append(httpconn.connect("127.0.0.1", port, 300))
            except httpconn.Timeout:
                break
        else:
            raise AssertionError("connect never timed out")
        assert ticks_diff(ticks_ms(), t0) < 300 * 8
    finally:
        for s in held:
            s.close()
        lst.close()


def _pair():
    lst, port = listener()
    cli = httpconn.connect("127.0.0.1", port, 1000)
    srv, _ = lst.accept()
    lst.close()
    return cli, srv


def test_body_read_returns_what_was_sent_without_waiting_for_more():
    cli, srv = _pair()
    try:
        srv.send(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello")
        conn = httpconn.Conn(cli, "127.0.0.1", 0, 2000)
        client = httpclient.HTTPClient(1.0, 2.0)
        resp = client._head(conn, "GET")
        buf = bytearray(4096)
        t0 = ticks_ms()
        n = resp.readinto(buf)
        assert n == 5 and bytes(buf[:5]) == b"hello"
        assert ticks_diff(ticks_ms(), t0) < 500  # a blocking MicroPython readinto would wait 2 s
        assert client.idle is conn  # body complete: kept for the next request
    finally:
        cli.close()
        srv.close()


def test_stalled_body_times_out_after_the_read_timeout():
    cli, srv = _pair()
    try:
        srv.send(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nabc")
        conn = httpconn.Conn(cli, "127.0.0.1", 0, 300)
        resp = httpclient.HTTPClient(1.0, 0.3)._head(conn, "GET")
        buf = bytearray(64)
        assert resp.readinto(buf) == 3
        t0 = ticks_ms()
        _raises(httpconn.Timeout, resp.readinto, buf)
        waited = ticks_diff(ticks_ms(), t0)
        assert 250 <= waited < 1500, waited
    finally:
        cli.close()
        srv.close()
