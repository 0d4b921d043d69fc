"""Issue #18, commissioning: no head-down motion until the two-point IMU calibration
(firmware/commissioning.py, the mark cfg.imu_calibrated), from every source; and the
checks `calibrate` makes (commands.py: homed, the typed angle against the steps).

Runs on CPython and the MicroPython unix port. Covers: HZ-06
"""

import buttons
import faults
import states
from cmdparse import is_fixed
from events import E_COMMAND
from rig import Rig
from signals import SW_DOWN, SW_START, SW_UP
from states import (
    C_CALIBRATE,
    C_GOTO,
    C_JOG_DOWN,
    C_RECOVER,
    C_START,
    C_STOP,
    FAULT,
    HOLDING,
    JOGGING,
    OK,
    R_ARG,
    R_STATE,
    R_UNCALIBRATED,
    READY,
    RECOVERY,
)
from support import make_config


def _fresh(**kw):
    """A table as delivered: the IMU not calibrated (the firmware's default)."""
    return Rig(imu_calibrated=0, **kw)


def _still(r):
    r.run_until(lambda x: x.core.plan.done() and x.core.est.avg_ms >= 600, 60000)


def _press(r, bits, ms):
    r.plant.buttons = bits
    r.tick(ms // 10)
    r.plant.buttons = 0
    r.tick(10)


def test_a_fresh_config_is_not_commissioned_and_the_mark_is_not_typed_in():
    from config import Config

    assert Config().imu_calibrated == 0
    assert is_fixed("imu_calibrated")  # `config set` refuses it
    assert "calibrate at the loading stop and at horizontal" in states.reason_name(
        R_UNCALIBRATED)


def test_uncalibrated_head_down_is_refused_from_the_console_and_the_buttons():
    r = _fresh()
    r.ready_homed()
    assert r.core.command(C_GOTO, 20000) == R_UNCALIBRATED
    assert r.core.command(C_GOTO, 1) == R_UNCALIBRATED
    assert r.core.command(C_START) == R_UNCALIBRATED
    _press(r, SW_START, 100)  # a short START in READY: the program
    assert r.core.state == READY
    assert [(e[2], e[3]) for e in r.events(E_COMMAND)][-1] == (C_START, R_UNCALIBRATED)
    # between the loading stop and horizontal: allowed (the calibration needs it)
    assert r.core.command(C_GOTO, 0) == OK
    r.state_is(HOLDING)
    r.run_until(lambda x: x.core.plan.done(), 60000)
    assert r.core.command(C_JOG_DOWN) == R_UNCALIBRATED  # at rest: nowhere head-down
    _press(r, SW_DOWN, 200)
    assert [(e[2], e[3]) for e in r.events(E_COMMAND)][-1] == (C_JOG_DOWN, R_UNCALIBRATED)
    assert r.core.state == HOLDING and abs(r.plant.angle_mdeg()) <= 200
    assert r.core.command(C_GOTO, -30000) == OK
    r.state_is(HOLDING)
    r.run_until(lambda x: x.core.plan.done(), 60000)
    # jog DOWN from below horizontal: allowed, but the clamp stops it at the rest angle
    r.plant.buttons = SW_DOWN  # hold-to-run
    r.run_until(lambda x: x.plant.angle_mdeg() >= -500, 60000)
    r.tick(300)
    assert r.core.state == JOGGING and r.plant.angle_mdeg() <= 100, r.plant.angle_mdeg()
    r.plant.buttons = 0
    r.tick(10)
    assert r.core.fault == faults.NONE


def test_the_documented_two_point_calibration_commissions_the_table():
    r = _fresh()
    r.plant.cfg = make_config()  # the sensor: mounted as the firmware's, uncalibrated
    r.plant.acc_off_s_mg = 50
    r.plant.acc_off_c_mg = -80
    r.ready_homed()
    _still(r)
    assert r.core.command(C_CALIBRATE) == OK  # the loading stop: one point, not yet
    assert r.cfg.imu_calibrated == 0
    assert r.core.command(C_GOTO, 20000) == R_UNCALIBRATED
    assert r.core.command(C_GOTO, 0) == OK
    r.state_is(HOLDING)
    _still(r)
    assert r.core.command(C_CALIBRATE, 0, 1) == OK  # horizontal: two points
    assert r.cfg.imu_calibrated == 1
    assert r.core.command(C_GOTO, 20000) == OK


def test_calibrate_needs_a_homed_table():
    """After a power cut at 12 deg the recovery return is stopped: HOLDING, not homed.
    Nothing to check a typed angle against: refused, nothing changed."""
    r = Rig(angle_mdeg=12000)
    r.boot()
    assert r.core.state == RECOVERY
    assert r.core.command(C_RECOVER) == OK
    r.tick(100)
    assert r.core.command(C_STOP) == OK
    r.state_is(HOLDING)
    _still(r)
    assert not r.core.homed
    before = r.cfg.as_dict()
    assert r.core.command(C_CALIBRATE, 2000, 1) == R_STATE
    assert "home first" in r.core.imucal.why
    assert r.cfg.as_dict() == before


def test_calibrate_at_horizontal_must_agree_with_the_steps_within_half_a_degree():
    r = Rig()
    r.ready_homed()
    assert r.core.command(C_GOTO, 0) == OK
    r.state_is(HOLDING)
    _still(r)
    before = r.cfg.as_dict()
    assert r.core.command(C_CALIBRATE, 2400, 1) == R_ARG  # within the runaway tolerance
    assert "step count" in r.core.imucal.why and r.cfg.as_dict() == before
    assert r.core.command(C_CALIBRATE, 600, 1) == R_ARG
    assert r.core.command(C_CALIBRATE, 0, 1) == OK  # the right one is taken


def test_up_in_a_fault_gives_the_safe_return_as_start_does():
    assert buttons.UP_PRESS[FAULT] == buttons.START_SHORT[FAULT] == states.C_RETURN
    # a fault latched at boot (past the over-travel switch): UP starts the return
    r = Rig(angle_mdeg=70000)
    r.boot()
    assert r.core.state == FAULT and r.core.fault_at_boot
    _press(r, SW_UP, 200)
    r.tick(200)
    assert r.plant.angle_mdeg() < 69500, r.plant.angle_mdeg()
