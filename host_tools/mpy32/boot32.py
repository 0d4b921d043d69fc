"""Run before a script on the 32-bit MicroPython (the WebAssembly port, host_tools/mpy32/
run.mjs): makes that port's edges look like the unix port's and the ESP32's.

Only the platform around the interpreter differs; the interpreter (31-bit small ints,
16-byte GC blocks, 4-byte pointers, boxed floats) is left as it is:
- its files raise OSError with Emscripten's errno numbers (ENOENT is 44 there, 2 on the
  ESP32 and the unix port, and the firmware tests e.args[0] against 2): open() and the
  os functions re-raise them with the Linux numbers MicroPython uses everywhere else;
- its `os` lacks urandom (the ESP32's has it) and getenv (the unix port's): urandom
  from the port's `random` (fine for names and tokens in tests, not for secrets),
  getenv answers the default (the port has no environment);
- its `sys` lacks atexit (the unix port's): the functions run when the script ends.
"""

import builtins
import random
import sys

# Emscripten errno -> the Linux numbers of MicroPython's errno module
_ERRNO = {63: 1, 44: 2, 29: 5, 8: 9, 2: 13, 20: 17, 54: 20, 31: 21, 28: 22, 51: 28,
          55: 39, 75: 18}

_open = builtins.open


def _linux_errno(e):
    if e.args and e.args[0] in _ERRNO:
        return OSError(_ERRNO[e.args[0]])
    return e


def _translated(fn):
    def call(*args):
        try:
            return fn(*args)
        except OSError as e:
            raise _linux_errno(e) from None

    return call


class _Namespace:
    pass


def _copy_module(mod):
    ns = _Namespace()
    for k in dir(mod):
        if not k.startswith("__"):
            setattr(ns, k, getattr(mod, k))
    ns.__name__ = mod.__name__
    return ns


def _os():
    import os

    ns = _copy_module(os)
    for k in ("listdir", "mkdir", "remove", "rename", "rmdir", "stat", "statvfs", "unlink",
              "chdir", "ilistdir"):
        if hasattr(os, k):
            setattr(ns, k, _translated(getattr(os, k)))
    ns.urandom = lambda n: bytes([random.getrandbits(8) for _ in range(n)])
    ns.getenv = lambda key, default=None: default
    return ns


_atexit = []


def _sys():
    ns = _copy_module(sys)
    ns.atexit = _atexit.append
    return ns


def run_atexit():
    while _atexit:
        _atexit.pop()()


builtins.open = _translated(_open)
sys.modules["os"] = _os()
sys.modules["sys"] = _sys()
