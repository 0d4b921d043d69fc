"""Issue #18 (attack18e finding 6): a power-up head-down with an uncalibrated IMU at its
datasheet corner (zero-g offsets 50 and 80 mg in the tilt plane). The count is
referenced on the IMU at boot, and the IMU's error changes by about 2 deg along the way
back (a smooth, angle-dependent offset): the arrival check read that as lost steps, a
false RUNAWAY whose return latched the person 3 deg head-down. Now the uncalibrated
arrival is judged with the whole offset the runaway check followed (reactions._imu_offset),
and a fault's or the e-stop's return, not homed with an uncalibrated IMU, aims the IMU's
worst error head-up of the rest angle (reactions.rest_goal). Core rig, hand-worked.
"""

import faults
from events import E_FAULT
from rig import Rig
from signals import SW_UP
from states import EMERGENCY_RETURN, FAULT, HOMING, P_LATCHED, P_TO_LOADING, READY, RECOVERY


def _powered_up_at(angle_mdeg, off_s_mg, off_c_mg):
    """Zero-g offsets at the datasheet's corner (X/Y 50, Z 80 mg in the tilt plane)."""
    r = Rig(angle_mdeg=angle_mdeg, imu_calibrated=0)
    r.plant.acc_off_s_mg = off_s_mg
    r.plant.acc_off_c_mg = off_c_mg
    r.boot()
    assert r.core.state == RECOVERY, r.core.state
    r.plant.buttons = SW_UP  # one tap: the recovery return
    r.tick(15)
    r.plant.buttons = 0
    return r


def test_uncalibrated_power_up_at_45_deg_returns_without_a_false_runaway():
    """Covers: HZ-05"""
    # the IMU reads deep by an error that shrinks along the way up (main: a false
    # RUNAWAY at the arrival at rest)
    r = _powered_up_at(45000, 80, 50)
    c = r.core
    r.run_until(lambda x: x.core.state != RECOVERY and (
        x.core.fault or x.core.phase == P_TO_LOADING or x.core.state in (HOMING, READY)),
        120000)
    assert c.fault == faults.NONE and not r.events(E_FAULT), (c.state, c.fault)
    assert r.plant.angle_mdeg() <= 0, r.plant.angle_mdeg()  # past horizontal, head-up


def test_uncalibrated_not_homed_estop_return_ends_head_up_of_horizontal():
    """Covers: HZ-05"""
    r = _powered_up_at(20000, -80, -50)  # the IMU reads about 3 deg low
    r.run_until(lambda x: x.plant.angle_mdeg() < 15000, 60000)
    r.plant.estop = True
    r.run_until(lambda x: x.core.state == EMERGENCY_RETURN and x.core.phase == P_LATCHED,
                60000)
    r.tick(100)
    a = r.plant.angle_mdeg()
    # aimed 5.4 deg head-up of rest by a count up to 5.4 deg off: never head-down (main:
    # aimed at 0 by the count, latched at a true +3.6 deg)
    assert -10800 <= a <= 0, a
    assert r.core.targets.return_mdeg == -5400
    assert r.core.state != FAULT
