"""CPython stand-in for MicroPython's `micropython` module, so firmware/ imports on the host.

Only what the firmware uses: const() and the native/viper code emitters (no-ops here).
"""


def const(value):
    return value


def native(func):
    return func


def viper(func):
    return func
