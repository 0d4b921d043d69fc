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
        assert o["ok"] is False and "only while the table stands still" in o["error"], o
        for m in console._ON_DEMAND:
            assert m not in sys.modules, (line, m)
    assert snapshot(r) == before
    o = r.cmd("status")  # resident: always answered
    assert o["ok"] is True and o["state"] == "MOVING"
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
