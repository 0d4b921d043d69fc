"""The table's wall clock for records: when a session, a fault or a consent happened.

Owns the record time `t` (one int per record) and where it comes from; the calendar
arithmetic that turns it into a date is firmware/civil.py (imported on demand). The
control core never reads it: the application stamps records with it outside the tick
(firmware/persistence.py), and the console's `clock set` sets it from the host client,
which does so at every connect (there is no network on the table).

Record time t (an int, small on a 32-bit port: within +-2**30):
- t >= 0: seconds since EPOCH (2024-01-01 00:00:00 UTC), the clock was set; good
  until 2058.
- NO_TIME: written before the firmware kept times (a migrated record).
- other t < 0: the clock was not set; -t - 1 is the uptime in seconds (since power-on
  on the ESP32, where the RTC counts from 2000-01-01 until set; since the firmware
  started on a board without an RTC).

The ESP32's RTC (machine.RTC, given by the board as `board.rtc`) keeps the time across
resets (watchdog, reboot, the service mode) while the board stays powered; a power cut
loses it (the ESP32 has no battery input for its RTC), and the records say "clock not
set" until the client connects again. A board without an RTC (the simulators) keeps the
time set in RAM from its millisecond ticks: it is lost at any reset.
Runs once per record or command: it may allocate.
"""

from micropython import const
from ticks import ticks_add, ticks_diff

EPOCH_UNIX_S = const(1704067200)  # 2024-01-01 00:00:00 UTC as Unix time
EPOCH_DAYS = const(19723)  # days from 1970-01-01 to EPOCH
_RTC_BASE_DAYS = const(10957)  # days from 1970-01-01 to 2000-01-01 (an unset RTC's start)
NO_TIME = const(-0x3FFFFFFF)
MAX_T = const(0x3FFFFFFE)  # the last second a record time can hold (2058)
_DAY_S = const(86400)


class WallClock:
    """The wall time for records: from the board's RTC if it has one, else kept in RAM."""

    def __init__(self, rtc=None, start_ms=0):
        self._rtc = rtc  # machine.RTC or None
        self._set_t = -1  # without an RTC: the record time at _set_ms (-1: never set)
        self._set_ms = 0
        self._boot_ms = start_ms  # the firmware's start: the uptime without an RTC

    def set(self, t, now_ms):
        """Set the clock to record time t (0..MAX_T); ValueError outside."""
        if type(t) is not int or t < 0 or t > MAX_T:
            raise ValueError("time outside 2024-01-01 .. 2058")
        self._set_t = t
        self._set_ms = now_ms
        if self._rtc is not None:
            import civil  # on demand: a board with an RTC

            y, mo, d, h, mi, s = civil.parts(t)
            # weekday (0 = Monday; 2024-01-01 was one) is ignored by the ESP32 port
            self._rtc.datetime((y, mo, d, (t // _DAY_S) % 7, h, mi, s, 0))

    def now(self, now_ms):
        """The record time now: t >= 0 if set, else -(uptime s) - 1."""
        if self._rtc is not None:
            import civil  # on demand: a board with an RTC

            dt = self._rtc.datetime()
            s = (dt[4] * 60 + dt[5]) * 60 + dt[6]
            days = civil.days_from_civil(dt[0], dt[1], dt[2])
            if days >= EPOCH_DAYS:
                return (days - EPOCH_DAYS) * _DAY_S + s
            # not set since power-on: the RTC has counted from 2000-01-01 since then
            return -((days - _RTC_BASE_DAYS) * _DAY_S + s) - 1
        if self._set_t >= 0:
            # re-based each call: ticks_diff holds about 6 days; records come oftener
            d_s = ticks_diff(now_ms, self._set_ms) // 1000
            self._set_t += d_s
            self._set_ms = ticks_add(self._set_ms, d_s * 1000)
            return self._set_t
        up_s = ticks_diff(now_ms, self._boot_ms) // 1000
        return -(up_s if up_s > 0 else 0) - 1
