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
import json

_DEFAULTS = (("buffer", 4096), ("connect_timeout", 2.0), ("read_timeout", 2.0), ("state", None),
             ("sink", None), ("items", 0), ("program", None), ("idle_wait", 5.0),
             ("backoff_base", 1.0), ("backoff_cap", 60.0),
             ("key_buffer", 4192), ("jitter", 0))


class ConfigError(ValueError):
    pass


def load_config(path):
    try:
        with open(path) as f:
            cfg = json.load(f)
    except OSError:
        raise ConfigError("cannot read %s" % path)
    except ValueError:
        raise ConfigError("%s is not valid JSON" % path)
    if not isinstance(cfg, dict):
        raise ConfigError("config must be a JSON object")
    for k in ("server", "device", "secret"):
        if not isinstance(cfg.get(k), str) or not cfg[k]:
            raise ConfigError("%s is required (a string)" % k)
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
    return cfg
