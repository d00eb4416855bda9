# micropython -X heapsize=N run_board.py BOARD_DIR CONFIG: a board's files (tools.fwbuild) run
# by main.py on the unix port with fakehw standing in for machine and network.
import sys

sys.path.insert(0, sys.argv[1])  # the board's files, and fakehw.mpy beside them
import fakehw

fakehw.install()
import boardmain

code = boardmain.main(sys.argv[2])
import binascii

I2S = fakehw.I2S
print("BOARD", code, I2S.received, binascii.hexlify(I2S.sha.digest()).decode(), I2S.configs,
      fakehw.WDT.feeds)
