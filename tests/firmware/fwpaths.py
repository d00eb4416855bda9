"""Paths shared by the firmware tests; importing this puts firmware/ on sys.path (flat imports)."""
import os
import sys

from tools.fwbuild import FIRMWARE, micropython_path

HERE = os.path.dirname(os.path.abspath(__file__))
CASES = os.path.join(HERE, "mpcases")
MICROPYTHON = micropython_path()

# Firmware modules import flat, as on a board.
for p in (FIRMWARE, CASES):
    if p not in sys.path:
        sys.path.insert(0, p)
# MicroPython's cryptolib for CPython (device.py does the same under CPython)
if os.path.join(FIRMWARE, "cpython") not in sys.path:
    sys.path.append(os.path.join(FIRMWARE, "cpython"))
