"""Console commands that only report or set up the conversation: help, status,
selftest, version, log, stream, json (faults, history and clock: console_records.py).

They change nothing of the table. Long listings pass their rows as numbers or records
and a row formatter, so each row is read and worded only when its turn comes.
"""

import sys

import faults
from cmdparse import command, command_count
from console_text import event_row, help_row
from micropython import const

PROTOCOL = const(1)  # bumped when a reply's shape changes incompatibly
_LOG_DEFAULT = const(20)


def c_help(con, name):
    # all: rows are command numbers, each read from the table when its turn comes
    rows = range(command_count()) if name is None else [command(name)]
    con.out.ok(None, key="commands", rows=rows, row=help_row)


def c_status(con):
    therapist = con.view.auth.is_authorised(con.now_ms, False)
    con.out.ok(None, pairs=con.view.status_pairs(therapist))


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


def c_stream(con, hz):
    con.tel.set_rate(hz, con.now_ms)
    con.out.ok("ok stream: %s" % (("%d Hz" % hz) if hz else "off"), {"stream_hz": hz})


def c_json(con, onoff):
    out = con.out
    on = out.json if onoff is None else onoff == "on"
    # The reply to `json on` and to `json off` is JSON: whoever switches expects it.
    out.json = out.json or on
    out.ok("ok json: %s" % ("on" if on else "off"), {"json": on})
    out.json = on
