"""Run before a script on the 32-bit MicroPython (the WebAssembly port, host_tools/mpy32/
run.mjs): makes that port's edges look like the unix port's and the ESP32's.

It also gives scripts a module `toplevel` with run_steps(): this port collects garbage only
when control is back in JavaScript (gc.collect() inside Python merely asks for it, and
the heap grows meanwhile), so a long script hands its work over as steps, run one per
call from run.mjs, with a collection between two.

Only the platform around the interpreter differs; the interpreter (31-bit small ints,
16-byte GC blocks, 4-byte pointers, boxed floats) is left as it is:
- its files raise OSError with Emscripten's errno numbers (ENOENT is 44 there, 2 on the
  ESP32 and the unix port, and the firmware tests e.args[0] against 2): open() and the
  os functions re-raise them with the Linux numbers MicroPython uses everywhere else;
- its `os` lacks urandom (the ESP32's has it) and getenv (the unix port's): urandom
  from the port's `random` (fine for names and tokens in tests, not for secrets),
  getenv answers the default (the port has no environment);
- its `sys` lacks atexit (the unix port's): the functions run when the script ends;
- its time.ticks_us and ticks_cpu step by 1000 (Date.now()): they read Node's
  microsecond clock instead (run.mjs's mpy32_host module), wrapping at 2**30 as on the
  ESP32. A read costs a call into JavaScript (the tick benchmark reports that overhead).
"""

import builtins
import gc
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


def _time():
    import time

    import mpy32_host

    ns = _copy_module(time)
    ns.ticks_us = mpy32_host.ticks_us
    ns.ticks_cpu = mpy32_host.ticks_us
    return ns


_atexit = []


def _sys():
    ns = _copy_module(sys)
    ns.atexit = _atexit.append
    return ns


def run_atexit():
    while _atexit:
        _atexit.pop()()


class _Steps:
    """The work a script handed to run_steps(), one step per call from the top level."""

    steps = None
    done = None


def run_steps(steps, done=None):
    """Run next(steps) once per call from JavaScript until it is exhausted, then
    done() (which may sys.exit); garbage is collected between two steps. Returns at once:
    the steps start when the script has returned."""
    _Steps.steps = steps
    _Steps.done = done
    gc.collect()  # asks for a collection at the top level, before the first step


def _toplevel_module():
    ns = _Namespace()
    ns.__name__ = "toplevel"
    ns.run_steps = run_steps
    return ns


builtins.open = _translated(_open)
sys.modules["toplevel"] = _toplevel_module()
sys.modules["os"] = _os()
sys.modules["sys"] = _sys()
sys.modules["time"] = _time()
