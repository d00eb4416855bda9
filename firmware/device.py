# Entry point for the unix port and CPython:
#   micropython -X heapsize=64K firmware/device.py CONFIG.json
#   python3 firmware/device.py CONFIG.json
# Both put the script's directory (firmware/) first on sys.path, so modules import flat.
import sys


def main(argv):
    if len(argv) < 2:
        print("E usage: device.py CONFIG.json")
        return 2
    import gc
    gc.collect()
    # player first: compiling from source needs big contiguous blocks, which a small heap has
    # only while it is empty (player's own imports then compile one at a time).
    import player
    gc.collect()
    try:
        return player.main(argv[1])
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main(sys.argv))
