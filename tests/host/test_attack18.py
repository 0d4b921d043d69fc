"""Issue #18, the tester's reproductions (branch attack18) turned into regression tests.

An MPU-6050 inside its datasheet tolerance (pivot axis y: X +-50 mg, Z +-80 mg,
PS-MPU-6000A table 6.2; gyro +-20 dps, table 6.1) and not calibrated reads up to ~5.4 deg
off, its error changing with the angle: the tester's runs with such a part ended
head-down (an e-stop latch at +4 deg, a FAULT at +2.7 deg, a false RUNAWAY, an
over-travel return stopped at 69 deg). The fix is commissioning (firmware/
commissioning.py): a table refuses head-down motion until the two-point calibration
(README "Calibrating the IMU") is done. So each corner case is checked twice: a new table
(not calibrated) refuses to go head-down at all, and a table calibrated the documented
way (home, `calibrate` at the loading stop, `goto 0`, `calibrate 0`) runs the tester's
sequence to horizontal. IMU corners are set on the IMU model directly; the invariant
checker is off: each test judges the end the pass rule asks for (the person not left
head-down). Covers: HZ-06
"""

import pytest
import states as S

from host_tools import faultinject as fi
from host_tools import invariants

CORNER_C1 = {"acc": [50, 0, 80], "gyro": [0, 20000, 0]}  # reads ~4 deg low at 20 deg


def _harness(setup, imu, commissioned=True, files_from=None, pin_setup=False):
    s = {"seed": 9, "mass_kg": 80, "offset_mm": 20, "hold_s": 10, "max_deg": 30,
         "consent": True}
    s.update(setup)
    h = fi.Harness(s, check=False, commissioned=commissioned, files_from=files_from,
                   pin_setup=pin_setup)  # the physical reset's boot: a first `pin set`
    h.board.imu.accel_bias_g = [x / 1000.0 for x in imu["acc"]]
    h.board.imu.gyro_bias_dps = [x / 1000.0 for x in imu["gyro"]]
    return h


def _say(h, line):
    """One console line; the reply the firmware sent to it."""
    h.runner.receive()
    h.act(("console", line))
    h.run_ms(100)
    return h.runner.receive()


def _in_hold(r):
    return r.app.core.state == S.HOLDING


def _still_at(h, state):
    assert h.runner.run_until(
        lambda r: r.app.core.state == state and r.app.core.plan.done(), 60000)
    h.run_ms(1500)  # the still average behind a calibration point (imucal._AVG_MIN_MS)


def _calibrate(h):
    """The documented two-point calibration (README "Calibrating the IMU"); the table
    then holds at horizontal (a session may start there: cheaper than going back)."""
    h.run_ms(500)
    h.act(("console", "home"))
    assert h.runner.run_until(lambda r: r.app.core.state == S.READY and r.app.core.homed,
                              60000)
    _still_at(h, S.READY)
    h.act(("console", "calibrate"))
    h.act(("console", "goto 0"))
    _still_at(h, S.HOLDING)
    h.runner.receive()
    h.act(("console", "calibrate 0"))
    h.run_ms(50)
    reply = h.runner.receive()
    assert "ok calibrate" in reply and h.core.cfg.imu_calibrated == 1, reply


def _start_and_hold(h):
    h.act(("console", "start"))
    assert h.runner.run_until(_in_hold, 60000)


def test_a_new_table_refuses_head_down_until_the_imu_is_calibrated():
    """Not calibrated: `start`, `goto 20` and START at the table are refused with the
    procedure named, nothing moves head-down (the calibrated tests below run `home`, the
    way to horizontal and `calibrate` on a new table, then the session)."""
    h = _harness({}, CORNER_C1, commissioned=False)
    try:
        h.run_ms(500)
        h.runner.receive()
        h.act(("console", "start"))
        h.act(("console", "goto 20"))
        h.act(("tap", "START", 150))
        h.run_ms(3000)
        reply = h.runner.receive()
        assert reply.count("the IMU is not calibrated: calibrate at the loading stop and "
                           "at horizontal") == 2, reply
        assert h.core.state == S.READY and h.board.true_angle_mdeg < -55000
    finally:
        h.close()


