# Entry point for the unix port and CPython:
#   micropython -X heapsize=64K firmware/device.py CONFIG.json
#   python3 firmware/device.py CONFIG.json
# Both put the script's directory (firmware/) first on sys.path, so modules import flat.
import gc
import sys

def _load_config(path):
    """The checked config, or None after an `E config: …` line. devconfig is needed only here:
    it is dropped again so its bytecode is collected."""
    import devconfig
    try:
        return devconfig.load_config(path)
    except devconfig.ConfigError as e:
        print("E config: %s" % e)
        return None
    finally:
        del sys.modules["devconfig"]


def main(argv, **parts):
    """parts: the player's collaborators, where a board or transport has its own (player.main)."""
    if sys.implementation.name == "cpython":
        # MicroPython's cryptolib, as a shim on the `cryptography` package (firmware/cpython/)
        import os
        sys.path.append(os.path.join(os.path.dirname(os.path.abspath(__file__)), "cpython"))
    if len(argv) < 2:
        print("E usage: device.py CONFIG.json")
        return 2
    gc.collect()
    cfg = _load_config(argv[1])
    if cfg is None:
        return 2
    gc.collect()
    # The stream buffer, key buffer and jitter ring next, while the heap is nearly empty: after
    # the imports it may be too fragmented to hold one contiguous block of that size.
    buf = bytearray(cfg["buffer"])
    keybuf = bytearray(cfg["key_buffer"]) if cfg["key_buffer"] else None
    ring = bytearray(cfg["jitter"]) if cfg["jitter"] else None
    gc.collect()
    # player next (preload.py: as .mpy, its modules first, one at a time): compiling from source
    # needs big contiguous blocks, which a small heap has only while it is nearly empty.
    import preload
    preload.load(keybuf is not None)
    del preload, sys.modules["preload"]
    gc.collect()
    import player
    gc.collect()
    if hasattr(gc, "threshold"):
        # a collect after every eighth of what is free, not only when the heap is full: what an
        # item keeps (a connection, its hash, the report) then lands in the lowest gaps instead
        # of being strewn over a heap full of garbage (the 64K job of every fault ran out of
        # memory in fewer runs with it)
        gc.threshold(gc.mem_free() // 8)
    try:
        return player.main(cfg, buf, keybuf, ring, **parts)
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main(sys.argv))
