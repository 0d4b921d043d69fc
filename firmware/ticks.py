"""Wrapping millisecond arithmetic, identical to MicroPython's time.ticks_diff/ticks_add.

The board's clock wraps at 2**30 ms (12.4 days), so the core only ever works with
differences computed here. Pure functions, allocation-free on both interpreters.
"""

from micropython import const

_MASK = const(0x3FFFFFFF)
_HALF = const(0x20000000)


def ticks_add(t, delta):
    return (t + delta) & _MASK


def ticks_diff(a, b):
    """a - b, as a signed difference in (-2**29, 2**29]."""
    return ((a - b + _HALF) & _MASK) - _HALF
