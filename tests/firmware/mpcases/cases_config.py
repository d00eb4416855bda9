# The config check (devconfig.py): strict JSON, unknown keys warned, the secret's form, the jitter
# ring and the paced sink: a bad value is a ConfigError that names the key and, in a file that
# is not JSON, where it breaks; both interpreters.
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


def write_text(text):
    path = "/tmp/fw-test-config-%s.json" % hexlify(os.urandom(4))
    with open(path, "w") as f:
        f.write(text)
    return path


def refused_text(text):
    path = write_text(text)
    try:
        devconfig.load_config(path)
    except devconfig.ConfigError as e:
        return str(e)
    finally:
        os.remove(path)
    raise AssertionError("accepted: %r" % text)


def test_json_that_micropython_alone_would_take_is_refused_where_it_breaks():
    # MicroPython's json.loads takes each of these; CPython's and the device's check do not
    head = '{"server": "http://127.0.0.1:8000", "device": "dev1", ' \
           '"secret": "00112233445566778899aabbccddeeff"'
    for tail, want in ((', "buffer": 4096,}', "a key in double quotes at line 1 column 116"),
                       (', "buffer" 4096}', "':' at line 1 column 110"),
                       (', "buffer": 4096 "items": 1}', "',' or '}' at line 1 column 116"),
                       (', "buffer": 04096}', "',' or '}' at line 1 column 112"),
                       (', "device": "x\\q"}', "a JSON escape at line 1 column 113"),
                       (', "items": [1,]}', "a value at line 1 column 113"),
                       ('} x', "the end of the file at line 1 column 101")):
        msg = refused_text(head + tail)
        assert "is not valid JSON: expected " + want in msg, (tail, msg)


def test_strict_json_still_takes_every_form_json_has():
    text = '{"server": "http://127.0.0.1:8000", "device": "d\\u00e9v\\n", "secret": ' \
           '"00112233445566778899AABBCCDDEEFF", "sink": {"type": "null", "x": [true, false, ' \
           'null, -0.5e+3, 1E2, 0, [], {}]}}\n'
    path = write_text(text)
    try:
        cfg = devconfig.load_config(path, warn=lambda m: None)
    finally:
        os.remove(path)
    assert cfg["device"] == "d\u00e9v\n" and cfg["sink"]["x"][3] == -500.0


def test_a_config_over_8_kib_is_refused():
    assert "is over 8192 bytes" in refused_text('{"a": "%s"}' % ("x" * 8200))


def test_unknown_keys_are_warned_with_the_nearest_known_key():
    cfg = dict(BASE)
    cfg["bufer"] = 8192
    cfg["readtimeout"] = 1
    cfg["colour"] = "red"
    cfg["wifi"] = []      # a board's key (boardmain.py): known
    path = write_text(json.dumps(cfg))
    said = []
    try:
        got = devconfig.load_config(path, warn=said.append)
    finally:
        os.remove(path)
    assert got["buffer"] == 4096        # the typo is not taken for the key
    assert sorted(said) == ["unknown key 'bufer' ignored (did you mean 'buffer'?)",
                            "unknown key 'colour' ignored",
                            "unknown key 'readtimeout' ignored (did you mean 'read_timeout'?)"]


def test_the_secret_must_be_32_hex_characters():
    for bad in ("s", "00112233445566778899aabbccddeef", "00112233445566778899aabbccddeeffg",
                "0011223344556677 8899aabbccddeeff"):
        assert refused(secret=bad).startswith("secret must be the 32 hex characters"), bad
