"""Issue #22, the ankle lock (firmware/anklelock.py; its filter in switches.py): no motion
head-down of horizontal unless the lock reads closed, from every source; opening it while
head-down starts the emergency return to horizontal, which stays there; a glitch shorter
than the filter does nothing; head-up motion stays allowed (the person may get off).

The rig's Plant.force_switches holds SW_ANKLE_LOCK (the contact open: the lock not
engaged, or its wire cut - the pin reads the same). Runs on CPython and the MicroPython
unix port.

Covers: HZ-22
"""

import faults
import programs
from anklelock import ESTOP_ANKLE
from events import E_ANKLE_LOCK, E_COMMAND, E_ESTOP, E_SHORT_END
from rig import Rig
from signals import IND_ALARM, SW_ANKLE_LOCK, SW_DOWN, SW_START, SW_UP
from states import (
    C_ACK,
    C_ESTOP,
    C_GOTO,
    C_JOG_DOWN,
    C_RECOVER,
    C_RETURN,
    C_START,
    EMERGENCY_RETURN,
    HOLDING,
    JOGGING,
    MOVING,
    OK,
    P_LATCHED,
    R_ANKLE_LOCK,
    R_STATE,
    READY,
    RECOVERY,
    RETURNING,
    reason_name,
)
from switches import ANKLE_SAMPLES
from test_alloc import _check


def _lock(r, engaged):
    r.plant.force_switches = 0 if engaged else SW_ANKLE_LOCK


def _held(r, angle_mdeg):
    """Homed, the lock closed, holding at angle_mdeg."""
    r.ready_homed()
    assert r.core.command(C_GOTO, angle_mdeg) == OK
    r.state_is(HOLDING)
    r.run_until(lambda x: x.core.plan.done(), 60000)


def _last_command(r):
    e = r.events(E_COMMAND)[-1]
    return e[2], e[3]


def test_open_refuses_head_down_from_the_console_the_buttons_and_programs():
    r = Rig()
    r.ready_homed()
    _lock(r, False)
    r.tick(ANKLE_SAMPLES)
    assert "ankle lock not engaged" in reason_name(R_ANKLE_LOCK)
    assert r.core.command(C_GOTO, 20000) == R_ANKLE_LOCK
    assert r.core.command(C_GOTO, 1) == R_ANKLE_LOCK
    assert r.core.command(C_START) == R_ANKLE_LOCK
    r.plant.buttons = SW_START  # a short START in READY: the program
    r.tick(10)
    r.plant.buttons = 0
    r.tick(10)
    assert r.core.state == READY
    assert _last_command(r) == (C_START, R_ANKLE_LOCK)
    # up to horizontal: allowed (head-up of it the person may be helped on or off)
    assert r.core.command(C_GOTO, 0) == OK
    r.state_is(HOLDING)
    r.run_until(lambda x: x.core.plan.done(), 60000)
    assert r.core.command(C_JOG_DOWN) == R_ANKLE_LOCK  # at horizontal: nowhere head-down
    assert abs(r.plant.angle_mdeg()) <= 200
    assert not r.events(E_ANKLE_LOCK)  # not head-down: nothing to react to


def test_a_jog_down_from_head_up_stops_at_horizontal_while_open():
    r = Rig()
    _held(r, -20000)
    _lock(r, False)
    r.tick(ANKLE_SAMPLES)
    r.plant.buttons = SW_DOWN  # hold-to-run, from head-up of horizontal: allowed, clamped
    r.tick(10)
    assert r.core.state == JOGGING
    assert r.core.targets.target_mdeg == r.cfg.rest_angle_mdeg
    r.run_until(lambda x: x.core.plan.done(), 60000)
    r.tick(100)
    assert r.core.state == JOGGING and -500 <= r.plant.angle_mdeg() <= 100
    assert not r.events(E_ANKLE_LOCK)


