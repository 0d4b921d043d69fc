"""Run the core tests (tests/core/test_*.py) under MicroPython: the unix port (make
test-mpy) or the 32-bit WebAssembly port (make test-mpy32, host_tools/mpy32/run.mjs).

The same files pytest runs on CPython: every module-level function named test_* is
called with no arguments. Arguments: the test modules to run (default all), or -NAME to
leave one out. Prints one line per failure and a closing
'N passed, N failed' line; exits non-zero if anything failed or nothing ran.
"""

import gc
import os
import sys

HERE = __file__.rsplit("/", 1)[0] if "/" in __file__ else "."
sys.path.insert(0, HERE + "/../firmware")
sys.path.insert(0, HERE + "/core")


def _tests(args, counts):
    """Run the tests one per step (counts: [passed, failed]). args: test module names to
    run (all when none), or -NAME to leave that one out."""
    only = [a for a in args if not a.startswith("-")]
    skip = [a[1:] for a in args if a.startswith("-")]
    files = os.listdir(HERE + "/core")
    names = sorted(n[:-3] for n in files if n.startswith("test_") and n.endswith(".py"))
    for mod_name in names:
        if (only and mod_name not in only) or mod_name in skip:
            continue
        try:
            mod = __import__(mod_name)
        except Exception as e:  # an import error fails every test of that file
            print("FAIL %s (import): %r" % (mod_name, e))
            counts[1] += 1
            continue
        for attr in sorted(dir(mod)):
            if not attr.startswith("test_"):
                continue
            fn = getattr(mod, attr)
            if not callable(fn):
                continue
            try:
                fn()
                counts[0] += 1
            except Exception as e:
                counts[1] += 1
                print("FAIL %s.%s: %s %s" % (mod_name, attr, type(e).__name__, e))
                sys.print_exception(e)
            fn = None
            yield
        # drop the test module (not the firmware) so the heap holds one test file at a time
        del sys.modules[mod_name]
        mod = None
        gc.collect()


def main():
    counts = [0, 0]
    steps = _tests(sys.argv[1:], counts)

    def done():
        passed, failed = counts
        print("micropython-%s: %d passed, %d failed" % (sys.platform, passed, failed))
        if failed or not passed:
            sys.exit(1)

    try:
        import toplevel  # the 32-bit port (host_tools/mpy32) collects only between steps
    except ImportError:
        for _ in steps:
            pass
        done()
        return
    toplevel.run_steps(steps, done)


main()
