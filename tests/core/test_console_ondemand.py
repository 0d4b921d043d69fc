"""The console's modules loaded on demand (firmware/console.py load(), _ON_DEMAND): only
where the table cannot be moving, dropped after their command, and a MemoryError while
importing one is a reply, never a stop of the loop.

Runs on CPython (pytest) and the MicroPython unix port, on the console rig of
tests/core/test_console.py.
"""

from test_console import Rig, snapshot  # noqa: I001

import json
import sys

import console
from states import HOLDING, MOVING


def _moving_rig():
    r = Rig(json_mode=True, homed=True)
    r.reach(MOVING)
    r.step(3)  # the loop's passes: the tick pulses, the flash gate says so
    assert r.core.state == MOVING and not r.app.gate.still
    r.run()
    r.board.out = bytearray()
    return r


def test_an_on_demand_command_while_moving_is_refused_and_loads_nothing():
    r = _moving_rig()
    for m in console._ON_DEMAND:
        assert m not in sys.modules, m
    before = snapshot(r)
    for line in ("history", "faults", "log", "help", "config get", "login 2468"):
        o = r.cmd(line)
        assert o["ok"] is False and "refused while the table moves" in o["error"], o
        for m in console._ON_DEMAND:
            assert m not in sys.modules, (line, m)
    assert snapshot(r) == before
    o = r.cmd("status")  # resident: always answered
    assert o["ok"] is True and o["state"] == "MOVING"
    o = r.cmd("lock")  # the safe direction is resident: on at once, stored once still
    assert o["ok"] is True and o["child_lock"] is True and "stands still" in o["warning"]
    assert r.core.child_lock and "console_access" not in sys.modules
    # standing still (HOLDING, the driver holding): the same command runs
    r.step_until(lambda x: x.core.state == HOLDING and x.app.gate.still, 60000)
    r.run()
    r.board.out = bytearray()
    o = r.cmd("history")
    assert o["ok"] is True and "sessions" in o, o
    assert "console_records" not in sys.modules  # dropped once its reply was written


def test_a_memory_error_while_importing_is_a_reply_and_the_loop_goes_on():
    r = Rig(json_mode=True)
    real = __import__
    fails = [2]  # the first try, then the one after the collection

    def short_of_memory(name, *args):
        if name in console._ON_DEMAND and fails[0] > 0:
            fails[0] -= 1
            raise MemoryError("memory allocation failed")
        return real(name, *args)

    console.__import__ = short_of_memory  # found before the builtin, as a global
    try:
        before = snapshot(r)
        o = r.cmd("history")
        assert o == {"ok": False, "error": "not enough memory for 'history' now; try "
                     "again (the table is not affected)"}, o
        assert snapshot(r) == before
        assert "console_records" not in sys.modules
        r.step(5)  # the control loop runs on
        assert r.cmd("status")["ok"] is True
        fails[0] = 1  # the collection made room: the second try loads it
        o = r.cmd("history")
        assert o["ok"] is True and fails[0] == 0, o
    finally:
        del console.__import__
    lines = [json.loads(x) for x in r.send("faults").split("\n") if x]
    assert lines[0]["ok"] is True


def _stream_alloc(json_mode, hz):
    """Bytes allocated by 100 passes of the whole loop while the table moves and
    telemetry streams at hz, and the lines those passes wrote (MicroPython only: None
    on CPython)."""
    import gc

    r = Rig(json_mode=json_mode, homed=True, consent=True)
    r.send("goto 20")
    r.send("stream %d" % hz)
    r.step(60)  # under way, the output queue in its steady state
    assert r.core.state == MOVING
    written = [0]

    def port(data):  # the host end: takes everything, keeps only the count
        written[0] += len(data)
        return len(data)

    r.board.console_write = port
    r.step(40)
    if not hasattr(gc, "mem_alloc"):
        return None, written[0]
    gc.collect()
    gc.disable()
    try:
        before = gc.mem_alloc()
        r.step(100)
        after = gc.mem_alloc()
    finally:
        gc.enable()
    assert r.core.state == MOVING
    return after - before, written[0]


def test_streaming_telemetry_allocates_nothing_while_moving():
    # the loop never collects while the table moves (firmware/app.py): a line's garbage
    # would pile up for a whole move (at 50 Hz more than the chip's heap)
    for js in (False, True):
        for hz in (50, 10):
            alloc, written = _stream_alloc(js, hz)
            assert written > 140 * 1 * hz // 10, (js, hz, written)  # the lines went out
            assert alloc in (None, 0), (js, hz, alloc)


def test_telemetry_numbers_are_written_as_fmt_milli_and_percent_d():
    from cmdparse import fmt_milli
    from console_telemetry import put_int, put_milli

    buf = bytearray()
    for v in (0, 1, -1, 9, 10, 999, 1000, -1000, 1250, -1250, 20000, -60000, 123456789,
              -999999999, 1073741823):
        buf[0:] = b""
        put_int(buf, v)
        assert bytes(buf) == ("%d" % v).encode(), v
        buf[0:] = b""
        put_milli(buf, v)
        assert bytes(buf) == fmt_milli(v).encode(), v


def test_the_help_table_names_every_command_of_the_grammar_in_its_order():
    import cmdhelp
    from cmdparse import command_at, command_count

    names = [command_at(k)[0] for k in range(command_count())]
    assert cmdhelp.names() == names
    for n in names:
        assert cmdhelp.text(n), n
    assert cmdhelp.text("frob") is None and cmdhelp.text("goto|") is None
    r = Rig(json_mode=True)
    o = r.cmd("help goto")
    assert o["commands"] == [{"name": "goto", "usage": "goto <deg>",
                              "help": cmdhelp.text("goto")}]
    assert "cmdhelp" in console._ON_DEMAND  # dropped after each use
