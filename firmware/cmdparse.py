"""Console numbers: the one strict syntax the console accepts, and its formatting back.

Owns the conversion between console text and the firmware's integer units. A whole
number is an optional '-' and 1-9 ASCII digits. A decimal quantity (degrees, seconds)
is an optional '-', 1-6 ASCII digits, and optionally one '.' followed by 1-3 digits;
it becomes an int in thousandths (deg -> mdeg, s -> ms). Everything else raises
ParseError: '', '-', '+1', '--3', ' 1', '1e5', '0x10', '1_000', 'nan', 'inf', '1.',
'.5', '1.2345', non-ASCII digits, too many digits, and values outside [lo, hi].

No floats anywhere (they are single precision and allocate on the ESP32): a number
typed on the host is exactly the integer the core gets. Python's int() is not used,
because it accepts '1_000', ' 1 ', '+1' and other Unicode digits.
Runs per command, not per tick: it may allocate (error messages).
"""

from micropython import const

_INT_DIGITS = const(9)  # 999_999_999 < 2**30: stays a small int on MicroPython
_WHOLE_DIGITS = const(6)  # 999_999.999 -> 999_999_999 thousandths: still a small int
_FRAC_DIGITS = const(3)  # thousandths: mdeg, ms


class ParseError(ValueError):
    pass


def _digits(text, start, end):
    """The value of text[start:end] if it is 1+ ASCII digits, else -1."""
    if end <= start:
        return -1
    v = 0
    for i in range(start, end):
        d = ord(text[i]) - 48
        if d < 0 or d > 9:
            return -1
        v = v * 10 + d
    return v


def _check_range(v, lo, hi, what, shown):
    if v < lo or v > hi:
        raise ParseError("%s %s is outside [%s, %s]" % (what, shown(v), shown(lo), shown(hi)))
    return v


def parse_int(text, lo, hi, what="value"):
    """A whole number in [lo, hi] from text, strictly; ParseError otherwise."""
    if type(text) is not str:
        raise ParseError("%s: not text" % what)
    start = 1 if text[:1] == "-" else 0
    n = len(text) - start
    v = _digits(text, start, len(text)) if 0 < n <= _INT_DIGITS else -1
    if v < 0:
        raise ParseError("%s must be a whole number, got '%s'" % (what, _clip(text)))
    if start:
        v = -v
    return _check_range(v, lo, hi, what, str)


def parse_milli(text, lo, hi, what="value"):
    """A decimal with up to 3 decimals, in thousandths, in [lo, hi] (also thousandths).

    '20' -> 20000, '-1.25' -> -1250, '0.001' -> 1. ParseError for anything else.
    """
    if type(text) is not str:
        raise ParseError("%s: not text" % what)
    start = 1 if text[:1] == "-" else 0
    end = len(text)
    dot = text.find(".", start)
    whole_end = dot if dot >= 0 else end
    whole = -1
    frac = 0
    if 0 < whole_end - start <= _WHOLE_DIGITS:
        whole = _digits(text, start, whole_end)
    if whole >= 0 and dot >= 0:
        nf = end - dot - 1
        frac = _digits(text, dot + 1, end) if 0 < nf <= _FRAC_DIGITS else -1
        if frac >= 0:
            for _ in range(_FRAC_DIGITS - nf):
                frac *= 10
    if whole < 0 or frac < 0:
        raise ParseError(
            "%s must be a number with at most 3 decimals, got '%s'" % (what, _clip(text))
        )
    v = whole * 1000 + frac
    if start:
        v = -v
    return _check_range(v, lo, hi, what, fmt_milli)


def fmt_milli(v):
    """Thousandths as a decimal string: -1250 -> '-1.250' (mdeg -> deg, ms -> s)."""
    if v < 0:
        return "-%d.%03d" % (-v // 1000, -v % 1000)
    return "%d.%03d" % (v // 1000, v % 1000)


def _clip(text):
    # Echo a bad token, shortened: a reply line stays short whatever was typed.
    return text if len(text) <= 16 else text[:16] + "..."
