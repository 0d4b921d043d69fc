"""Issue #18 (attack18e finding 2): the IMU lost head-down (its I2C wire cut, or the
sensor frozen) and a load the drive lifts only at its slowest speed (a user who slid on
the bed). With the IMU gone nothing sees lost steps, so the fault's return runs at the
slowest speed (the most torque) and its end is announced as unconfirmed (E_UNCONFIRMED,
lift.unconfirmed: the console asks for the angle to be checked), never as arrived.
Hand-worked cases on the core rig: run_heavy's table follows head-up steps only up to
1 deg/s (jog speed is 2).
"""

import faults
from events import E_UNCONFIRMED
from rig import Rig, run_heavy
from signals import IND_ALARM
from states import C_GOTO, C_RETURN, FAULT, HOLDING, P_LATCHED, P_TO_LOADING, READY, RETURNING

_IMU_FIELDS = ("acc_x_mg", "acc_y_mg", "acc_z_mg", "gyro_x_mdps", "gyro_y_mdps",
               "gyro_z_mdps")


def _holding_at(r, angle_mdeg):
    r.ready_homed()
    assert r.core.command(C_GOTO, angle_mdeg) == 0
    r.run_until(lambda x: x.core.state == HOLDING, 60000)


def _freeze_imu(r):
    """From now on the IMU repeats its last sample exactly (a stuck sensor)."""
    p = r.plant
    fill = p.fill
    held = [getattr(r.inp, f) for f in _IMU_FIELDS]

    def frozen_fill(inp):
        fill(inp)
        for i in range(len(_IMU_FIELDS)):
            setattr(inp, _IMU_FIELDS[i], held[i])

    p.fill = frozen_fill


def _lost_in_hold(lose):
    r = Rig()
    _holding_at(r, 20000)
    lose(r)
    run_heavy(r, 60000, 1000, until=lambda x: x.core.phase == P_LATCHED)
    run_heavy(r, 1000, 1000)
    return r


def _check_unconfirmed_at_horizontal(r, code):
    c = r.core
    assert c.state == FAULT and c.phase == P_LATCHED and c.fault == code, (c.state, c.fault)
    a = r.plant.angle_mdeg()
    assert -500 <= a <= 500, a  # at horizontal: the slowest speed lifted the load
    assert c.lift.unconfirmed and not c.lift.gave_up
    u = r.events(E_UNCONFIRMED)
    assert len(u) == 1 and u[0][2] == code, u
    assert r.out.buzzer == IND_ALARM and not r.out.enable


def test_imu_bus_lost_in_a_heavy_hold_returns_at_the_slowest_speed_unconfirmed():
    """Covers: HZ-06"""
    r = _lost_in_hold(lambda x: setattr(x.plant, "imu_error", 110))  # ETIMEDOUT
    _check_unconfirmed_at_horizontal(r, faults.IMU_BUS)


def test_frozen_imu_in_a_heavy_hold_returns_at_the_slowest_speed_unconfirmed():
    """Covers: HZ-06"""
    r = _lost_in_hold(_freeze_imu)
    _check_unconfirmed_at_horizontal(r, faults.IMU_FROZEN)


def test_imu_lost_at_the_loading_position_moves_nothing_and_claims_nothing():
    """Covers: HZ-06"""
    r = Rig()
    r.ready_homed()
    assert r.core.state == READY
    r.plant.imu_error = 110
    a = r.plant.angle_mdeg()
    r.tick(300)
    c = r.core
    assert c.state == FAULT and c.phase == P_LATCHED and c.fault == faults.IMU_BUS
    assert r.plant.angle_mdeg() == a  # head-up of horizontal already: no blind move
    assert not c.lift.unconfirmed and not r.events(E_UNCONFIRMED)


def test_imu_lost_on_the_way_to_loading_goes_on_to_loading_unconfirmed():
    """Covers: HZ-06. attack18f 1: the IMU lost (wire cut, or frozen) on the return's last
    leg, feet-down at -20 deg, latched the person there. The fault's return goes on to
    the loading position (reactions.fault_goal) by the steps at the slowest speed, its
    end announced unconfirmed with the alarm, never READY."""
    for lose, code in ((lambda x: setattr(x.plant, "imu_error", 110), faults.IMU_BUS),
                       (_freeze_imu, faults.IMU_FROZEN)):
        r = Rig()
        _holding_at(r, 10000)
        assert r.core.command(C_RETURN) == 0
        r.run_until(lambda x: x.plant.angle_mdeg() < -20000, 120000)
        assert r.core.state == RETURNING and r.core.phase == P_TO_LOADING
        lose(r)
        r.run_until(lambda x: x.core.phase == P_LATCHED, 150000)
        r.tick(100)
        c = r.core
        assert c.state == FAULT and c.fault == code, (c.state, c.fault)
        a = r.plant.angle_mdeg()
        assert abs(a - r.cfg.loading_angle_mdeg) <= 300, a
        assert c.lift.unconfirmed and len(r.events(E_UNCONFIRMED)) == 1
        assert r.out.buzzer == IND_ALARM and not r.out.enable
