"""Console telemetry (`stream <hz>`): one line per period with the time, state, angle,
target, rate and fault, as {"tel": {...}} in JSON mode and "tel ..." in human mode.

The rate is taken from the last two samples (cheap, and what a plot of them shows). A
line is skipped, never queued late, while a reply is open or more than _BACKLOG bytes
wait: telemetry must not delay the replies. Falling behind (a long tick) moves the
next line on rather than sending a burst.
"""

import faults
from cmdparse import fmt_milli
from console_text import state_name
from micropython import const
from ticks import ticks_add, ticks_diff

_BACKLOG = const(256)  # telemetry is skipped (not queued) while this much waits

_JSON = (
    '{"tel": {"t_ms": %d, "state": "%s", "angle_mdeg": %d, "target_mdeg": %d, '
    '"rate_mdeg_s": %d, "fault": "%s"}}\n'
)
_TEXT = "tel %s s %s angle %s deg target %s rate %s deg/s fault %s\n"


class Telemetry:
    def __init__(self):
        self.hz = 0
        self.period_ms = 0  # 0: off
        self.dropped = 0  # lines skipped while output was backed up
        self._next = 0
        self._have = False
        self._t = 0
        self._angle = 0

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
        state = state_name(view.state())
        fault = faults.name(view.fault())
        target = view.target_mdeg()
        if out.json:
            line = _JSON % (now, state, angle, target, rate, fault)
        else:
            # none where there is none (AppView.no_target), as `status` says
            shown = "none" if view.no_target() is not None else fmt_milli(target) + " deg"
            line = _TEXT % (fmt_milli(now), state, fmt_milli(angle), shown, fmt_milli(rate),
                            fault)
        out.queue(line.encode())
