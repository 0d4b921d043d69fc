"""Console telemetry (`stream <hz>`): one line per period with the time, state, angle,
target, rate and fault, as {"tel": {...}} in JSON mode and "tel ..." in human mode.

The rate is taken from the last two samples (cheap, and what a plot of them shows). A
line is skipped, never queued late, while a reply is open or more than _BACKLOG bytes
wait: telemetry must not delay the replies. Falling behind (a long tick) moves the
next line on rather than sending a burst.

A line allocates nothing (issue #20): it runs in moving passes, where the loop never
collects garbage (firmware/app.py), and at 50 Hz formatted strings would fill the heap
within a move. It is written into one of two reused buffers (two: the last line may
still wait in the output queue, which writes such a buffer without copying it:
console_out.py), numbers digit by digit and names from bytes kept per state and fault
code. Only when both buffers still wait is a new one made.
"""

import faults
from console_text import state_name
from micropython import const
from ticks import ticks_add, ticks_diff

_BACKLOG = const(256)  # telemetry is skipped (not queued) while this much waits
_LINE_MAX = const(192)  # the longest line: the JSON one with 9-digit numbers, 150 bytes

# The line between its fields (state and fault are names, the rest numbers: JSON mode
# whole numbers, human mode thousandths as decimals, as cmdparse.fmt_milli writes them).
_JSON = (b'{"tel": {"t_ms": ', b', "state": "', b'", "angle_mdeg": ', b', "target_mdeg": ',
         b', "rate_mdeg_s": ', b', "fault": "', b'"}}\n')
_TEXT = (b"tel ", b" s ", b" angle ", b" deg target ", b" deg rate ", b" deg/s fault ", b"\n")
_NO_TARGET = b"none rate "  # human mode, where there is none (AppView.no_target)


def put_int(buf, v):
    """v's decimal digits (a '-' first if negative) appended to buf, allocating nothing."""
    if v < 0:
        buf.append(45)
        v = -v
    start = len(buf)
    while True:
        buf.append(48 + v % 10)
        v //= 10
        if v == 0:
            break
    end = len(buf) - 1
    while start < end:  # written least significant first: reverse them in place
        c = buf[start]
        buf[start] = buf[end]
        buf[end] = c
        start += 1
        end -= 1


def put_milli(buf, v):
    """Thousandths as a decimal (cmdparse.fmt_milli's text: -1250 -> -1.250) into buf."""
    if v < 0:
        buf.append(45)
        v = -v
    put_int(buf, v // 1000)
    f = v % 1000
    buf.append(46)
    buf.append(48 + f // 100)
    buf.append(48 + f // 10 % 10)
    buf.append(48 + f % 10)


def _name(cache, code, text_of):
    # the name's bytes, made once per code: a line then copies them without allocating
    b = cache.get(code)
    if b is None:
        b = cache[code] = text_of(code).encode()
    return b


class Telemetry:
    def __init__(self):
        self.hz = 0
        self.period_ms = 0  # 0: off
        self.dropped = 0  # lines skipped while output was backed up
        self._next = 0
        self._have = False
        self._t = 0
        self._angle = 0
        self._bufs = (bytearray(_LINE_MAX), bytearray(_LINE_MAX))  # two lines, reused
        self._k = 0
        self._states = {}  # state code -> name bytes
        self._faults = {}  # fault code -> name bytes

    def set_rate(self, hz, now_ms):
        self.hz = hz
        self.period_ms = 1000 // hz if hz else 0
        self._next = now_ms
        self._have = False

    def service(self, now, view, out):
        """Queue the line due at now (if one is) on out; view is the console's AppView."""
        if ticks_diff(now, self._next) < 0:
            return
        period = self.period_ms
        nxt = ticks_add(self._next, period)
        if ticks_diff(now, nxt) >= 0:
            nxt = ticks_add(now, period)  # fell behind (a long tick): no burst of lines
        self._next = nxt
        angle = view.angle_mdeg()
        rate = 0
        if self._have:
            dt = ticks_diff(now, self._t)
            if dt > 0:
                rate = (angle - self._angle) * 1000 // dt
        self._have = True
        self._t = now
        self._angle = angle
        if out.pending > _BACKLOG or out.busy:
            self.dropped += 1
            return
        a = self._buffer(out.tx)
        js = out.json
        put = put_int if js else put_milli
        parts = _JSON if js else _TEXT
        a[0:] = b""
        a.extend(parts[0])
        put(a, now)
        a.extend(parts[1])
        a.extend(_name(self._states, view.state(), state_name))
        a.extend(parts[2])
        put(a, angle)
        a.extend(parts[3])
        if js or view.no_target() is None:
            put(a, view.target_mdeg())
            a.extend(parts[4])
        else:
            a.extend(_NO_TARGET)  # as `status` says it
        put(a, rate)
        a.extend(parts[5])
        a.extend(_name(self._faults, view.fault(), faults.name))
        a.extend(parts[6])
        out.queue(a)

    def _buffer(self, tx):
        """A line's buffer: one of the two not waiting in tx (the output queue), else new."""
        for _ in range(2):
            k = self._k
            self._k = 1 - k
            buf = self._bufs[k]
            free = True
            for piece in tx:
                if piece is buf:
                    free = False
            if free:
                return buf
        return bytearray()  # both still wait (a port that takes little): a new one
