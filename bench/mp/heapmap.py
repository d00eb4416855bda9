# What a device holds before its first item: device.py's start (the config checked, the buffers,
# the player's modules one at a time), step by step, then the Player made (null sink, no state):
#   micropython -X heapsize=N heapmap.py FIRMWARE_DIR CONFIG
#   python tools/romrun.py IMAGE -X heapsize=N heapmap.py /rom CONFIG      (from ROMFS)
# Prints "STEP <name> <bytes>" (gc.mem_alloc() after a collect) after each step, then the qstr
# pools' line (micropython.qstr_info()) and the heap's block map (micropython.mem_info(1)).
import gc
import sys

import micropython


def step(name):
    gc.collect()
    print("STEP %s %d" % (name, gc.mem_alloc()))


def main(argv):
    if argv[1] != "/rom":
        sys.path.insert(0, argv[1])
    step("start")
    import device
    cfg = device._load_config(argv[2])
    step("config")
    buf = bytearray(cfg["buffer"])
    keybuf = bytearray(cfg["key_buffer"]) if cfg["key_buffer"] else None
    step("buffers")
    import preload
    preload.load(keybuf is not None)
    del preload, sys.modules["preload"]
    step("modules")
    import player
    step("player")
    p = player.Player(cfg, buf, keybuf)
    step("Player")
    micropython.qstr_info()
    micropython.mem_info(1)
    return p


main(sys.argv)