def test_a_glitch_shorter_than_the_filter_does_nothing():
    r = Rig()
    _held(r, 5000)
    for _ in range(3):
        _lock(r, False)
        r.tick(ANKLE_SAMPLES - 1)  # up to 20 ms of open contact is at most 2 samples
        _lock(r, True)
        r.tick(5)
    assert r.core.state == HOLDING and not r.events(E_ANKLE_LOCK)
    _lock(r, False)
    r.tick(ANKLE_SAMPLES)  # the third sample in a row counts
    assert r.core.state == EMERGENCY_RETURN


def test_opening_at_depth_returns_to_horizontal_and_stays_there():
    r = Rig()
    _held(r, 20000)
    _lock(r, False)
    r.tick(ANKLE_SAMPLES)
    assert r.core.state == EMERGENCY_RETURN
    e = r.events(E_ANKLE_LOCK)
    assert len(e) == 1 and e[0][2] == HOLDING and 19000 < e[0][3] < 21000
    assert [x[2] for x in r.events(E_ESTOP)] == [ESTOP_ANKLE]
    assert r.out.buzzer == IND_ALARM
    r.run_until(lambda x: x.core.phase == P_LATCHED and x.core.plan.done(), 20000)
    assert abs(r.plant.angle_mdeg()) <= 500
    r.tick(1200)  # longer than the rest pause: it does not move on toward loading
    assert r.core.state == EMERGENCY_RETURN and abs(r.plant.angle_mdeg()) <= 500
    assert r.out.buzzer == IND_ALARM and not r.out.enable
    # ack stands still at horizontal; head-down still refused, head-up allowed
    assert r.core.command(C_ACK) == OK
    assert r.core.state == HOLDING
    a = r.plant.angle_mdeg()
    r.tick(100)
    assert r.plant.angle_mdeg() == a
    assert r.core.command(C_GOTO, 20000) == R_ANKLE_LOCK
    assert r.core.command(C_RETURN) == OK  # the deliberate way off the table
    r.state_is(READY)
    assert r.core.fault == faults.NONE
    # closed again: a new session may go head-down
    _lock(r, True)
    r.tick(ANKLE_SAMPLES)
    assert r.core.command(C_GOTO, 20000) == OK
    r.run_until(lambda x: x.core.state == MOVING and x.plant.angle_mdeg() > -50000, 30000)


def test_opening_on_the_way_down_stops_before_horizontal():
    r = Rig()
    r.ready_homed()
    assert r.core.command(C_GOTO, 30000) == OK
    r.run_until(lambda x: x.plant.angle_mdeg() > -15000, 60000)
    _lock(r, False)
    deepest = -90000
    for _ in range(1500):
        r.tick()
        deepest = max(deepest, r.plant.angle_mdeg())
    assert r.core.state == EMERGENCY_RETURN and len(r.events(E_ANKLE_LOCK)) == 1
    assert deepest < -14000  # stopped where it was (braking only), head-up of horizontal


def test_head_up_of_horizontal_opening_is_no_emergency_and_the_way_up_works():
    r = Rig()
    _held(r, -20000)
    _lock(r, False)
    r.tick(200)
    assert r.core.state == HOLDING and not r.events(E_ANKLE_LOCK)
    r.plant.buttons = SW_UP  # hold-to-run: the person may get off
    r.tick(10)
    assert r.core.state == JOGGING
    r.run_until(lambda x: x.core.plan.done(), 60000)
    assert r.plant.angle_mdeg() < -55000


def test_opening_during_a_normal_return_head_down_stops_it_at_horizontal():
    r = Rig()
    _held(r, 10000)
    assert r.core.command(C_RETURN) == OK
    r.tick(100)
    assert r.core.state == RETURNING
    _lock(r, False)
    r.tick(ANKLE_SAMPLES)
    assert r.core.state == EMERGENCY_RETURN
    r.run_until(lambda x: x.core.phase == P_LATCHED and x.core.plan.done(), 20000)
    r.tick(1100)  # longer than the rest pause: no going on to the loading position
    assert abs(r.plant.angle_mdeg()) <= 500


