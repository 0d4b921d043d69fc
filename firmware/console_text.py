"""The console's words: names of numbers, reply values in human units, event records
in words, and the rows of the listing replies (help, config; faults and history:
console_records.py).

Pure formatting: reads nothing of the table; the callers pass the values. Runs per
reply field or row, never on the idle path: it may allocate.
"""

import events
import faults
import names
import profiles
import programs
import states
from cmdparse import fmt_milli

# names.py text tables. machine.reset_cause() numbers (the same on the ESP32 and the
# simulated board); how an e-stop was seen (events.E_ESTOP); which cap (events.E_CAP).
RESETS = "\n1 power-on\n2 hard\n3 watchdog\n4 deep-sleep\n5 soft\n"
_ESTOP_SOURCES = "\n1 circuit open\n2 irq edge\n3 console\n4 ankle lock opened\n"
_CAP_KINDS = "\n1 hold cap\n2 session cap\n"


def name(table, i):
    """The name of i in a tuple, a dict or a names.py text table; else i as text."""
    if type(table) is str:
        n = names.text(table, i)
        return n if n is not None else str(i)
    if type(table) is dict:
        return table.get(i, str(i))
    return table[i] if 0 <= i < len(table) else str(i)


def state_name(st):
    return name(states.STATE_NAMES, st)


def program_name(pid):
    """A program's name; "manual" for -1 (a session of goto, jog or the recovery)."""
    return "manual" if pid == -1 else name(programs.NAMES, pid)


def human(key, v):
    """(label, text) of one reply field: the unit from the key's suffix, mdeg/ms as deg/s."""
    label = key
    if type(v) is bool:
        text = "yes" if v else "no"
    elif v is None:
        text = "-"
    elif type(v) is int:
        text = str(v)
        if key.endswith("_mdeg_s2"):
            label, text = key[:-8], fmt_milli(v) + " deg/s2"
        elif key.endswith("_mdeg_s"):
            label, text = key[:-7], fmt_milli(v) + " deg/s"
        elif key.endswith("_mdeg"):
            label, text = key[:-5], fmt_milli(v) + " deg"
        elif key.endswith("_ms"):
            label, text = key[:-3], fmt_milli(v) + " s"
    elif type(v) is list:
        text = ", ".join([str(x) for x in v]) if v else "none"
    else:
        text = str(v)
    return label.replace("_", " "), text


def event_text(code, a, b):
    """One event log record (code, a, b) in words, with names from states/faults/events."""
    e = events
    names_ = states.STATE_NAMES
    if code == e.E_STATE:
        return "%s -> %s" % (name(names_, a), name(names_, b))
    if code == e.E_FAULT:
        return "%s in %s" % (faults.name(a), name(names_, b))
    if code == e.E_COMMAND:
        return "%s: %s" % (name(states.COMMAND_NAMES, a), states.reason_name(b))
    if code == e.E_BOOT:
        return "reset cause %s" % name(RESETS, a)
    if code == e.E_ESTOP:
        return name(_ESTOP_SOURCES, a)
    if code == e.E_ACK:
        return "in %s" % name(names_, a)
    if code == e.E_SESSION_START:
        return program_name(a)
    if code == e.E_SESSION_END:
        return "%s, deepest %s deg" % (profiles.ended_name(a), fmt_milli(b))
    if code == e.E_CLAMPED:
        return "%s -> %s deg" % (fmt_milli(a), fmt_milli(b))
    if code == e.E_CAP:
        return name(_CAP_KINDS, a)
    if code == e.E_HOMED:
        return "switch at count %d" % a
    if code == e.E_STUCK_BUTTON:
        return "buttons 0x%x" % a
    if code == e.E_CALIBRATED or code == e.E_RECOVERY:
        return "%s deg" % fmt_milli(a)
    if code == e.E_SEGMENT:
        return "segment %d to %s deg" % (a, fmt_milli(b))
    if code == e.E_OVERRUN:
        return "%d in a row" % a
    if code == e.E_CONSENT:
        return "contraindications acknowledged"
    if code == e.E_GAVE_UP:
        return "%s: the drive cannot lift at its slowest speed, at %s deg" % (
            faults.name(a), fmt_milli(b))
    if code == e.E_SHORT_END:
        return "%s: the return ended %s deg head-down of rest by the IMU: one more try" % (
            faults.name(a), fmt_milli(b))
    if code == e.E_UNCONFIRMED:
        return "%s: latched, nothing confirms horizontal (the steps say %s deg)" % (
            faults.name(a), fmt_milli(b))
    if code == e.E_LIFT_CHECK:
        return "%s: the table rose %s deg at the slowest speed" % (
            "passed" if a else "refused", fmt_milli(b))
    if code == e.E_IMU_UNCALIBRATED:
        return ("homing: the calibrated IMU is %s deg off the home switch: the switch or "
                "the IMU moved; IMU calibration cleared, no head-down until `calibrate` "
                "again (check both mounts)" % fmt_milli(a))
    if code == e.E_ANKLE_LOCK:
        return "ankle lock opened in %s at %s deg: back to horizontal" % (
            name(names_, a), fmt_milli(b))
    if a == 0 and b == 0:
        return ""
    return "a=%d b=%d" % (a, b)


# Row formatters of the listing replies: row(item, js) is the JSON value of one item
# (js True) or its line of text (js False).


def setting_row(f, v, fixed, js):
    """A config field f (name, default, lo, hi) with its value v."""
    if js:
        return [f[0], v, f[2], f[3], fixed]
    shown = human(f[0], v)[1]
    return "%-24s %7d %-13s [%d, %d]%s" % (f[0], v, "" if shown == str(v) else "= " + shown,
                                          f[2], f[3], " fixed" if fixed else "")


# `config get`'s head line: the columns of setting_row.
SETTINGS_HEAD = "%-24s %7s %-13s %s" % ("setting (its unit)", "value", "", "[min, max]")
