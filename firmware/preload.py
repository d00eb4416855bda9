# Called by device.py before player is imported, then dropped. As .mpy (tools.fwbuild), the
# player's modules are loaded one at a time with a collect between them: each fills the gaps the
# last left among its long-lived functions and dicts, instead of leaving holes too small for an
# item's requests (the simulator's job then passes at 60K, not 64K). From source nothing is done
# here: player is compiled first, while the heap still has the big blocks compiling needs.
import gc


def load(secure):
    """secure: also the secure items' module (a device with a key buffer)."""
    if not __file__.endswith(".mpy"):
        return
    for name in ("compat", "devlog", "httpconn", "httpclient", "hmacsha256", "metaclient",
                 "sinks", "fetch", "secure"):
        if secure or name != "secure":
            __import__(name)
            gc.collect()
