"""The child lock against every console command (issue #21): a hypothesis property.

With the child lock on, no sequence of console lines - motion commands, programs,
consent, calibration, homing, PIN guesses, unlock attempts, restarts, noise - makes the
table's angle increase (head further down), from the loading stop or from a hold at
depth. The real App runs on the console test rig (tests/core/test_console.py: the real
core, console and auth on a plant that integrates the step outputs), and the angle
checked is the plant's, the table's true angle, sampled every loop pass.
"""

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from states import HOLDING
from test_console import Rig

_LINES = (
    "goto 30", "goto 5", "goto 60", "goto -10", "start", "start 30 60", "hold 120",
    "program interval", "program custom", "program beginner", "consent", "consent yes",
    "home", "calibrate", "calibrate 10", "stop", "return", "estop", "ack", "discomfort",
    "unlock", "unlock 0000", "unlock 1234", "login 0000", "pin set 1111", "pin set 0000 9999",
    "lock", "maintenance 0000", "reboot", "status", "profile set max_deg 60",
    "config set soft_max_deg 60", "json off", "json on", "stream 10", "stream off",
)
_TOLERANCE_MDEG = 5  # the plant rounds steps to mdeg: a rounding step is not a move


def _locked_rig(at_depth):
    r = Rig(json_mode=True, homed=True, consent=True, pin_setup=True)
    assert r.cmd("pin set 4821")["ok"]
    if at_depth:
        assert r.cmd("goto 20")["ok"]
        r.step_until(lambda rig: rig.core.state == HOLDING, 120000)
    assert r.cmd("lock")["ok"]
    return r


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(at_depth=st.booleans(),
       seq=st.lists(st.tuples(st.sampled_from(_LINES), st.integers(0, 80)), max_size=14))
def test_with_the_child_lock_on_no_console_line_raises_the_angle(at_depth, seq):
    r = _locked_rig(at_depth)
    prev = r.plant.angle_mdeg()
    for line, ticks in seq:
        r.board.host_send(line.encode() + b"\n")
        for _ in range(ticks + 2):
            r.step()
            a = r.plant.angle_mdeg()
            assert a <= prev + _TOLERANCE_MDEG, (line, a, prev)
            prev = a
        assert r.core.child_lock, line  # nothing from the console turned it off
