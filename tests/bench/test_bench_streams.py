"""bench/streams.py in its quick mode: the live radio fails over from the killed and from the
stopped relay to the origin (micropython .mpy and CPython, 8 and 16 KiB rings), and the heaps
of the live, HLS and plain jobs are found. What was measured, not how fast: machines are noisy."""
import math

import pytest

from bench import streams
from simulator.streamnet import available

pytestmark = [pytest.mark.timeout(900),
              pytest.mark.skipif(available() is not None, reason="needs %s" % available())]


def _finite(x):
    return isinstance(x, (int, float)) and not math.isinf(x) and not math.isnan(x)


def test_the_quick_run_measures_every_failover_and_the_heaps(tmp_path):
    (sec,) = streams.run(str(tmp_path), quick=True)
    for interp in streams.INTERPRETERS:
        for kind, _ in streams.KINDS:
            for ring in streams.RINGS:
                f = sec.figures["%s %s %d" % (interp, kind, ring)]
                assert f["trials"] == 1
                assert _finite(f["median_ms"]) and 0 < f["median_ms"] <= f["max_ms"]
                # the device connects to the origin before the origin's audio reaches it
                assert 0 <= f["connect_median_ms"] <= f["median_ms"]
                assert f["underruns"] >= 0 and f["underrun_ms"] >= 0
                if kind == "kill":
                    assert all(w.startswith("dropped") for w in f["why"]), f
                else:
                    # a silent connection is given up by the read timeout
                    assert f["why"] == ["timeout"], f
                assert f["fail_median_ms"] is not None and f["fail_median_ms"] >= 0
    ice = sec.figures["icecast_listener"]
    assert 0 < ice["head_median_ms"] <= ice["audio_median_ms"]
    # quick mode tries only the top of each heap search, which the live and plain jobs must fit
    assert sec.figures["heap_live_k"] == streams.HEAP_TOP["live"]
    assert sec.figures["heap_plain_k"] == streams.HEAP_TOP["plain"]
    # HLS (firmware/hls.py): its top heap, or a reason why it did not play
    assert sec.figures["heap_hls_k"] == streams.HEAP_TOP["hls"] or sec.figures["heap_hls_why"]
    assert [t[1] for t in sec.targets] and all(t[1] in (True, False) for t in sec.targets)
    assert "read timeout" in sec.markdown()
