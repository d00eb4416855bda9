# Entry point for the unix port and CPython:
#   micropython -X heapsize=64K firmware/device.py CONFIG.json
#   python3 firmware/device.py CONFIG.json
# Both put the script's directory (firmware/) first on sys.path, so modules import flat.
import sys


def _buffer_size(path):
    """The configured buffer size, or 0 to leave it to the player (which reports bad configs)."""
    try:
        import json
        with open(path) as f:
            n = json.load(f).get("buffer", 4096)
    except Exception:
        return 0
    return n if isinstance(n, int) and 256 <= n <= 1048576 else 0


def main(argv):
    if len(argv) < 2:
        print("E usage: device.py CONFIG.json")
        return 2
    import gc
    gc.collect()
    # The stream buffer first, while the heap is empty: after the imports it may be too
    # fragmented to hold one contiguous block of that size.
    n = _buffer_size(argv[1])
    buf = bytearray(n) if n else None
    gc.collect()
    # player next: compiling from source needs big contiguous blocks, which a small heap has
    # only while it is nearly empty (player's own imports then compile one at a time).
    import player
    gc.collect()
    try:
        return player.main(argv[1], buf)
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main(sys.argv))
