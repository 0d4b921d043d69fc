"""Issue #18, fixes of the third tester attack (attack18c) that need the application: the
head-down threshold's narrowed range applied to settings stored before it, and the
console's reason when a not-homed table's target is clamped by the IMU's error."""

import store
from persistence import SETTINGS
from states import RECOVERY

from host_tools.runner import SimRunner
from tests.host.test_attack18 import _say


def test_a_stored_threshold_outside_the_new_range_is_clamped_at_load_and_the_table_boots():
    """A settings file written before fix18c with head_down_mdeg 10000 (then allowed):
    clamped to 500 at load (1000 under fix18c, 500 since attack18d), said at start-up,
    the other stored settings kept, no fault: the table boots usable and the threshold
    is no hole. Covers: HZ-01, HZ-10"""
    runner = SimRunner()
    runner.run_ms(300)
    store.save(runner.app.fs, SETTINGS, {"head_down_mdeg": 10000, "rest_pause_ms": 5000})
    runner.board.hard_reset()
    runner.run_ms(600)
    app = runner.app
    assert app.cfg.head_down_mdeg == 500 and app.cfg.rest_pause_ms == 5000
    assert any("head_down_mdeg=10000" in e and "clamped to 500" in e
               for e in app.startup_errors), app.startup_errors
    assert app.core.fault == 0 and app.config_fault == 0


def test_not_homed_goto_0_is_clamped_by_the_imu_error_and_the_reply_says_why():
    """After a power cut (RECOVERY, not homed) on a commissioned table, `goto 0` goes to
    -0.5 deg (the calibrated IMU's tolerance head-up of rest), and the reply names the
    reason. Covers: HZ-06"""
    from host_tools import faultinject as fi

    h = fi.Harness({"seed": 9, "mass_kg": 80, "offset_mm": 20, "hold_s": 10, "max_deg": 30,
                    "consent": True}, check=False)
    try:
        h.run_ms(500)
        h.act(("console", "goto 10"))
        h.run_ms(15000)
        h.act(("power_cut", 3, 400, ()))
        h.run_ms(1500)
        assert h.core.state == RECOVERY and not h.core.homed
        h.act(("tap", "UP", 150))
        h.run_ms(300)
        _say(h, "stop")
        h.run_ms(1000)
        reply = _say(h, "goto 0")
        assert "not homed" in reply and "0.500 deg off" in reply, reply
        assert h.core.targets.target_mdeg == -500
    finally:
        h.close()