def test_after_a_reset_head_down_nothing_moves_by_itself_then_horizontal_not_loading():
    """Booted at 20 deg with the lock open: nothing moves until the deliberate command
    (a reset never starts motion); its return, head-down with the lock open, is the
    emergency return to horizontal, which stays there like any other."""
    r = Rig(angle_mdeg=10000)
    _lock(r, False)
    r.boot()
    assert r.core.state == RECOVERY
    r.tick(200)
    assert r.core.state == RECOVERY and not r.out.enable and not r.events(E_ANKLE_LOCK)
    # the state answers first (RECOVERY takes no goto), then the lock (issue #22 tester)
    assert r.core.command(C_GOTO, 20000) == R_STATE
    assert r.core.command(C_RECOVER) == OK
    r.tick(ANKLE_SAMPLES)
    assert r.core.state == EMERGENCY_RETURN and len(r.events(E_ANKLE_LOCK)) == 1
    r.run_until(lambda x: x.core.phase == P_LATCHED and x.core.plan.done(), 60000)
    r.tick(1100)
    assert abs(r.plant.angle_mdeg()) <= 500


def test_opening_in_a_program_at_horizontal_ends_it_there():
    """An interval program's flat rest: not head-down, but the next segment would be;
    opened there, the program ends in the emergency latch at horizontal."""
    r = Rig()
    r.ready_homed()
    r.core.program_id = programs.INTERVAL
    assert r.core.command(C_START, 5000, 2000) == OK
    r.run_until(lambda x: x.core.state == HOLDING and x.core.targets.target_mdeg == 0
                and x.core.plan.done(), 120000)
    _lock(r, False)
    r.tick(ANKLE_SAMPLES)
    assert r.core.state == EMERGENCY_RETURN and not r.core.runner.active
    deepest = -90000
    for _ in range(3500):  # past the 30 s rest: no next segment
        r.tick()
        deepest = max(deepest, r.plant.angle_mdeg())
    assert deepest <= 500 and r.core.state == EMERGENCY_RETURN


def test_no_allocation_while_open_nor_in_the_reaction():
    r = Rig()
    _held(r, 5000)
    _lock(r, False)
    # _check warms up with 2 ticks (the filter's first samples), then measures these:
    # the third sample, whose tick starts the emergency return, is in the measurement
    _check(r, HOLDING, ANKLE_SAMPLES - 1)
    assert r.core.state == EMERGENCY_RETURN
    _check(r, EMERGENCY_RETURN, 200)
    r.run_until(lambda x: x.core.phase == P_LATCHED and x.core.plan.done(), 20000)
    assert r.core.command(C_ACK) == OK
    _check(r, HOLDING, 200)  # open, at horizontal: watched every tick


def test_opened_on_the_way_to_loading_stops_there_until_a_deliberate_head_up_command():
    """Issue #22 tester (F3): a return head-up of horizontal goes on to the loading
    position by itself no more once the lock opens: it stops where it is, latched; after
    `ack` a deliberate `return`, begun with the lock open, goes on to loading."""
    r = Rig()
    _held(r, 5000)
    assert r.core.command(C_RETURN) == OK
    r.run_until(lambda x: x.core.state == RETURNING and x.plant.angle_mdeg() < -20000, 120000)
    _lock(r, False)
    r.tick(ANKLE_SAMPLES)
    assert r.core.state == EMERGENCY_RETURN and len(r.events(E_ANKLE_LOCK)) == 1
    r.run_until(lambda x: x.core.phase == P_LATCHED and x.core.plan.done(), 20000)
    stopped = r.plant.angle_mdeg()
    assert -30000 < stopped < -20000  # braked where it was, not on to loading
    r.tick(300)
    assert r.plant.angle_mdeg() == stopped
    assert r.core.command(C_ACK) == OK
    r.tick(100)
    assert r.plant.angle_mdeg() == stopped
    assert r.core.command(C_RETURN) == OK
    r.run_until(lambda x: x.core.state == READY, 120000)
    assert len(r.events(E_ANKLE_LOCK)) == 1


