"""Dates of record times: the calendar arithmetic and the words for a record time.

Owns turning a firmware/wallclock.py record time into a date (UTC, proleptic Gregorian,
integer arithmetic: H. Hinnant's days-from-civil algorithms) and into text. Imported on
demand (the console's record listings, and the board's RTC in wallclock.WallClock): it
stays out of the resident heap of a table nobody asks for dates. Runs per record or
reply: it may allocate.
"""

from wallclock import EPOCH_DAYS, EPOCH_UNIX_S, NO_TIME

_DAY_S = 86400


def days_from_civil(y, m, d):
    """Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm)."""
    if m <= 2:
        y -= 1
    era = y // 400
    yoe = y - era * 400
    doy = (153 * (m + (-3 if m > 2 else 9)) + 2) // 5 + d - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468


def civil_from_days(z):
    """(year, month, day) of day z since 1970-01-01."""
    z += 719468
    era = z // 146097
    doe = z - era * 146097
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    d = doy - (153 * mp + 2) // 5 + 1
    m = mp + (3 if mp < 10 else -9)
    return yoe + era * 400 + (1 if m <= 2 else 0), m, d


def parts(t):
    """(year, month, day, hour, minute, second) of a record time t >= 0 (UTC)."""
    days = t // _DAY_S
    s = t - days * _DAY_S
    y, m, d = civil_from_days(days + EPOCH_DAYS)
    return y, m, d, s // 3600, s // 60 % 60, s % 60


def text(t):
    """A record time in words: '2026-12-03 15:20:58 UTC', or why there is no date."""
    if t == NO_TIME:
        return "no time (recorded by an older firmware)"
    if t < 0:
        return "clock not set, uptime %d s" % (-t - 1)
    return "%04d-%02d-%02d %02d:%02d:%02d UTC" % parts(t)


def iso(t):
    """A record time as ISO 8601 ('2026-12-03T15:20:58Z'), or None without a date."""
    if t < 0:
        return None
    return "%04d-%02d-%02dT%02d:%02d:%02dZ" % parts(t)


def unix_s(t):
    """Unix seconds of a record time t >= 0 (a long int on the ESP32: replies only)."""
    return t + EPOCH_UNIX_S
