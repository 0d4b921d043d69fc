"""The rest angle is never head-down (found by the re-attack of issue #18).

`rest_angle_mdeg` is where every return to horizontal goes (the e-stop's included) and
up to where an uncommissioned table may move. It could be set (therapist) to +10 deg: an
uncalibrated table then went 10 deg head-down by `goto`, and an e-stop latched the person
at +10 deg. Its range now ends at horizontal (firmware/config.py). Covers: HZ-04, HZ-06
"""

import states as S

from tests.host.test_attack18 import _harness, _say, _still_at

IMU = {"acc": [50, 0, -80], "gyro": [0, 0, 0]}


def test_uncommissioned_table_cannot_go_head_down_by_moving_the_rest_angle():
    h = _harness({"seed": 9}, IMU, commissioned=False, pin_setup=True)
    try:
        h.run_ms(500)
        for line in ("pin set 2468", "login 2468"):
            _say(h, line)
        reply = _say(h, "config set rest_angle_mdeg 10000")
        assert "ok" not in reply and h.core.cfg.rest_angle_mdeg == 0, reply
        _say(h, "goto 10")
        h.run_ms(60000)
        assert h.core.cfg.imu_calibrated == 0
        assert h.board.true_angle_mdeg <= 2000, "uncalibrated table at %.2f deg head-down" % (
            h.board.true_angle_mdeg / 1000)
    finally:
        h.close()


def test_estop_on_a_commissioned_table_latches_at_horizontal_whatever_the_rest_angle():
    """`config set rest_angle_mdeg 10000` (therapist, READY) was accepted; an e-stop in the
    hold then latched at +10 deg head-down (the rest angle is the e-stop's target)."""
    from tests.host.test_attack18 import CORNER_C1, _calibrate
    h = _harness({"seed": 6, "max_deg": 30}, CORNER_C1, pin_setup=True)
    try:
        _calibrate(h)
        _say(h, "return")
        _still_at(h, S.READY)
        for line in ("pin set 2468", "login 2468", "config set rest_angle_mdeg 10000",
                     "start"):
            _say(h, line)
        assert h.core.cfg.rest_angle_mdeg == 0
        assert h.runner.run_until(
            lambda r: r.app.core.state == S.HOLDING and r.board.true_angle_mdeg > 15000, 60000)
        h.act(("estop_press",))
        h.run_ms(40000)
        a = h.board.true_angle_mdeg
        assert abs(a) <= 1000, "%s latched at %.2f deg head-down" % (
            S.STATE_NAMES[h.core.state], a / 1000)
    finally:
        h.close()
