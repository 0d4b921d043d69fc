"""A calibration typed a little off is not an IMU a little off (re-attack of issue #18).

Two points 20 deg apart (README: "any two angles 20 deg or more apart work") with the
second typed 0.45 deg off, inside the 0.5 deg check against the steps, left the IMU ~1.7
deg off at 20-60 deg and an e-stop at 60 deg latched a false RUNAWAY; a level read 0.45 deg
off at horizontal left it 0.73 deg off at 60 deg; repeated calibrations drifted to 2 deg.
The solve now takes the step count (exact to the backlash while homed) and the typed
angle only confirms it (firmware/commands.py _calibrate). Covers: HZ-06
"""

import states as S

from tests.host.test_attack18 import _harness, _say, _still_at

IMU = {"acc": [50, 0, -80], "gyro": [0, 0, 0]}


def _goto(h, deg):
    assert "ok" in _say(h, "goto %s" % deg)
    _still_at(h, S.HOLDING)


def _homed(h):
    h.run_ms(500)
    _say(h, "home")
    assert h.runner.run_until(lambda r: r.app.core.state == S.READY and r.app.core.homed,
                              60000)
    _still_at(h, S.READY)


def _calibrated_two_points(h, second, typed):
    _homed(h)
    _say(h, "calibrate")
    _goto(h, second)
    reply = _say(h, "calibrate %s" % typed)
    return reply


def test_accepted_calibration_20deg_apart_with_typed_error_keeps_imu_within_half_degree():
    h = _harness({"seed": 7, "max_deg": 60, "hold_s": 30}, IMU, commissioned=False)
    try:
        reply = _calibrated_two_points(h, -40, "-39.55")
        if h.core.cfg.imu_calibrated != 1:
            return  # refused: fine
        worst = 0
        for d in (0, 20, 45):
            _goto(h, d)
            h.run_ms(2000)
            worst = max(worst, abs(h.core.est.angle_mdeg - h.board.true_angle_mdeg))
        assert worst <= 500, "accepted (%s) but IMU %.2f deg off at rest" % (
            reply.strip(), worst / 1000)
    finally:
        h.close()


def test_estop_at_60_after_accepted_20deg_calibration_latches_no_false_runaway():
    h = _harness({"seed": 7, "max_deg": 60, "hold_s": 30}, IMU, commissioned=False)
    try:
        _calibrated_two_points(h, -40, "-39.55")
        if h.core.cfg.imu_calibrated != 1:
            return
        for d in (-30, 0, 20, 45, 60):  # the accuracy check's sequence, then the e-stop
            _goto(h, d)
            h.run_ms(2000)
        h.act(("estop_press",))
        h.run_ms(60000)
        assert h.board.lost_steps == 0
        assert h.core.fault == 0, "fault %d latched at %.2f deg, no step lost" % (
            h.core.fault, h.board.true_angle_mdeg / 1000)
    finally:
        h.close()


def test_documented_calibration_with_level_045_off_keeps_imu_within_half_degree():
    h = _harness({"seed": 7, "max_deg": 60, "hold_s": 30}, IMU, commissioned=False)
    try:
        _calibrated_two_points(h, 0, "0.45")
        assert h.core.cfg.imu_calibrated == 1
        _goto(h, 60)
        h.run_ms(2000)
        e = abs(h.core.est.angle_mdeg - h.board.true_angle_mdeg)
        assert e <= 500, "IMU %.2f deg off at 60 deg" % (e / 1000)
    finally:
        h.close()


def test_repeated_calibrations_each_accepted_keep_imu_within_half_degree():
    """The documented two points, then a re-calibration: `calibrate -0.45` at horizontal
    (zero only) and `calibrate 20.45` at 20 deg (solved with the 0 deg point, 20.9 deg
    apart): each within the 0.5 deg check; the IMU ends ~2 deg off at 60 and -30 deg."""
    h = _harness({"seed": 7, "max_deg": 60, "hold_s": 30}, IMU, commissioned=False)
    try:
        _calibrated_two_points(h, 0, "0")
        assert h.core.cfg.imu_calibrated == 1
        _goto(h, 0)
        _say(h, "calibrate -0.45")
        _goto(h, 20)
        _say(h, "calibrate 20.45")
        worst = 0
        for d in (60, 0):
            _goto(h, d)
            h.run_ms(2000)
            worst = max(worst, abs(h.core.est.angle_mdeg - h.board.true_angle_mdeg))
        assert worst <= 500, "IMU %.2f deg off at rest" % (worst / 1000)
    finally:
        h.close()
