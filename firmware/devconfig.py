# The device's config file, read and checked once at start (device.py then drops this module
# so its bytecode is collected; the small state file is in player.py).
#
# Config (one JSON object):
#   server           "http://host:port" of the meta server                        (required)
#   device           device id                                                    (required)
#   secret           the device secret, 32 hex chars                              (required)
#   buffer           stream buffer bytes, allocated once                          (4096)
#   connect_timeout  seconds                                                      (2.0)
#   read_timeout     seconds without a byte before a source counts as stalled     (2.0)
#   state            path of the state file (token, current item), null: none     (null)
#   sink             {"type": "null"}, {"type": "file", "dir": "<path>"}, or
#                    {"type": "paced", "speed": 8, "dir": "<path>"}: plays each item with a
#                    rate at rate x speed through the jitter ring (speed: a number > 0, 1:
#                    real time; dir optional: where the played bytes go)  (null sink)
#   jitter           bytes of the jitter ring the paced sink drains, allocated once; 0 or at
#                    least 1024, a multiple of 16 (0: no ring)                          (0)
#   items            stop after this many items; 0: forever                      (0)
#   program          program id to select after login; null: the server's choice  (null)
#   idle_wait        seconds to wait after "nothing to play" (204)                (5.0)
#   backoff_base, backoff_cap   seconds, exponential backoff with full jitter     (1.0, 60.0)
#   ca               path of the CA certificate (PEM or DER) that https:// servers are checked
#                    against; null: plain HTTP only (a trusted LAN)                 (null)
#   key_buffer       bytes for a secure item's key answer, allocated once; the largest
#                    withheld piece it takes is key_buffer - 96; 0: no secure items (4192)
#   cache            store-ahead and offline play (aheadplayer.py), an object, null: none (null):
#                    {"dir": "<path>" (required), "bytes": the most the cache holds (required),
#                     "horizon": items asked for at once (8, 1-16), "batch": reports sent at
#                     once (8, 1-32), "queue": reports kept while offline (1024),
#                     "chunk": the filler's buffer bytes, a multiple of 16 (2048)}
# Keys beside these are warned about (with the nearest known key). A board's own keys (wifi,
# watchdog, timer) are boardmain.py's. The file is checked as strict JSON first: MicroPython's
# json takes trailing commas, missing colons and commas, leading zeros and unknown escapes.
import json
import os

_MAX_FILE = 8192
_REQUIRED = ("server", "device", "secret")
_BOARD_KEYS = ("wifi", "watchdog", "timer")
_DEFAULTS = (("buffer", 4096), ("connect_timeout", 2.0), ("read_timeout", 2.0), ("state", None),
             ("sink", None), ("items", 0), ("program", None), ("idle_wait", 5.0),
             ("backoff_base", 1.0), ("backoff_cap", 60.0),
             ("key_buffer", 4192), ("jitter", 0), ("cache", None))
_CACHE = (("horizon", 8, 1, 16), ("batch", 8, 1, 32), ("queue", 1024, 1, 1 << 20),
          ("chunk", 2048, 256, 1 << 16), ("bytes", None, 1, 1 << 40))


class ConfigError(ValueError):
    pass


def _bad(t, i, what):
    return ValueError("expected %s at line %d column %d"
                      % (what, t.count("\n", 0, i) + 1, i - t.rfind("\n", 0, i)))


def _ws(t, i):
    while i < len(t) and t[i] in " \t\n\r":
        i += 1
    return i


def _digits(t, i):
    while i < len(t) and "0" <= t[i] <= "9":
        i += 1
    return i


def _string(t, i):
    i += 1
    while i < len(t):
        c = t[i]
        if c == '"':
            return i + 1
        if c == "\\":
            e = t[i + 1:i + 2]
            if e == "u":
                h = t[i + 2:i + 6]
                if len(h) != 4 or h.strip("0123456789abcdefABCDEF"):
                    raise _bad(t, i, "4 hex digits after \\u")
                i += 6
                continue
            if not e or e not in '"\\/bfnrt':
                raise _bad(t, i, "a JSON escape")
            i += 2
            continue
        if ord(c) < 32:
            raise _bad(t, i, "no control character in a string")
        i += 1
    raise _bad(t, i, 'a closing "')


