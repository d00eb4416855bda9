# The device's config file and its small state file.
#
# Config (one JSON object):
#   server           "http://host:port" of the meta server                        (required)
#   device           device id                                                    (required)
#   secret           the device secret, 32 hex chars                              (required)
#   buffer           stream buffer bytes, allocated once                          (4096)
#   connect_timeout  seconds                                                      (2.0)
#   read_timeout     seconds without a byte before a source counts as stalled     (2.0)
#   state            path of the state file (token, current item), null: none     (null)
#   sink             {"type": "null"} or {"type": "file", "dir": "<path>"}        (null sink)
#   items            stop after this many items; 0: forever                      (0)
#   program          program id to select after login; null: the server's choice  (null)
#   idle_wait        seconds to wait after "nothing to play" (204)                (5.0)
#   backoff_base, backoff_cap   seconds, exponential backoff with full jitter     (1.0, 60.0)
#   report_retries   tries of a report while the meta server is unreachable       (4)
import json
import os

from devlog import log

_DEFAULTS = (("buffer", 4096), ("connect_timeout", 2.0), ("read_timeout", 2.0), ("state", None),
             ("sink", None), ("items", 0), ("program", None), ("idle_wait", 5.0),
             ("backoff_base", 1.0), ("backoff_cap", 60.0), ("report_retries", 4))


class ConfigError(Exception):
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
    if not cfg["server"].startswith("http://"):
        raise ConfigError("server must be an http:// URL")
    for k, v in _DEFAULTS:
        if cfg.get(k) is None:
            cfg[k] = v
    for k in ("buffer", "items"):
        if not isinstance(cfg[k], int) or cfg[k] < 0:
            raise ConfigError("%s must be a whole number" % k)
    if cfg["buffer"] < 256:
        raise ConfigError("buffer must be at least 256")
    for k in ("connect_timeout", "read_timeout", "idle_wait", "backoff_base", "backoff_cap"):
        if not isinstance(cfg[k], (int, float)) or cfg[k] < 0:
            raise ConfigError("%s must be a number of seconds" % k)
    if cfg["sink"] is not None and not isinstance(cfg["sink"], dict):
        raise ConfigError("sink must be an object")
    return cfg


class State:
    """A small JSON file so a restarted device continues: token, current item, bytes held."""

    def __init__(self, path):
        self.path = path
        self.d = {}
        if path:
            try:
                with open(path) as f:
                    d = json.load(f)
                if isinstance(d, dict):
                    self.d = d
            except (OSError, ValueError):
                pass

    def get(self, k):
        return self.d.get(k)

    def save(self, **kw):
        self.d.update(kw)
        if not self.path:
            return
        tmp = self.path + ".tmp"
        try:
            with open(tmp, "w") as f:
                json.dump(self.d, f)
            os.rename(tmp, self.path)
        except OSError as e:
            log("W", "state not saved: %s" % e)
