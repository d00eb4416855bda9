"""The pieces the benchmarks are built from: summaries and wrk's output."""
import pytest

from bench.stats import median, percentile
from bench.wrk import WrkResult

WRK_OUTPUT = """Running 5s test @ http://127.0.0.1:40000/api/v1/next
  1 threads and 16 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     2.27ms  741.90us  21.54ms   90.12%
    Req/Sec     7.06k   352.41     7.46k    84.00%
  Latency Distribution
     50%    2.12ms
     75%    2.39ms
     90%  850.00us
     99%    1.02s
  35126 requests in 5.00s, 12.86MB read
  Non-2xx or 3xx responses: 3
Requests/sec:   7024.64
Transfer/sec:      2.57MB
"""


def test_wrk_summary_is_read_with_units():
    r = WrkResult(WRK_OUTPUT)
    assert r.rps == 7024.64
    assert r.requests == 35126
    assert r.non_2xx == 3
    assert r.p50 == 2.12
    assert r.latency_ms[90] == pytest.approx(0.85)
    assert r.p99 == 1020.0


def test_wrk_output_without_a_rate_is_an_error():
    with pytest.raises(RuntimeError, match="Requests/sec"):
        WrkResult("unable to connect to 127.0.0.1:1 Connection refused\n")


def test_median_and_nearest_rank_percentile():
    assert median([3, 1, 2]) == 2
    assert median([4, 1, 2, 3]) == 2.5
    xs = list(range(1, 101))
    assert percentile(xs, 99) == 99
    assert percentile(xs, 50) == 50
    assert percentile([5], 99) == 5
    with pytest.raises(ValueError):
        median([])
