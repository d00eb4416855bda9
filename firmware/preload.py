# Imported by device.py before player. As .mpy (tools.fwbuild), the player's modules are loaded
# one at a time with a collect between them: each fills the gaps the last left among its long-
# lived functions and dicts, instead of leaving holes too small for an item's requests (the
# simulator's job then passes at 60K, not 64K). From source nothing is done here: player is
# compiled first, while the heap still has the big blocks compiling needs.
import gc

if __file__.endswith(".mpy"):
    for name in ("compat", "devlog", "httpconn", "httpclient", "hmacsha256", "metaclient",
                 "sinks", "fetch", "secure"):
        __import__(name)
        gc.collect()
