# The config check (devconfig.py) for the jitter ring and the paced sink: a bad value is a
# ConfigError that names the key; both interpreters.
import json
import os

import devconfig
from compat import hexlify

BASE = {"server": "http://127.0.0.1:8000", "device": "dev1",
        "secret": "00112233445566778899aabbccddeeff"}


def load(**over):
    cfg = dict(BASE)
    for k in over:
        cfg[k] = over[k]
    path = "/tmp/fw-test-config-%s.json" % hexlify(os.urandom(4))
    with open(path, "w") as f:
        json.dump(cfg, f)
    try:
        return devconfig.load_config(path)
    finally:
        os.remove(path)


def refused(**over):
    try:
        load(**over)
    except devconfig.ConfigError as e:
        return str(e)
    raise AssertionError("accepted: %r" % (over,))


def test_no_jitter_ring_by_default():
    assert load()["jitter"] == 0


def test_a_jitter_ring_and_a_paced_sink_are_accepted():
    cfg = load(jitter=8192, sink={"type": "paced", "speed": 8, "dir": "/tmp/x"})
    assert cfg["jitter"] == 8192 and cfg["sink"]["speed"] == 8
    assert load(buffer=4096, jitter=1024, sink={"type": "paced"})["jitter"] == 1024
    assert load(jitter=16384, sink={"type": "paced", "speed": 0.5})["jitter"] == 16384


def test_jitter_must_be_a_whole_number():
    for bad in ("16K", -1, 1.5, True):
        assert refused(jitter=bad) == "jitter must be a whole number", bad


def test_jitter_must_be_at_least_1024_and_a_multiple_of_16():
    for bad in (16, 1008, 8191, 8200):
        assert refused(jitter=bad) == "jitter must be 0 or at least 1024 and a multiple of 16", bad


def test_a_paced_sink_needs_a_ring():
    assert refused(sink={"type": "paced"}) == "a paced sink needs jitter: the bytes of its ring"


def test_a_paced_sink_needs_a_speed_above_0():
    for bad in (0, -2, "fast", True):
        assert refused(jitter=8192, sink={"type": "paced", "speed": bad}) == \
            "sink.speed must be a number above 0 (1: real time)", bad


def test_a_paced_sink_dir_must_be_a_path():
    assert refused(jitter=8192, sink={"type": "paced", "dir": 3}) == "sink.dir must be a path"
