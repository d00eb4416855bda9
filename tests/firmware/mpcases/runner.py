# Runs test_* functions of the given case modules; usable under micropython and CPython:
#   micropython runner.py FIRMWARE_DIR cases_http cases_fetch ...
# Prints "PASS name" / "FAIL name: error" lines and "SUMMARY passed failed".
import gc
import sys


def main(argv):
    sys.path.append(argv[1])
    passed = failed = 0
    for modname in argv[2:]:
        mod = __import__(modname)
        for name in sorted(dir(mod)):
            if not name.startswith("test_"):
                continue
            gc.collect()
            try:
                getattr(mod, name)()
                print("PASS %s.%s" % (modname, name))
                passed += 1
            except Exception as e:
                print("FAIL %s.%s: %s %r" % (modname, name, type(e).__name__, e))
                failed += 1
    print("SUMMARY %d %d" % (passed, failed))
    return 1 if failed else 0


sys.exit(main(sys.argv))
