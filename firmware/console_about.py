"""Console commands about the firmware and its past, imported only while one of them
runs (console._ON_DEMAND): help, selftest, version, log.

They change nothing of the table; their code stays off the resident heap. Long listings
pass their rows as numbers and a row formatter, so each row is read and worded only
when its turn comes.
"""

import sys

import cmdhelp
import events
import faults
from cmdparse import command, command_at, command_count, fmt_milli
from console_info import PROTOCOL
from console_text import event_text
from micropython import const

_LOG_DEFAULT = const(20)
_HELP_COL = const(23)  # `help`: the usage column's width (the longest short usage is 21)
_HELP_WIDTH = const(57)  # and the help's, so that a row fits 80 columns


def c_help(con, name):
    # all: rows are command numbers, each read from the table when its turn comes
    rows = range(command_count()) if name is None else [command(name)]
    con.out.ok(None, key="commands", rows=rows, row=help_row)


def c_selftest(con):
    st = con.selftest
    if st is None:
        result = "running"
    elif st == 0:
        result = "passed"
    else:
        result = "failed: %s" % faults.name(st)
    con.out.ok(None, pairs=con.view.selftest_pairs(result))


def c_version(con):
    impl = sys.implementation
    v = impl.version
    con.out.ok(None, pairs=(
        ("firmware", con.view.version),
        ("build", con.view.build),
        ("protocol", PROTOCOL),
        ("platform", sys.platform),
        ("python", "%s %d.%d.%d" % (impl.name, v[0], v[1], v[2])),
    ))


def c_log(con, n):
    log = con.view.log
    start = log.seq - (_LOG_DEFAULT if n is None else n)
    if start < log.oldest_seq():
        start = log.oldest_seq()
    # rows are sequence numbers: each event is read and worded only when its turn
    # comes (a few per tick), not all at once
    con.out.ok(None if start < log.seq else "no events",
               {"fields": ["t_ms", "event", "a", "b", "text"]}, key="events",
               rows=range(start, log.seq), row=lambda seq, js: event_row(log.get(seq), js))


def event_row(ev, js):
    """An event log record (t_ms, code, a, b), or None if it was overwritten meanwhile."""
    if ev is None:  # the ring wrapped while listing: say so
        t, ename, a, b, text = 0, "lost", 0, 0, "overwritten while listing"
    else:
        t, code, a, b = ev
        ename = events.name(code)
        if ename is None:
            ename = str(code)
        text = event_text(code, a, b)
    if js:
        return [t, ename, a, b, text]
    return "%10s s  %-13s %s" % (fmt_milli(t), ename, text)


def help_row(c, js):
    if type(c) is int:
        c = command_at(c)
    assert c is not None
    what = cmdhelp.text(c[0]) or ""  # every command has one (tests); pyright: Optional
    if js:
        return {"name": c[0], "usage": c[1], "help": what}
    # the usage in a column, the help wrapped beside it: 80 columns; a long usage
    # (config, profile) has its help on the lines below
    usage = c[1]
    pad = _HELP_COL - len(usage)
    lines = [usage + " " * pad if pad > 0 else usage + "\n" + " " * _HELP_COL]
    n = 0
    for w in what.split():
        if n and n + len(w) >= _HELP_WIDTH:
            lines.append("\n" + " " * _HELP_COL)
            n = 0
        lines.append(w if not n else " " + w)
        n += len(w) + (1 if n else 0)
    return "".join(lines)
