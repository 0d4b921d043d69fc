"""The commissioning rule for commands from any source: no head-down motion until the IMU
is calibrated.

Why (issue #18): an uncalibrated MPU-6050 inside its datasheet tolerance reads up to
~5.4 deg off, and its error changes with the angle by up to ~0.094 deg per degree. The
firmware's arrival check and re-reference after lost steps rest on the IMU: without
calibration nothing it measures tells 2 deg of lost steps over a 20 deg return from that
change, and a return can end head-down. The two-point calibration (imucal.py, README
"Calibrating the IMU") leaves ~0.15 deg; only it sets cfg.imu_calibrated.

Until then: goto past the rest angle, start (a program goes head-down) and jog DOWN at or
past the rest angle are refused with states.R_UNCALIBRATED, whatever the source (buttons,
console, programs: Core.command applies it). Motion between the loading stop and
horizontal stays allowed: the calibration itself needs it; the clamp (motion.Targets)
stops a jog DOWN from below at the rest angle. Pure logic: no state, no allocation.
"""

from micropython import const
from states import C_GOTO, C_JOG_DOWN, C_START, OK, R_UNCALIBRATED

# Worst error of an uncalibrated MPU-6050's tilt: zero-g offsets X/Y +-50 mg, Z +-80 mg
# (PS-MPU-6000A table 6.2, the tolerances host_tools/imu_model.py draws from) seen in the
# tilt plane; over the table's angles their worst sum is sqrt(50^2 + 80^2) = 94.3 mg of
# 1 g: atan(0.0943) = 5.39 deg, rounded up.
IMU_UNCAL_ERR_MDEG = const(5400)
# Worst error of a calibrated IMU at rest: the acceptance's bound for the documented
# two-point calibration (issue #18: 0.5 deg; the calibration leaves ~0.15 deg, bench.json
# angle_error_rest_max_mdeg_calibrated over the tolerance box is the check).
IMU_CAL_ERR_MDEG = const(500)


def imu_err_mdeg(cfg):
    """How far the IMU alone may be off: the calibrated or the uncalibrated bound."""
    return IMU_CAL_ERR_MDEG if cfg.imu_calibrated else IMU_UNCAL_ERR_MDEG


def unhomed_max_mdeg(cfg):
    """Not homed, the angle is the IMU's alone: no target head-down of the rest angle
    minus the IMU's worst error (attack18c: an uncalibrated part 3.1 deg off took the
    person to 3.1 deg head-down by `goto 0` after a power cut)."""
    return cfg.rest_angle_mdeg - imu_err_mdeg(cfg)


def unhomed_loading_mdeg(cfg):
    """Not homed, the counted angle a way to the loading position may aim at: the IMU's
    worst error short of the home switch (the switch, by homing, says the rest)."""
    t = cfg.home_switch_mdeg + imu_err_mdeg(cfg)
    # a switch set within that error of the rest angle: never aim head-down of rest
    return t if t < cfg.rest_angle_mdeg else cfg.rest_angle_mdeg


def check(cfg, cmd, a, angle_mdeg):
    """OK, or R_UNCALIBRATED if cmd (argument a) would move head-down of the rest angle
    on a table whose IMU is not calibrated (angle_mdeg: where the table is)."""
    if cfg.imu_calibrated:
        return OK
    rest = cfg.rest_angle_mdeg
    if cmd == C_START or (cmd == C_GOTO and a > rest):
        return R_UNCALIBRATED
    if cmd == C_JOG_DOWN and angle_mdeg >= rest:
        return R_UNCALIBRATED
    return OK
