# Heap each firmware module keeps once imported (its bytecode and objects), in import order:
#   micropython -X heapsize=256K modsize.py FIRMWARE_DIR MODULE...
#   micropython -X heapsize=256K modsize.py FIRMWARE_DIR --deps player
# Prints "MOD <name> <bytes>" per module and "TOTAL <bytes>"; with --deps, "DEP <name>" for each
# module that importing the given one brings in (what the device keeps resident).
import gc
import sys


def main(argv):
    sys.path.insert(0, argv[1])
    if argv[2] == "--deps":
        before = set(sys.modules)
        __import__(argv[3])
        for name in sorted(set(sys.modules) - before):
            print("DEP %s" % name)
        return 0
    gc.collect()
    start = gc.mem_alloc()
    for name in argv[2:]:
        gc.collect()
        before = gc.mem_alloc()
        __import__(name)
        gc.collect()
        print("MOD %s %d" % (name, gc.mem_alloc() - before))
    gc.collect()
    print("TOTAL %d" % (gc.mem_alloc() - start))
    return 0


sys.exit(main(sys.argv))
