"""bench/metabytes.py: the counting proxy in front of the meta server, and the quick run with the
real firmware (micropython and CPython). What was measured, not how fast."""
import asyncio

from bench import metabytes
from bench.metabytes import CountingProxy, Messages


def test_messages_are_framed_by_content_length_across_pieces():
    req = (b"POST /api/v1/reports HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello"
           b"GET /api/v1/horizon?k=16 HTTP/1.1\r\nHost: h\r\n\r\n")
    m = Messages(False)
    done = []
    for i in range(0, len(req), 7):   # in pieces that cut the head and the body
        done += m.feed(req[i:i + 7])
    assert [first.split(" ")[:2] for first, _ in done] == [
        ["POST", "/api/v1/reports"], ["GET", "/api/v1/horizon?k=16"]]
    assert sum(n for _, n in done) == len(req)
    # an answer's 204 has no body, whatever its Content-Length says
    ans = (b"HTTP/1.1 204 No Content\r\nContent-Length: 3\r\n\r\n"
           b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}")
    done = Messages(True).feed(ans)
    assert [n for _, n in done] == [ans.index(b"HTTP/1.1 200"), len(ans) - ans.index(b"HTTP/1.1 200")]


async def test_the_proxy_forwards_both_ways_and_counts_every_byte_and_request():
    async def answer(reader, writer):
        while True:
            try:
                head = await reader.readuntil(b"\r\n\r\n")
            except asyncio.IncompleteReadError:
                break
            length = 0
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
            body = await reader.readexactly(length)
            out = b'{"got":%d}' % len(body)
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(out), out))
            await writer.drain()
        writer.close()

    server = await asyncio.start_server(answer, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    proxy = await CountingProxy("http://127.0.0.1:%d" % port).start()
    reader, writer = await asyncio.open_connection(*proxy.url[7:].split(":"))
    sent = got = 0
    for method, path, body in (("POST", "/api/v1/login/challenge", b'{"device":"d"}'),
                               ("GET", "/api/v1/horizon?k=16", b""),
                               ("GET", "/api/v1/horizon?k=16", b"")):
        req = b"%s %s HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n%s" % (
            method.encode(), path.encode(), len(body), body)
        writer.write(req)
        sent += len(req)
        head = await reader.readuntil(b"\r\n\r\n")
        length = int(head.split(b"Content-Length: ")[1].split(b"\r\n")[0])
        got += len(head) + len(await reader.readexactly(length))
    writer.close()
    await writer.wait_closed()
    for _ in range(100):   # the proxy sees the close, then counts nothing more
        if not proxy.open:
            break
        await asyncio.sleep(0.01)
    await proxy.stop()
    server.close()
    await server.wait_closed()
    assert (proxy.up, proxy.down, proxy.total) == (sent, got, sent + got)
    assert proxy.requests == {"POST /api/v1/login/challenge": 1, "GET /api/v1/horizon": 2}
    assert sum(proxy.bytes.values()) == sent + got


def test_the_quick_run_measures_the_real_firmware_under_both_interpreters(tmp_path):
    (sec,) = metabytes.run(str(tmp_path), quick=True)
    text = sec.markdown()
    for interpreter, label in metabytes.FW_INTERPRETERS:
        fw = sec.figures["fw_" + interpreter]
        assert fw["played"] == fw["items"] == 4 and fw["media"] == 4 * 64 * 1024, fw
        # every byte through the proxy is in a request or its answer: the framing held
        assert fw["meta"] == fw["up"] + fw["down"] == sum(fw["request_bytes"].values()) > 0
        req = fw["requests"]
        assert req["POST /api/v1/login/challenge"] == req["POST /api/v1/login"] == 1
        assert fw["logins"] == 1 and 1 <= req["GET /api/v1/horizon"] == fw["horizons"]
        assert req["POST /api/v1/reports"] >= 1 and fw["n_requests"] == sum(req.values())
        assert fw["store"]["queued"] == 0 and fw["store"]["lost"] == 0
        assert fw["store"]["writes"] > 0 and fw["hours"] > 0
        assert 0 < fw["ratio"] == fw["meta"] / fw["media"]
        assert "real firmware, %s" % label in text
    assert text.count("**one login per run included**") == 2
    # one target (quick: not measured), the firmware's figures in its detail
    assert len(sec.targets) == 1 and sec.targets[0][1] is None
    assert "the real firmware" in sec.targets[0][2]
