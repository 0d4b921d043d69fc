"""Issue #22, the ankle lock, on the simulated table and as a property of the core.

The acceptance scenarios are files (scenarios/ankle_lock_*.toml, run with every other
scenario by test_scenarios.py, which requires them): no head-down motion with the lock
open; opened at depth, back to horizontal and it stays there; a cut wire at depth, then
a new session once repaired; glitches shorter than the filter do nothing. Here: what a
scenario file cannot say - the firmware's own record of the reaction on the simulated
table (its event and the e-stop source, within the filter time of the opening), and the
hypothesis property: once the lock is open (and stays open), after the filter time the
table never goes deeper than where it was or horizontal, whichever is deeper, plus the
braking distance, whatever is commanded. (Head-up of horizontal, motion toward it stays
allowed, as the rule is "nothing past horizontal": a move under way there, e.g. on from
the lift check near horizontal, ends at the clamp, horizontal.)

Covers: HZ-22
"""

import copy
import os

from anklelock import ESTOP_ANKLE
from events import E_ANKLE_LOCK, E_ESTOP
from hypothesis import given, settings
from hypothesis import strategies as st
from rig import Rig
from signals import SW_ANKLE_LOCK, SW_DOWN, SW_UP
from states import (
    C_ACK,
    C_GOTO,
    C_JOG_DOWN,
    C_RETURN,
    C_START,
    C_STOP,
    HOLDING,
    OK,
)
from switches import ANKLE_SAMPLES

from host_tools import scenario
from host_tools.paths import ROOT

_TICK_MS = 10


def test_the_firmware_records_the_ankle_lock_reaction_on_the_simulated_table():
    """The lock opened at depth (its own scenario file): the firmware logs E_ANKLE_LOCK
    in HOLDING at 20 deg and the e-stop source 4, within the filter time of the opening."""
    sc = scenario.load(os.path.join(ROOT, "scenarios", "ankle_lock_opened_at_depth.toml"))
    result = scenario.run(sc)
    assert result.passed, result.failures
    ev = result.recorder.events
    opened = [e[0] for e in ev if e[1] == "scenario" and e[2] == "ankle_lock"]
    fw = [e for e in ev if e[1] == "fw" and e[2] in ("ankle_lock", "estop")]
    assert len(opened) == 1 and len(fw) == 2, (opened, fw)
    assert "HOLDING at 20." in fw[0][3] and "ankle lock opened" in fw[1][3]
    assert 0 < fw[0][0] - opened[0] <= (ANKLE_SAMPLES + 1) * _TICK_MS
    assert fw[1][0] == fw[0][0]


def _at_horizontal():
    r = Rig()
    r.ready_homed()
    assert r.core.command(C_GOTO, 0) == OK
    r.state_is(HOLDING)
    r.run_until(lambda x: x.core.plan.done(), 60000)
    return r


_BASE = []  # one homed rig at horizontal, copied for every example


def _fresh():
    if not _BASE:
        _BASE.append(_at_horizontal())
    return copy.deepcopy(_BASE[0])


def _braking_mdeg(cfg):
    """How far head-down a table moving at the fastest head-down speed (normal) goes once
    the emergency return brakes: two ticks of the dead-man window, then the ramp, plus
    the plant's rounding."""
    v = cfg.normal_speed_mdeg_s
    return v * v // (2 * cfg.emergency_accel_mdeg_s2) + 2 * _TICK_MS * v // 1000 + 20


_ACTIONS = st.sampled_from(("goto", "start", "jog_down", "down_held", "up_held", "return",
                            "stop", "ack"))


@settings(max_examples=20, deadline=None)
@given(target=st.integers(1000, 30000), open_after=st.integers(0, 900),
       seq=st.lists(st.tuples(_ACTIONS, st.integers(-20000, 40000), st.integers(1, 300)),
                    max_size=5))
def test_once_open_the_table_never_goes_further_head_down_than_braking(target, open_after,
                                                                         seq):
    r = _fresh()
    assert r.core.command(C_GOTO, target) == OK
    r.tick(open_after)
    r.plant.force_switches = SW_ANKLE_LOCK
    opened_at = r.plant.angle_mdeg()
    r.tick(ANKLE_SAMPLES)  # the filter time: from here on the lock counts as open
    limit = max(r.plant.angle_mdeg(), r.cfg.rest_angle_mdeg) + _braking_mdeg(r.cfg)
    deepest = r.plant.angle_mdeg()
    for action, a, ticks in seq:
        if action == "goto":
            r.core.command(C_GOTO, a)
        elif action == "start":
            r.core.command(C_START)
        elif action == "jog_down":
            r.core.command(C_JOG_DOWN)
        elif action == "down_held":
            r.plant.buttons = SW_DOWN
        elif action == "up_held":
            r.plant.buttons = SW_UP
        elif action == "return":
            r.core.command(C_RETURN)
        elif action == "stop":
            r.core.command(C_STOP)
        else:
            r.core.command(C_ACK)
        for _ in range(ticks):
            r.tick()
            deepest = max(deepest, r.plant.angle_mdeg())
        r.plant.buttons = 0
    r.tick(300)  # and after the last command
    deepest = max(deepest, r.plant.angle_mdeg())
    assert deepest <= limit, (deepest, limit, r.core.state)
    if opened_at > r.cfg.head_down_mdeg:
        # head-down when it opened: the emergency return took over at once
        assert r.events(E_ANKLE_LOCK) and r.events(E_ESTOP)[0][2] == ESTOP_ANKLE
