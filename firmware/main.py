# main.py: what a board runs after boot.py, and `python3 main.py` on a Raspberry Pi. The work is
# in boardmain (compiled to .mpy on a board: this file is compiled on the device at every boot).
import sys

import boardmain

code = boardmain.main("config.json")
if sys.implementation.name != "micropython":
    sys.exit(code)
# on a board, sys.exit would soft-reset into main.py again: stay at the REPL instead
print("main.py ended (%s): the REPL is yours; machine.reset() to start again" % code)