def test_with_the_rest_angle_below_horizontal_the_return_is_judged_at_horizontal():
    """rest_angle_mdeg -10000: the ankle lock's emergency return goes to horizontal, and
    its arrival is judged there (the return's own goal), not at the rest angle: 10 deg
    "head-down of rest" at horizontal is no shortfall, no further try toward -10 deg."""
    r = Rig(rest_angle_mdeg=-10000)
    _held(r, 20000)
    _lock(r, False)
    r.tick(ANKLE_SAMPLES)
    assert r.core.state == EMERGENCY_RETURN and r.core.targets.return_mdeg == 0
    r.run_until(lambda x: x.core.phase == P_LATCHED and x.core.plan.done(), 20000)
    r.tick(300)
    assert r.core.phase == P_LATCHED and not r.out.enable
    assert abs(r.plant.angle_mdeg()) <= 200, r.plant.angle_mdeg()
    assert not r.events(E_SHORT_END) and not r.core.lift.gave_up


def test_opening_during_an_estop_return_to_a_rest_angle_below_horizontal_stops_it_there():
    """fix18f (2): rest_angle_mdeg -10000, the e-stop at 30 deg: its return goes to -10 deg.
    The lock opening at 15 deg on the way (the e-stop's return already under way, so no
    new reaction started) kept that goal: the unheld person went on to -10 deg, feet-down.
    The return now passes horizontal as its goal, and is judged there."""
    r = Rig(rest_angle_mdeg=-10000)
    _held(r, 30000)
    assert r.core.command(C_ESTOP) == OK
    assert r.core.state == EMERGENCY_RETURN and r.core.targets.return_mdeg == -10000
    r.run_until(lambda x: x.plant.angle_mdeg() < 15000, 20000)
    _lock(r, False)
    r.tick(ANKLE_SAMPLES)
    lowest = r.plant.angle_mdeg()
    while not (r.core.phase == P_LATCHED and r.core.plan.done()):
        assert r.t_ms < 600000
        r.tick()
        lowest = min(lowest, r.plant.angle_mdeg())
    r.tick(300)
    lowest = min(lowest, r.plant.angle_mdeg())
    assert r.core.phase == P_LATCHED and not r.out.enable
    assert lowest >= -200, lowest  # never feet-down of horizontal
    assert r.core.state == EMERGENCY_RETURN and r.core.targets.return_mdeg == 0
    assert len(r.events(E_ANKLE_LOCK)) == 1
    assert abs(r.plant.angle_mdeg()) <= 200, r.plant.angle_mdeg()
    assert not r.events(E_SHORT_END) and not r.core.lift.gave_up


def test_opening_during_an_estop_return_head_up_of_horizontal_stops_it_where_it_is():
    """The same return, the lock opening at -5 deg (head-up of horizontal, on the way to
    the -10 deg rest angle): as on any way up nobody asked for with the lock open, the
    table stops where it is, latched; it goes no further feet-down."""
    r = Rig(rest_angle_mdeg=-10000)
    _held(r, 30000)
    assert r.core.command(C_ESTOP) == OK
    r.run_until(lambda x: x.plant.angle_mdeg() < -5000, 30000)
    _lock(r, False)
    r.tick(ANKLE_SAMPLES)
    r.run_until(lambda x: x.core.phase == P_LATCHED and x.core.plan.done(), 20000)
    r.tick(300)
    assert r.core.phase == P_LATCHED and r.core.state == EMERGENCY_RETURN
    # braking from emergency speed after the 30 ms filter: well short of -10 deg
    assert r.plant.angle_mdeg() > -7000, r.plant.angle_mdeg()