def _number(t, i):
    j = i + 1 if t[i:i + 1] == "-" else i
    c = t[j:j + 1]
    if c == "0":
        j += 1
    elif c and "1" <= c <= "9":
        j = _digits(t, j)
    else:
        raise _bad(t, i, "a value")
    if t[j:j + 1] == ".":
        k = _digits(t, j + 1)
        if k == j + 1:
            raise _bad(t, k, "a digit")
        j = k
    if t[j:j + 1] in ("e", "E"):
        j += 1
        if t[j:j + 1] in ("+", "-"):
            j += 1
        k = _digits(t, j)
        if k == j:
            raise _bad(t, k, "a digit")
        j = k
    return j


def _value(t, i, depth):
    """The end of the JSON value at t[i] (no space before it), else ValueError where it breaks."""
    if depth > 8:
        raise _bad(t, i, "at most 8 levels of nesting")
    c = t[i:i + 1]
    if c == "{" or c == "[":
        end = "}" if c == "{" else "]"
        i = _ws(t, i + 1)
        if t[i:i + 1] == end:
            return i + 1
        while True:
            if c == "{":
                if t[i:i + 1] != '"':
                    raise _bad(t, i, "a key in double quotes")
                i = _ws(t, _string(t, i))
                if t[i:i + 1] != ":":
                    raise _bad(t, i, "':'")
                i = _ws(t, i + 1)
            i = _ws(t, _value(t, i, depth + 1))
            if t[i:i + 1] == end:
                return i + 1
            if t[i:i + 1] != ",":
                raise _bad(t, i, "',' or '%s'" % end)
            i = _ws(t, i + 1)
    if c == '"':
        return _string(t, i)
    for word in ("true", "false", "null"):
        if t.startswith(word, i):
            return i + len(word)
    return _number(t, i)


def check_json(t):
    """Raise ValueError (where, what was expected) unless t is one strict JSON value."""
    i = _ws(t, _value(t, _ws(t, 0), 0))
    if i != len(t):
        raise _bad(t, i, "the end of the file")


def _distance(a, b):
    """Edit distance (insert, delete, replace) of two short keys."""
    row = list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        prev, row[0] = row[0], i
        for j in range(1, len(b) + 1):
            cur = min(row[j] + 1, row[j - 1] + 1, prev + (a[i - 1] != b[j - 1]))
            prev, row[j] = row[j], cur
    return row[len(b)]


def nearest(key, known):
    """The known key closest to key, if it is close (a typo), else None."""
    best, d = None, 3
    for k in known:
        e = _distance(key, k)
        if e < d:
            best, d = k, e
    return best


def _warn_unknown(cfg, warn):
    known = _REQUIRED + ("ca",) + _BOARD_KEYS + tuple(k for k, _ in _DEFAULTS)
    for k in cfg:
        if k not in known:
            near = nearest(k, known)
            warn("unknown key %r ignored%s" % (k, " (did you mean %r?)" % near if near else ""))


def _print_warning(msg):
    print("W config: " + msg)


def _is_hex32(s):
    return len(s) == 32 and not s.lower().strip("0123456789abcdef")


