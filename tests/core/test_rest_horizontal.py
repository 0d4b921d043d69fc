"""Issue #18: a rest at horizontal on every path from head-down to the loading position.

Hand-worked cases on the core rig (tests/core/rig.py): a jog up, a goto to the loading
position (after a stop too), a program's end, the console return, the recovery after a
power cut head-down, a fault's return. Each checks the ms the table spent standing
within a degree of horizontal before it went on head-up.
"""

from commissioning import IMU_UNCAL_ERR_MDEG
from rig import TICK_MS, Rig
from signals import SW_UP
from states import (
    C_ACK,
    C_GOTO,
    C_RECOVER,
    C_RETURN,
    C_START,
    C_STOP,
    FAULT,
    HOLDING,
    P_LATCHED,
    P_RESTING,
    READY,
    RECOVERY,
)


def _holding_at(r, angle_mdeg):
    r.ready_homed()
    assert r.core.command(C_GOTO, angle_mdeg) == 0
    r.run_until(lambda x: x.core.state == HOLDING, 60000)


def _ms_near(r, lo_mdeg, hi_mdeg, max_ms, stop=None):
    """Tick up to max_ms; the ms the table spent inside [lo, hi]."""
    n = 0
    for _ in range(max_ms // TICK_MS):
        r.tick()
        a = r.plant.angle_mdeg()
        if lo_mdeg <= a <= hi_mdeg:
            n += TICK_MS
        if stop is not None and stop(r):
            break
    return n


# ------------------------------------------------------------ the rest at horizontal


def test_jog_up_across_horizontal_stops_there_for_the_rest_pause():
    r = Rig()
    _holding_at(r, 20000)
    r.plant.buttons = SW_UP  # held all the way
    rest = r.cfg.rest_pause_ms
    near = _ms_near(r, -1000, 1000, 20000 + rest)
    assert near >= rest, near
    assert r.plant.angle_mdeg() > -2000  # still held, but not on toward loading


def test_goto_loading_from_head_down_rests_at_horizontal():
    r = Rig()
    _holding_at(r, 25000)
    assert r.core.command(C_GOTO, r.cfg.loading_angle_mdeg) == 0
    near = _ms_near(r, -1000, 1000, 120000, stop=lambda x: x.core.state == READY)
    assert near >= r.cfg.rest_pause_ms, near


def test_stop_then_goto_loading_from_head_down_rests_too():
    r = Rig()
    r.ready_homed()
    assert r.core.command(C_GOTO, 30000) == 0
    r.run_until(lambda x: x.plant.angle_mdeg() > 15000, 60000)
    assert r.core.command(C_STOP) == 0
    r.run_until(lambda x: x.core.state == HOLDING, 60000)
    assert r.core.command(C_GOTO, r.cfg.loading_angle_mdeg) == 0
    near = _ms_near(r, -1000, 1000, 120000, stop=lambda x: x.core.state == READY)
    assert near >= r.cfg.rest_pause_ms, near


# --------------------------------------------- every other path from head-down to loading


def _rest_before_up(r, max_ms, stop, was_down=False):
    """Tick until stop(r) (or max_ms): the longest unbroken stretch the table spent
    within 1 deg of the rest angle between its last tick head-down (was_down: before
    the first tick watched) and its first tick more than 1 deg head-up of the rest
    angle; -1 if it never went there."""
    cfg = r.cfg
    rest = cfg.rest_angle_mdeg
    near = best = 0
    down = was_down
    for _ in range(max_ms // TICK_MS):
        r.tick()
        a = r.plant.angle_mdeg()
        if a > cfg.head_down_mdeg:
            near = best = 0
            down = True
        elif a < rest - 1000:
            if down:
                return best
        elif a <= rest + 1000:
            near += TICK_MS
            if near > best:
                best = near
        else:
            near = 0
        if stop(r):
            break
    return -1


def _ready(r):
    return r.core.state == READY


def test_power_cut_head_down_owes_the_rest_on_every_way_up():
    r = Rig(angle_mdeg=20000)
    r.boot()
    assert r.core.state == RECOVERY
    assert r.core.command(C_RECOVER) == 0
    r.run_until(lambda x: x.plant.angle_mdeg() < 10000, 60000)
    assert r.core.command(C_STOP) == 0  # stopped on the way: then a goto to loading
    r.run_until(lambda x: x.core.state == HOLDING, 60000)
    assert r.core.command(C_GOTO, r.cfg.loading_angle_mdeg) == 0
    assert r.core.target_mdeg == r.cfg.rest_angle_mdeg
    assert _rest_before_up(r, 200000, _ready) >= r.cfg.rest_pause_ms
    r.state_is(READY)


def test_power_cut_in_the_head_down_band_is_owed_a_rest():
    r = Rig(angle_mdeg=2500)  # just head-down of the threshold
    r.boot()
    assert r.core.command(C_RECOVER) == 0
    assert _rest_before_up(r, 200000, _ready) >= r.cfg.rest_pause_ms


def test_fault_return_then_return_rests():
    r = Rig()
    _holding_at(r, 25000)
    r.plant.imu_error = 110  # ETIMEDOUT: a fault; its return goes on the steps
    r.run_until(lambda x: x.core.state == FAULT and x.core.phase == P_LATCHED, 60000)
    assert abs(r.plant.angle_mdeg()) <= 1000
    r.plant.imu_error = 0
    r.run_until(lambda x: x.core.est.valid, 5000)
    assert r.core.command(C_ACK) == 0  # at once: the pause is not over yet
    assert r.core.state == HOLDING
    assert r.core.command(C_RETURN) == 0
    rested = _rest_before_up(r, 200000, _ready, was_down=True)
    assert rested >= r.cfg.rest_pause_ms, rested  # counted from the return alone
    r.state_is(READY)


def test_emergency_return_then_jog_up_waits_for_the_rest():
    r = Rig()
    _holding_at(r, 25000)
    r.plant.estop = True
    r.plant.estop_edges += 1
    r.run_until(lambda x: x.core.phase == P_LATCHED and not x.out.enable, 60000)
    r.plant.estop = False
    r.tick(10)
    assert r.core.command(C_ACK) == 0
    r.plant.buttons = SW_UP
    rested = _rest_before_up(r, 30000, lambda x: False, was_down=True)
    assert rested == -1  # held all along: it stays at horizontal
    r.plant.buttons = 0
    r.tick(50)
    r.plant.buttons = SW_UP  # a new press after the pause: on to the loading position
    r.run_until(lambda x: x.plant.angle_mdeg() < -20000, 60000)


def test_a_new_press_during_the_pause_still_waits_then_one_after_it_goes_on():
    r = Rig()
    _holding_at(r, 10000)
    r.plant.buttons = SW_UP
    r.run_until(lambda x: abs(x.plant.angle_mdeg()) < 100 and x.core.plan.done(), 60000)
    r.plant.buttons = 0
    r.tick(50)
    r.plant.buttons = SW_UP  # too early: the rest is still owed
    r.tick(200)
    assert r.plant.angle_mdeg() > -600
    r.plant.buttons = 0
    r.tick(r.cfg.rest_pause_ms // TICK_MS)
    r.plant.buttons = SW_UP
    r.run_until(lambda x: x.plant.angle_mdeg() < -50000, 60000)


def test_goto_head_up_of_the_rest_angle_rests_then_goes_on_by_itself():
    r = Rig()
    _holding_at(r, 20000)
    assert r.core.command(C_GOTO, -30000) == 0
    rested = _rest_before_up(r, 120000, lambda x: x.core.state == HOLDING)
    assert rested >= r.cfg.rest_pause_ms, rested
    r.run_until(lambda x: x.core.state == HOLDING, 60000)
    assert abs(r.plant.angle_mdeg() + 30000) <= 20


def test_program_end_rests():
    r = Rig()
    r.ready_homed()
    assert r.core.command(C_START) == 0  # beginner: 20 deg for 90 s
    rested = _rest_before_up(r, 400000, _ready)
    assert rested >= r.cfg.rest_pause_ms, rested


def test_console_return_while_moving_head_down_rests():
    r = Rig()
    r.ready_homed()
    assert r.core.command(C_GOTO, 30000) == 0
    r.run_until(lambda x: x.plant.angle_mdeg() > 12000, 60000)
    assert r.core.command(C_RETURN) == 0
    rested = _rest_before_up(r, 200000, _ready)
    assert rested >= r.cfg.rest_pause_ms, rested


def test_a_goto_to_loading_braking_across_the_threshold_rests_too():
    """Sent up while still going down just below the head-down threshold: the braking
    carries it past the threshold after the goto was planned, so the rest is owed then."""
    r = Rig()
    r.ready_homed()
    assert r.core.command(C_GOTO, 30000) == 0
    # past the lift check (it stops the descent at -0.48 deg and lifts 1 deg), 0.7 deg
    # short of the threshold: the move from -1.48 deg has 1.28 deg of speed, and braking
    # at the same rate carries it to +1.08 deg
    r.run_until(lambda x: x.core.liftcheck.proven
                and x.plant.angle_mdeg() > x.cfg.head_down_mdeg - 700, 60000)
    assert r.core.command(C_GOTO, r.cfg.loading_angle_mdeg) == 0
    assert r.core.target_mdeg == r.cfg.loading_angle_mdeg  # nothing owed yet
    rested = _rest_before_up(r, 200000, _ready)
    assert rested >= r.cfg.rest_pause_ms, rested


def test_goto_reply_says_the_rest_comes_first():
    from test_console import Rig as ConsoleRig

    r = ConsoleRig(json_mode=True, homed=True, consent=True)
    assert r.cmd("goto 10")["ok"] is True
    r.step_until(lambda x: x.core.state == HOLDING, 60000)
    o = r.cmd("goto -60")
    assert o["ok"] is True and o["target_mdeg"] == 0
    assert o["note"] == "the rest at horizontal first, then on"


def test_not_homed_and_uncalibrated_the_return_rests_short_of_horizontal():
    """attack18e 7: powered up uncalibrated at 20 deg, the count is referenced on an IMU
    reading 4 deg low: the return rested at horizontal by the count, a true +4.03 deg
    head-down, for the whole pause. Not homed and uncalibrated, the return's rest is the
    IMU's worst error head-up of the rest angle by the count (commissioning.
    unhomed_max_mdeg: -5.4 deg), so the table is surely not head-down there; the pause
    is kept, then the way to loading and homing."""
    r = Rig(angle_mdeg=20000, imu_calibrated=0)
    r.plant.imu_bias_mdeg = -4000
    r.boot()
    assert r.core.state == RECOVERY and not r.core.homed
    assert r.core.command(C_RECOVER) == 0
    r.run_until(lambda x: x.core.phase == P_RESTING, 120000)
    highest = r.plant.angle_mdeg()
    rested = 0
    while r.core.phase == P_RESTING:
        highest = max(highest, r.plant.angle_mdeg())
        rested += TICK_MS
        r.tick()
    assert highest <= 0, highest  # not head-down during the rest (true -1.4 deg)
    assert highest >= -IMU_UNCAL_ERR_MDEG, highest  # and near horizontal
    assert rested >= r.cfg.rest_pause_ms - TICK_MS
    r.run_until(lambda x: x.core.state == READY and x.core.homed, 240000)
