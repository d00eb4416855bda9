# Console output: one event per line (TAG {json}) or a log line with a level letter
# (PROTOCOL.md "Device output"), flushed so a parent process or serial console sees it live.
import json

from compat import flush


def emit(tag, pairs):
    """One event line: TAG {"k": v, ...}, keys in the given order."""
    out = []
    for k, v in pairs:
        if isinstance(v, float):  # MicroPython prints 0.56 as 0.5600000000000001
            v = ("%.3f" % v).rstrip("0")
            out.append('"%s": %s' % (k, v + "0" if v.endswith(".") else v))
        else:
            out.append('"%s": %s' % (k, json.dumps(v)))
    print("%s {%s}" % (tag, ", ".join(out)))
    flush()


def log(level, msg):
    print("%s %s" % (level, msg))
    flush()
