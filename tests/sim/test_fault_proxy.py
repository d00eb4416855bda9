"""The simulator's fault proxy does to a response exactly what each fault says."""
import asyncio

import pytest

from simulator.faults import Fault, FaultProxy

BODY = bytes(range(256)) * 64  # 16 KiB


async def upstream_server():
    async def handle(reader, writer):
        try:
            while True:
                line = await reader.readline()
                if not line:
                    break
                while (await reader.readline()) not in (b"\r\n", b""):
                    pass
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(BODY) + BODY)
                await writer.drain()
        except ConnectionError:
            pass
        finally:
            writer.close()
    srv = await asyncio.start_server(handle, "127.0.0.1", 0)
    return srv, srv.sockets[0].getsockname()[1]


async def get(port, path="/f.bin", timeout=2.0):
    """Returns (body bytes received, how it ended: 'complete' | 'eof' | 'timeout')."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"GET %s HTTP/1.1\r\nHost: x\r\n\r\n" % path.encode())
    await writer.drain()
    data = b""
    how = "eof"
    try:
        while True:
            chunk = await asyncio.wait_for(reader.read(65536), timeout)
            if not chunk:
                break
            data += chunk
            if data.endswith(BODY[-16:]) and len(data.split(b"\r\n\r\n", 1)[-1]) == len(BODY):
                how = "complete"
                break
    except asyncio.TimeoutError:
        how = "timeout"
    except ConnectionError:
        how = "eof"
    writer.close()
    return data.split(b"\r\n\r\n", 1)[1] if b"\r\n\r\n" in data else b"", how


@pytest.fixture
async def upstream():
    srv, port = await upstream_server()
    yield port
    srv.close()
    await srv.wait_closed()


async def proxy_with(port, *faults):
    return await FaultProxy(("127.0.0.1", port), faults).start()


async def test_without_faults_bytes_pass_unchanged(upstream):
    p = await proxy_with(upstream)
    body, how = await get(p.port)
    assert (body, how) == (BODY, "complete")
    await p.stop()


async def test_drop_ends_the_body_at_the_byte_and_then_refuses(upstream):
    p = await proxy_with(upstream, Fault("drop", "/f.bin", at=5000))
    body, how = await get(p.port)
    assert how == "eof" and body == BODY[:5000]
    with pytest.raises(OSError):
        await asyncio.open_connection("127.0.0.1", p.port)
    await p.stop()


async def test_cut_closes_one_connection_and_the_server_stays_up(upstream):
    p = await proxy_with(upstream, Fault("cut", at=100))
    assert await get(p.port) == (BODY[:100], "eof")
    assert await get(p.port) == (BODY, "complete")
    await p.stop()


async def test_stall_goes_silent_at_the_byte(upstream):
    p = await proxy_with(upstream, Fault("stall", at=7000))
    body, how = await get(p.port, timeout=0.5)
    assert how == "timeout" and body == BODY[:7000]
    await p.stop()


async def test_corrupt_flips_exactly_one_body_byte(upstream):
    p = await proxy_with(upstream, Fault("corrupt", at=1234))
    body, how = await get(p.port)
    assert how == "complete" and len(body) == len(BODY)
    diff = [i for i in range(len(BODY)) if body[i] != BODY[i]]
    assert diff == [1234] and body[1234] == BODY[1234] ^ 0xFF
    await p.stop()


async def test_fault_on_another_path_leaves_this_one_alone(upstream):
    p = await proxy_with(upstream, Fault("drop", "/other.bin", at=10))
    assert await get(p.port, "/f.bin") == (BODY, "complete")
    await p.stop()


def test_unknown_fault_kind_is_refused_by_name():
    with pytest.raises(ValueError, match="unknown fault kind 'melt'"):
        Fault("melt")


async def test_proxy_records_each_request_path_and_range(upstream):
    p = await proxy_with(upstream)
    reader, writer = await asyncio.open_connection("127.0.0.1", p.port)
    writer.write(b"GET /a.wav HTTP/1.1\r\nHost: x\r\nRange: bytes=100-\r\n\r\n")
    await writer.drain()
    await reader.readexactly(len(b"HTTP/1.1 200 OK\r\nContent-Length: 16384\r\n\r\n") + len(BODY))
    writer.close()
    assert p.requests == [{"path": "/a.wav", "range": "bytes=100-"}]
    await p.stop()