@pytest.fixture(scope="module")
def recovering():
    """Calibrated, corner IMU: power cut in the 20 deg hold, back in RECOVERY, one UP
    press (the recovery return on the IMU, not homed). Each test below forks it."""
    h = _harness({}, CORNER_C1)
    try:
        _calibrate(h)
        _start_and_hold(h)
        h.run_ms(300)
        h.act(("power_cut", 1, 400, ()))
        h.run_ms(invariants.BOOT_SETTLE_MS + 500)
        assert h.core.state == S.RECOVERY
        h.act(("tap", "UP", 150))
        yield h
    finally:
        h.close()


def test_calibrated_estop_after_power_cut_recovery_latches_at_horizontal(recovering):
    """Item 1: e-stop 1.5 s into the recovery return: the latch is at horizontal
    (uncalibrated: +4.0 deg; the arrival check trusts the IMU, the rest base is lost)."""
    h = recovering.fork()
    try:
        h.run_ms(1500)
        h.act(("estop_press",))
        h.run_ms(30000)
        assert h.core.state == S.EMERGENCY_RETURN and h.core.phase == S.P_LATCHED
        a = h.board.true_angle_mdeg
        assert abs(a) <= 1000, "e-stop return latched at %.2f deg" % (a / 1000)
    finally:
        h.close()


def test_calibrated_slide_in_hold_returns_to_horizontal():
    """Item 3: 150 kg at 300 mm passes the lift check, slides to 700 mm in the hold: at
    horizontal, or given up with the alarm (uncalibrated: FAULT at +2.7 deg, no give-up)."""
    h = _harness({"mass_kg": 150, "offset_mm": 300, "seed": 21}, CORNER_C1)
    try:
        _calibrate(h)
        _start_and_hold(h)
        h.run_ms(2000)
        h.act(("overload", 150, 700))
        h.run_ms(60000)
        c = h.core
        a = h.board.true_angle_mdeg
        assert a <= 1000 or c.lift.gave_up, (
            "%s latched at %.2f deg true (core angle %.2f, IMU %.2f), gave_up %s" % (
                S.STATE_NAMES[c.state], a / 1000, c.angle_mdeg / 1000,
                c.est.angle_mdeg / 1000, c.lift.gave_up))
    finally:
        h.close()


def test_calibrate_with_a_wrong_angle_typed_is_refused():
    """Item 6: homed at 0 deg, `calibrate 2.4` (within the runaway tolerance of the
    steps, 2.5 deg) is refused, the calibration unchanged; `calibrate 0` is then taken."""
    h = _harness({"seed": 3}, {"acc": [0, 0, 0], "gyro": [0, 0, 0]})
    try:
        _calibrate(h)
        cfg = h.core.cfg
        before = cfg.as_dict()
        h.act(("console", "calibrate 2.4"))
        h.run_ms(50)
        reply = h.runner.receive()
        assert "error" in reply and "step count" in reply and cfg.as_dict() == before, reply
        h.act(("console", "calibrate 0"))
        h.run_ms(50)
        assert "ok calibrate" in h.runner.receive()
    finally:
        h.close()


def test_calibrated_power_cut_recovery_ends_ready_at_the_loading_stop(recovering):
    """Item 7: the recovery return and the homing after it end READY (uncalibrated: a
    false homing fault 1 deg short of the loading stop)."""
    h = recovering.fork()
    try:
        h.run_ms(90000)
        assert h.core.state == S.READY and h.core.fault == 0, "%s fault %d at %.2f deg" % (
            S.STATE_NAMES[h.core.state], h.core.fault, h.board.true_angle_mdeg / 1000)
    finally:
        h.close()


