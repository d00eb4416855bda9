"""Paths for the board tests; importing this puts firmware/ and hw/ on sys.path (flat imports, as
on a board where both are copied to the root)."""
import os

from tools.fwbuild import FIRMWARE, HW, ROOT, micropython_path, sys_path_for_checks  # noqa: F401

HERE = os.path.dirname(os.path.abspath(__file__))
MICROPYTHON = micropython_path()

sys_path_for_checks()