def load_config(path, warn=_print_warning):
    """The checked config with defaults filled in, or ConfigError; warn(text) for each key that
    is not known (a `W config: ...` line by default)."""
    try:
        size = os.stat(path)[6]
        if size > _MAX_FILE:
            raise ConfigError("%s is over %d bytes: not a device config" % (path, _MAX_FILE))
        with open(path) as f:
            text = f.read(size)   # read(_MAX_FILE + 1) would need a free block that large
    except OSError:             # (on a board, after Wi-Fi is up, there may be none)
        raise ConfigError("cannot read %s" % path)
    except UnicodeError:
        raise ConfigError("%s is not UTF-8 text" % path)
    try:
        check_json(text)
        cfg = json.loads(text)
    except ValueError as e:
        raise ConfigError("%s is not valid JSON: %s" % (path, e))
    if not isinstance(cfg, dict):
        raise ConfigError("config must be a JSON object")
    for k in _REQUIRED:
        if not isinstance(cfg.get(k), str) or not cfg[k]:
            raise ConfigError("%s is required (a string)" % k)
    if not _is_hex32(cfg["secret"]):
        raise ConfigError("secret must be the 32 hex characters the meta server gave for this "
                          "device (add-device, or tools.provision)")
    _warn_unknown(cfg, warn)
    ca = cfg.get("ca")
    if ca is not None and (not isinstance(ca, str) or not ca):
        raise ConfigError("ca must be the path of a CA certificate file")
    if cfg["server"].startswith("https://"):
        if ca is None:
            raise ConfigError("an https:// server needs ca (the CA certificate to check it)")
    elif not cfg["server"].startswith("http://"):
        raise ConfigError("server must be an http:// or https:// URL")
    for k, v in _DEFAULTS:
        if cfg.get(k) is None:
            cfg[k] = v
    for k in ("buffer", "items", "key_buffer", "jitter"):
        if not isinstance(cfg[k], int) or isinstance(cfg[k], bool) or cfg[k] < 0:
            raise ConfigError("%s must be a whole number" % k)
    if cfg["buffer"] < 256 or cfg["buffer"] % 16:
        raise ConfigError("buffer must be at least 256 and a multiple of 16")
    if cfg["key_buffer"] and (cfg["key_buffer"] < 96 or cfg["key_buffer"] % 16):
        raise ConfigError("key_buffer must be 0 or at least 96 and a multiple of 16")
    for k in ("connect_timeout", "read_timeout", "idle_wait", "backoff_base", "backoff_cap"):
        if not isinstance(cfg[k], (int, float)) or cfg[k] < 0:
            raise ConfigError("%s must be a number of seconds" % k)
    if cfg["sink"] is not None and not isinstance(cfg["sink"], dict):
        raise ConfigError("sink must be an object")
    if cfg["jitter"] and (cfg["jitter"] < 1024 or cfg["jitter"] % 16):
        raise ConfigError("jitter must be 0 or at least 1024 and a multiple of 16")
    sink = cfg["sink"] or {}
    if sink.get("type") == "paced":
        speed = sink.get("speed", 1)
        if not isinstance(speed, (int, float)) or isinstance(speed, bool) or speed <= 0:
            raise ConfigError("sink.speed must be a number above 0 (1: real time)")
        if not cfg["jitter"]:
            raise ConfigError("a paced sink needs jitter: the bytes of its ring")
        if sink.get("dir") is not None and not isinstance(sink["dir"], str):
            raise ConfigError("sink.dir must be a path")
    if cfg["cache"] is not None:
        _check_cache(cfg["cache"], warn)
    return cfg


def _check_cache(c, warn):
    if not isinstance(c, dict):
        raise ConfigError("cache must be an object: {\"dir\": ..., \"bytes\": ...}")
    if not isinstance(c.get("dir"), str) or not c["dir"]:
        raise ConfigError("cache.dir must be the path of the cache's folder")
    known = ["dir"] + [k for k, _, _, _ in _CACHE]
    for k in c:
        if k not in known:
            near = nearest(k, known)
            warn("unknown key %r ignored%s" % ("cache." + k, " (did you mean %r?)"
                                                % ("cache." + near) if near else ""))
    for k, default, low, high in _CACHE:
        if c.get(k) is None:
            if default is None:
                raise ConfigError("cache.%s is required: the most bytes the cache holds" % k)
            c[k] = default
        v = c[k]
        if not isinstance(v, int) or isinstance(v, bool) or not low <= v <= high:
            raise ConfigError("cache.%s must be a whole number from %d to %d" % (k, low, high))
    if c["chunk"] % 16:
        raise ConfigError("cache.chunk must be a multiple of 16")
