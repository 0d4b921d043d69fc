"""Issue #18, third tester attack (attack18c): the head-down threshold and the limit of a
table that is not homed.

The threshold (cfg.head_down_mdeg) is where the session clock, the cap, the hold timer and
the lift check start: 0.5 deg by default and at most (attack18d: 1 deg held 0.94 deg
head-down with no end; attack18c: a setting of 10 deg opened a
head-down hole with no cap and no lift check); settings stored outside the range are
clamped at load (config.migrate). Not homed, the angle is the IMU's alone: no target
head-down of the rest angle minus the IMU's worst error (commissioning.py).
"""

import commissioning
from config import Config, ConfigError, migrate
from rig import Rig
from states import C_GOTO, HOLDING, READY


def test_the_threshold_is_half_a_degree_at_most():
    """Covers: HZ-01"""
    cfg = Config()
    assert cfg.head_down_mdeg == 500
    cfg.set("head_down_mdeg", 0)
    cfg.set("head_down_mdeg", 500)
    try:
        cfg.set("head_down_mdeg", 501)
        raise AssertionError("501 accepted")
    except ConfigError:
        pass
    assert cfg.head_down_mdeg == 500


def test_stored_thresholds_outside_the_range_are_clamped_and_said():
    s = {"head_down_mdeg": 10000, "rest_pause_ms": 5000}
    notes = migrate(s)
    assert s == {"head_down_mdeg": 500, "rest_pause_ms": 5000} and len(notes) == 1
    s = {"head_down_mdeg": 1000}  # allowed by fix18c, clamped since attack18d
    assert migrate(s) and s == {"head_down_mdeg": 500}
    s = {"head_down_mdeg": 300}
    assert migrate(s) == [] and s == {"head_down_mdeg": 300}
    s = {"head_down_mdeg": -5}
    assert migrate(s) and s["head_down_mdeg"] == 0


def test_the_imu_error_bounds_are_the_datasheet_and_the_acceptance():
    # sqrt(50^2 + 80^2) = 94.3 mg of 1 g: atan = 5.39 deg, rounded up
    assert 94 * 94 < 50 * 50 + 80 * 80 < 95 * 95
    assert commissioning.IMU_UNCAL_ERR_MDEG == 5400
    assert commissioning.IMU_CAL_ERR_MDEG == 500


def test_not_homed_no_target_beyond_rest_minus_the_imu_error_homed_the_usual_clamp():
    """Covers: HZ-06"""
    r = Rig()  # commissioned (calibrated)
    r.boot()
    tg = r.core.targets
    assert r.core.state == READY and not r.core.homed
    assert tg.clamp(20000) == -500 and tg.clamp(0) == -500
    assert tg.clamp(0, True) == 0  # a return to rest keeps its target
    assert tg.clamp(-30000) == -30000
    r.cfg.set("imu_calibrated", 0)
    assert tg.clamp(0) == -5400
    r.cfg.set("imu_calibrated", 1)
    r.ready_homed()
    assert tg.clamp(20000) == 20000


def test_a_goto_under_1_deg_head_down_has_a_hold_timer():
    """attack18c: `goto 1.9` held head-down with no hold timer (the threshold was 2 deg).
    Now a hold beyond 0.5 deg ends by itself. Covers: HZ-01"""
    r = Rig()
    r.ready_homed()
    assert r.core.command(C_GOTO, 900) == 0
    r.run_until(lambda x: x.core.state == HOLDING, 60000)
    r.run_until(lambda x: x.core.state != HOLDING, r.profile.hold_max_ms + 5000)