@pytest.mark.parametrize("acc", [[-50, 0, -80], [50, 0, -80]])
def test_calibrated_estop_in_hold_latches_at_horizontal_without_a_fault(acc):
    """Item 2: e-stop 0.5 s into the 20 deg hold, no step lost: no false RUNAWAY, latched
    at horizontal (uncalibrated: RUNAWAY, then -5.8 deg or the steps 2.3 deg off)."""
    h = _harness({"seed": 5}, {"acc": acc, "gyro": [0, 0, 0]})
    try:
        _calibrate(h)
        _start_and_hold(h)
        h.run_ms(500)
        h.act(("estop_press",))
        h.run_ms(15000)
        c = h.core
        a = h.board.true_angle_mdeg
        assert h.board.lost_steps == 0
        assert c.fault == 0 and abs(a) <= 1000, "fault %d, latched at %.2f deg (core %.2f)" % (
            c.fault, a / 1000, c.angle_mdeg / 1000)
    finally:
        h.close()


def test_calibrate_unhomed_is_refused_and_a_later_estop_latches_at_horizontal(recovering):
    """Item 5: the recovery return is stopped (HOLDING, not homed) at about 12 deg:
    `calibrate 2` is refused (nothing to check it against; accepted, it moved the IMU
    zero 9.2 deg); an e-stop on the return that follows latches at horizontal
    (it latched at +7.9 deg)."""
    h = recovering.fork()
    try:
        assert h.runner.run_until(lambda r: r.board.true_angle_mdeg < 12000, 60000)
        h.act(("console", "stop"))
        h.run_ms(1500)
        assert h.core.state == S.HOLDING and not h.core.homed
        h.runner.receive()
        before = h.core.cfg.as_dict()
        h.act(("console", "calibrate 2"))
        h.run_ms(100)
        reply = h.runner.receive()
        assert "home first" in reply and h.core.cfg.as_dict() == before, reply
        h.act(("console", "return"))
        h.run_ms(2000)
        h.act(("estop_press",))
        h.run_ms(40000)
        a = h.board.true_angle_mdeg
        assert abs(a) <= 1000, "e-stop latched at %.2f deg" % (a / 1000)
    finally:
        h.close()


def test_calibrated_power_up_past_overtravel_returns_to_horizontal():
    """Item 4: power-up at 75 deg (past the over-travel switch at 68) on a calibrated
    table: one START press returns the person to horizontal (uncalibrated: a false
    over-travel switch fault latched at 69 deg)."""
    h = _harness({"seed": 31}, CORNER_C1)
    try:
        _calibrate(h)
        h2 = _harness({"seed": 31, "start_mdeg": 75000, "max_deg": 60}, CORNER_C1,
                      files_from=h.fs_root)  # the same table, its flash, standing at 75
    finally:
        h.close()
    try:
        h2.run_ms(1000)
        assert h2.core.state == S.FAULT and h2.core.cfg.imu_calibrated == 1
        h2.act(("tap", "START", 200))
        h2.run_ms(60000)
        a = h2.board.true_angle_mdeg
        assert a <= 1500, "left at %.2f deg head-down in %s (fault %d), gave_up %s" % (
            a / 1000, S.STATE_NAMES[h2.core.state], h2.core.fault, h2.core.lift.gave_up)
    finally:
        h2.close()


def test_homing_on_a_new_table_backs_off_the_switch_by_2_deg_not_the_imu_error():
    """Item 8: a new table (homing comes before the calibration, which needs it), IMU at a
    datasheet corner reading 5.4 deg head-up: `home` backed off the switch by the IMU's
    error (5.4 deg, the retract clamped to the counted loading angle) instead of
    homing_retract_mdeg; the invariant checker's I3 (head-down travel without a reason)
    tripped at 4 deg. Now the retract is aimed unclamped, as the seek is."""
    s = {"seed": 3, "mass_kg": 80, "offset_mm": 20, "hold_s": 10, "max_deg": 30,
         "consent": True}
    h = fi.Harness(s, check=True, commissioned=False)
    h.board.imu.accel_bias_g = [0.05, 0.0, -0.08]
    h.board.imu.gyro_bias_dps = [0.0, 0.0, 0.0]
    try:
        h.run_ms(500)
        h.act(("console", "home"))
        assert h.runner.run_until(
            lambda r: r.app.core.state == S.READY and r.app.core.homed, 60000)
        assert h.core.fault == 0
    finally:
        h.close()
