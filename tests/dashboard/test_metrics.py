"""Prometheus metrics, scraped from the real endpoint of a running meta server (aiohttp on
loopback) and of a file server process, and read with prometheus_client's own parser: what an
operator's Prometheus would see."""
import asyncio
import os

import pytest
from prometheus_client.openmetrics.parser import \
    text_string_to_metric_families as openmetrics_families
from prometheus_client.parser import text_string_to_metric_families

from host_server.app import init_app
from host_server.keys import SOURCE_CHECKS
from hostutil import Server, bearer, login, sql

LOOPBACK = ("127.0.0.0/8", "::1/128")


def samples(text):
    """{(sample name, frozenset of labels): value} of an exposition."""
    return {(s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def value(found, name, **labels):
    return found.get((name, frozenset(labels.items())), 0.0)


async def scrape(client, path="/metrics", **kw):
    resp = await client.get(path, **kw)
    text = await resp.text()
    assert resp.status == 200, text
    assert resp.headers["Content-Type"].startswith("text/plain; version=")
    return samples(text)


@pytest.fixture
async def metered(aiohttp_client, db_path, clock, seeded):
    return await aiohttp_client(init_app(probe_interval=0, db=db_path, clock=clock,
                                         metrics_nets=LOOPBACK))


async def test_requests_are_counted_by_route_template_and_status_with_their_latency(metered):
    token = await login(metered, "dev1")
    for _ in range(3):
        assert (await metered.get("/api/v1/next", headers=bearer(token))).status == 200
    assert (await metered.get("/api/v1/media/999", headers=bearer(token))).status == 404
    assert (await metered.get("/no/such/path/7f3a")).status == 404
    assert (await metered.get("/dashboard/devices", allow_redirects=False)).status == 303
    for method in ("PROPFIND", "MKCOL", "LOCK"):   # methods of no route: one series
        assert (await metered.request(method, "/api/v1/next")).status == 405
    found = await scrape(metered)
    assert value(found, "meta_http_requests_total", method="GET", route="/api/v1/next",
                 status="200") == 3
    assert value(found, "meta_http_requests_total", method="GET", route="/api/v1/media/{id}",
                 status="404") == 1
    assert value(found, "meta_http_requests_total", method="GET", route="(no route)",
                 status="404") == 1
    assert value(found, "meta_http_requests_total", method="GET", route="/dashboard/devices",
                 status="303") == 1
    assert value(found, "meta_http_requests_total", method="POST", route="/api/v1/login",
                 status="200") == 1
    # the path a stranger typed never becomes a label: the series cannot grow without bound
    assert not any("7f3a" in v or "PROPFIND" in v for _, labels in found for _, v in labels)
    assert value(found, "meta_http_requests_total", method="other", route="(no route)",
                 status="405") == 3
    assert value(found, "meta_http_request_duration_seconds_count", method="GET",
                 route="/api/v1/next") == 3
    assert value(found, "meta_http_request_duration_seconds_bucket", method="GET",
                 route="/api/v1/next", le="+Inf") == 3
    assert value(found, "meta_http_response_bytes_total") > 0
    # a Prometheus that asks for OpenMetrics gets it
    resp = await metered.get("/metrics", headers={"Accept": "application/openmetrics-text"})
    assert resp.headers["Content-Type"].startswith("application/openmetrics-text")
    families = {f.name for f in openmetrics_families(await resp.text())}
    assert {"meta_http_requests", "meta_devices_online", "meta_database_errors"} <= families


async def test_devices_online_devices_known_and_checks_in_flight(metered, clock):
    found = await scrape(metered)
    assert value(found, "meta_devices") == 2 and value(found, "meta_devices_online") == 0
    token = await login(metered, "dev1")
    assert (await metered.get("/api/v1/next", headers=bearer(token))).status == 200
    found = await scrape(metered)
    assert value(found, "meta_devices_online") == 1
    assert value(found, "meta_source_checks_in_flight") == 0
    async with metered.server.app[SOURCE_CHECKS].slot(owner=1):   # an owner's check under way
        assert value(await scrape(metered), "meta_source_checks_in_flight") == 1
    assert value(await scrape(metered), "meta_source_checks_in_flight") == 0
    clock.advance(601)   # past the online window
    assert value(await scrape(metered), "meta_devices_online") == 0


async def test_database_errors_are_counted(metered, db_path):
    token = await login(metered, "dev1")
    found = await scrape(metered)
    assert value(found, "meta_database_errors_total", kind="error") == 0
    assert value(found, "meta_database_errors_total", kind="unavailable") == 0
    await asyncio.to_thread(sql, db_path, "DROP TABLE program_items")   # GET /next reads it
    resp = await metered.get("/api/v1/next", headers=bearer(token))
    assert resp.status == 500
    assert (await resp.json()) == {"error": "internal server error"}
    found = await scrape(metered)
    assert value(found, "meta_database_errors_total", kind="error") == 1
    assert value(found, "meta_http_requests_total", method="GET", route="/api/v1/next",
                 status="500") == 1
    assert value(found, "meta_devices") == 2
    # a scrape that meets the error itself still answers, and counts it
    await asyncio.to_thread(sql, db_path, "DROP TABLE device_activity")
    found = await scrape(metered)
    assert value(found, "meta_database_errors_total", kind="error") == 2
    assert value(found, "meta_devices") == 2   # the last value known


async def test_metrics_are_off_by_default_and_only_for_the_networks_named(aiohttp_client, db_path,
                                                                         clock, seeded, client):
    resp = await client.get("/metrics")   # the default settings
    assert resp.status == 404 and "--metrics-net" in (await resp.json())["error"]
    elsewhere = await aiohttp_client(init_app(probe_interval=0, db=db_path, clock=clock,
                                              metrics_nets=("10.0.0.0/8",)))
    resp = await elsewhere.get("/metrics")
    assert resp.status == 403 and "may not read" in (await resp.json())["error"]
    # behind a trusted load balancer, the reader's own address counts, not the balancer's
    proxied = await aiohttp_client(init_app(probe_interval=0, db=db_path, clock=clock,
                                            metrics_nets=LOOPBACK, trusted_proxies=("127.0.0.1",)))
    resp = await proxied.get("/metrics", headers={"X-Forwarded-For": "203.0.113.9"})
    assert resp.status == 403
    await scrape(proxied, headers={"X-Forwarded-For": "127.0.0.1"})
    with pytest.raises(ValueError, match="--metrics-net"):
        init_app(metrics_nets=("not a network",))


def test_the_file_server_counts_requests_and_bytes_served(tmp_path):
    import requests
    root = tmp_path / "files"
    (root / "music").mkdir(parents=True)
    body = os.urandom(5000)
    (root / "music" / "a.wav").write_bytes(body)
    server = Server("host_server.fileserver", "--root", str(root), "--port", "0",
                    "--metrics-net", "127.0.0.0/8")
    try:
        base = f"http://127.0.0.1:{server.port}"
        with requests.Session() as s:
            assert s.get(base + "/music/a.wav").content == body
            assert s.get(base + "/music/a.wav", headers={"Range": "bytes=100-199"}).status_code == 206
            assert s.head(base + "/music/a.wav").status_code == 200
            assert s.get(base + "/music/missing.wav").status_code == 404
            assert s.get(base + "/music/a.wav", headers={"Range": "bytes=9000-"}).status_code == 416
            resp = s.get(base + "/metrics")
        assert resp.status_code == 200 and resp.headers["Content-Type"].startswith("text/plain")
        found = samples(resp.text)
        assert value(found, "fileserver_bytes_served_total") == 5000 + 100
        for method, status, n in (("GET", "200", 1), ("GET", "206", 1), ("HEAD", "200", 1),
                                  ("GET", "404", 1), ("GET", "416", 1)):
            assert value(found, "fileserver_http_requests_total", method=method, status=status) == n
    finally:
        assert server.stop() == 0


async def test_the_file_server_without_metrics_serves_a_file_named_metrics(aiohttp_client,
                                                                         tmp_path):
    from host_server import fileserver
    (tmp_path / "metrics").write_bytes(b"an owner's file")
    plain = await aiohttp_client(fileserver.init_app(str(tmp_path)))
    assert await (await plain.get("/metrics")).read() == b"an owner's file"
    guarded = await aiohttp_client(fileserver.init_app(str(tmp_path), ("10.0.0.0/8",)))
    assert (await guarded.get("/metrics")).status == 403
