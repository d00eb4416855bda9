"""Each benchmark module runs in its quick mode, so the benchmark code cannot rot. The figures
of a quick run mean nothing, so nothing here is timed: the assertions are about what was
measured (bytes verified, failures seen as the right kind, answers 2xx), not how fast."""
import math

from bench import failover, fileserver, memory, metaserver, spread, streaming
from bench.__main__ import main as bench_main


def _positive(x):
    return isinstance(x, float) and x > 0 and not math.isinf(x) and not math.isnan(x)


def test_streaming_measures_every_way_with_verified_bytes(tmp_path):
    plain, secure = streaming.run(str(tmp_path), quick=True)
    for key in ("client_mb_s", "bare_mb_s", "requests_mb_s", "curl_mb_s", "bare_aes_mb_s"):
        assert _positive(plain.figures[key]), key
    assert [r[0] for r in plain.rows][:3] == [label for _, label in streaming.WAYS]
    assert len(plain.targets) == 2 and all(t[1] in (True, False) for t in plain.targets)
    assert "project client: firmware fetch + secure.Decryptor" in secure.markdown()


def test_memory_finds_a_heap_and_counts_allocations_per_chunk(tmp_path):
    (sec,) = memory.run(str(tmp_path), quick=True)
    # quick mode tries only 96K, which the whole job must fit, from source and as .mpy
    assert sec.figures["heap_source_k"] == 96 and sec.figures["heap_mpy_k"] == 96
    # and from the ROMFS image, the whole job and the board job (quick: 96K only)
    assert sec.figures["heap_romfs_k"] == 96 and sec.figures["heap_board_romfs_k"] == 96
    assert sec.figures["resident_romfs"] < sec.figures["resident_mpy"]
    assert sec.figures["alloc_per_chunk"] == 0
    assert "| player |" in sec.markdown()


def test_failover_sees_each_failure_as_its_kind(tmp_path):
    (sec,) = failover.run(str(tmp_path), quick=True)
    saw = {r[0]: r[1] for r in sec.rows}
    assert saw == {"refused (bound port, not listening)": "refused", "404": "404",
                   "dropped mid-stream": "dropped at 131072", "stalled mid-stream": "timeout"}
    # a stall cannot be detected before the read timeout has passed
    assert sec.figures["stall"][0] >= failover.READ_TIMEOUT * 1000
    for kind in ("refused", "404", "drop"):
        med, p99 = sec.figures[kind]
        assert 0 < med <= p99


def test_metaserver_compares_next_and_login_with_hello_world_and_nginx(tmp_path):
    sec, model = metaserver.run(str(tmp_path), quick=True)
    rps = sec.figures["rps"]
    assert set(rps) == {"next", "next_pg", "next_pg_db", "challenge", "login", "report",
                        "report_pg", "hello", "nginx"}
    assert all(_positive(v) for v in rps.values())
    assert set(sec.figures["cpu_us"]) == set(rps) - {"hello", "nginx"}
    assert all(_positive(v) for v in sec.figures["cpu_us"].values())
    assert 0 < sec.figures["next_handler_share"] < 100
    assert "api.device.next_item" in sec.markdown()   # the breakdown found the handler
    # the capacity model is built from those costs, every figure a number
    assert _positive(model.figures["devices_per_core"]) and _positive(model.figures["cores_1m"])
    assert "boot storm" in model.markdown()


def test_fileserver_streams_the_same_file_from_both(tmp_path):
    (sec,) = fileserver.run(str(tmp_path), quick=True)
    assert _positive(sec.figures["curl_ratio"]) and _positive(sec.figures["device_ratio"])


def test_spread_sends_every_device_to_the_primary_alone_then_over_the_weighted_three(tmp_path):
    (sec,) = spread.run(str(tmp_path), quick=True)
    by_run = {}
    for run, server, weight, first, _share, requests, *_ in sec.rows:
        assert first == str(requests)   # what devices took is what each nginx logged
        by_run.setdefault(run, []).append(int(first))
    alone, spread_out = by_run.values()
    assert alone == [40, 0, 0] and sum(spread_out) == 40 and all(spread_out)
    assert sec.figures["peak_fetches_spread"] < sec.figures["peak_fetches_primary"]


def test_runner_writes_the_markdown_with_targets(tmp_path):
    out = tmp_path / "BENCH.md"
    assert bench_main(["--quick", "--only", "failover", "--out", str(out),
                       "--work", str(tmp_path / "work")]) == 0
    text = out.read_text()
    assert text.startswith("# Benchmarks")
    assert "Quick mode" in text and "| stall detected within the read timeout + 20 ms |" in text
    assert "## 4. Failover latency" in text and "- machine: " in text


def test_merge_replaces_the_sections_run_and_keeps_the_others_with_their_targets(tmp_path):
    out = tmp_path / "BENCH.md"
    out.write_text("# Benchmarks\n\n## Targets (old)\n\n| x | MET | y |\n\n"
                   "## Kept section\n\n- MISSED **a kept target**: 0.5\n\nits note\n\n"
                   "## 4. Failover latency (old title kept apart)\n\nold\n")
    assert bench_main(["--quick", "--only", "failover", "--merge", "--out", str(out),
                       "--work", str(tmp_path / "work")]) == 0
    text = out.read_text()
    assert "## Kept section" in text and "its note" in text
    assert "| a kept target | MISSED | 0.5 |" in text   # back in the targets table
    assert "| stall detected within the read timeout + 20 ms |" in text
    assert text.count("## Targets") == 1 and "Merged (`--merge`)" in text
