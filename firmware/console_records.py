"""Console commands for the records, imported on demand: `faults`, `history`, `clock`.

Owns their replies and rows: the fault history and the sessions of one profile
(patient), each with its date (firmware/civil.py) or "clock not set" and the uptime,
and the wall clock the records are stamped with (`clock set` sets only that). Loaded
the first time one of them is asked for (console.HANDLERS names the module), so their
code and the calendar stay out of the resident heap of a table that is not asked.
"""

import civil
import faults
import profiles
from cmdparse import ParseError, fmt_milli
from console_text import program_name, state_name
from micropython import const

_HISTORY_DEFAULT = const(10)


def c_faults(con):
    view = con.view
    fl = view.faultlog
    latched = faults.name(view.fault())
    text = ["latched: %s (state %s)" % (latched, state_name(view.state())),
            "boot %d; fault history, oldest first:%s" % (fl.boot,
                                                         "" if fl.entries else " none")]
    con.out.ok(text, {"latched": latched, "boot": fl.boot}, key="history",
               rows=list(fl.entries), row=fault_row)


def c_history(con, name, n):
    """`history [<name>] [n]`: the selected profile's sessions, or the named one's."""
    view = con.view
    hist = view.history
    p = view.profile()
    if name is not None:
        i = profiles.find(view.profiles(), name)
        if i < 0:
            raise ParseError("no profile called '%s' (profile list)" % name)
        p = view.profiles()[i]
    who = p.name
    # rows are ring indices: each session is unpacked and worded when its turn comes
    rows = hist.last(_HISTORY_DEFAULT if n is None else n, p.pid)
    con.out.ok(None if rows else "no sessions yet for '%s'" % who,
               {"profile": who, "total": hist.count}, key="sessions", rows=rows,
               row=lambda i, js: session_row(hist.entry(i), js, who))


def c_clock(con, t):
    """`clock [set <unix s>]`: the wall time records are stamped with."""
    view = con.view
    if t is not None:
        view.set_clock(t)
    now = view.now()
    obj = {"clock_set": now >= 0, "date": civil.iso(now),
           "unix_s": civil.unix_s(now) if now >= 0 else None,
           "uptime_s": -now - 1 if now < 0 else None}
    text = civil.text(now) if now >= 0 else "not set (uptime %d s); the client sets it" % (
        -now - 1)
    con.out.ok("%s: %s" % ("ok clock" if t is not None else "clock", text), obj)


def fault_row(e, js):
    if js:
        return {"fault": faults.name(e[0]), "code": e[0], "boot": e[1], "session": e[2],
                "date": civil.iso(e[3]), "time": civil.text(e[3])}
    return "  %s  %s (code %d) in boot %d, after session %d" % (
        civil.text(e[3]), faults.name(e[0]), e[0], e[1], e[2])


def session_row(e, js, who):
    """A history entry (history.History.entry) of the profile called who."""
    t = e[7]
    if js:
        return {"session": e[0], "profile": who, "date": civil.iso(t),
                "time": civil.text(t), "program": program_name(e[1]), "level": e[2],
                "deepest_mdeg": e[3], "head_down_ms": e[4],
                "ended": profiles.ended_name(e[5])}
    return "#%-4d %-27s %-11s level %d  deepest %7s deg  head-down %8s s  %s" % (
        e[0], civil.text(t), program_name(e[1]), e[2], fmt_milli(e[3]),
        fmt_milli(e[4]), profiles.ended_name(e[5]))
