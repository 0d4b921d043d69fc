"""Console commands a client uses all the time: status, stream, json (help, selftest,
version and log: console_about.py; faults, history and clock: console_records.py; both
imported only while one of their commands runs).

They change nothing of the table. Long listings pass their rows as numbers or records
and a row formatter, so each row is read and worded only when its turn comes.
"""

from micropython import const

# The console protocol (firmware/console.py states it), bumped when a client of one
# version cannot work with a firmware of another: 2 added the `%<n>` request (the human
# text, then an end line {"ok", "id"}), which a protocol-1 firmware leaves unanswered
# under that id, so a client sending it would wait for a reply that never comes.
PROTOCOL = const(2)


def c_status(con):
    therapist = con.view.auth.is_authorised(con.now_ms, False)
    con.out.ok(None, pairs=con.view.status_pairs(therapist, not con.out.js()))


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
