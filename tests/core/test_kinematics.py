"""Kinematics: exact numbers of the default drive, round trips, conservative speed
limits, lead-screw geometry against the law of cosines, refusals, allocation."""

import gc
import math
import sys

from config import ConfigError
from kinematics import make_kinematics
from motion import MAX_SPS
from support import make_config, raises

MPY = sys.implementation.name == "micropython"


def lcg_values(seed, n, lo, hi):
    """n pseudo-random ints in lo..hi (a generator: no list on a small heap)."""
    x = seed
    for _ in range(n):
        x = (x * 1103515245 + 12345) & 0x7FFFFFFF
        yield lo + (x >> 8) % (hi - lo + 1)


# ------------------------------------------------------------ rotary (default drive)


def test_rotary_default_drive_numbers():
    # 200 steps * 8 microsteps * 600:1 = 960000 steps per table revolution
    # = 8/3 steps per mdeg (0.375 mdeg per microstep, as hardware/table_params.json says)
    k = make_kinematics(make_config())
    assert (k.num, k.den) == (8, 3)
    assert k.steps_from_mdeg(0) == 0
    assert k.steps_from_mdeg(90000) == 240000
    assert k.steps_from_mdeg(-60000) == -160000
    assert k.steps_from_mdeg(1) == 3 and k.steps_from_mdeg(2) == 5  # 2.67 -> 3, 5.33 -> 5
    assert k.steps_from_mdeg(-2) == -5  # symmetric rounding
    assert k.mdeg_from_steps(240000) == 90000
    assert k.mdeg_from_steps(1) == 0 and k.mdeg_from_steps(3) == 1  # 0.375, 1.125
    assert k.mdeg_from_steps(-2) == -1  # -0.75 -> -1
    # speeds round down: 3500 mdeg/s * 8/3 = 9333.3 -> 9333 steps/s
    assert k.sps_from_mdeg_s(3500) == 9333
    assert k.sps_from_mdeg_s(4000) == 10666
    assert k.sps2_from_mdeg_s2(20000) == 53333
    assert k.sps_from_mdeg_s(-4000) == -10666


def test_rotary_round_trips_within_documented_bounds():
    k = make_kinematics(make_config())
    # angle -> steps -> angle: half a step (0.19 mdeg) + 0.5 mdeg of rounding -> <= 1
    for a in range(-90000, 90001, 7):
        assert abs(k.mdeg_from_steps(k.steps_from_mdeg(a)) - a) <= 1, a
    # steps -> angle -> steps: half a mdeg (1.33 steps) + 0.5 step -> <= 2
    for s in lcg_values(99, 3000, -240000, 240000):
        assert abs(k.steps_from_mdeg(k.mdeg_from_steps(s)) - s) <= 2, s


def test_rotary_intermediates_stay_small_ints():
    """Every product of the conversions stays below 2**30 over the whole angle range (a
    MicroPython small int: beyond it the ESP32 allocates a big int in the tick). The
    largest are at the clamp: angle * num, steps * den, rate * num (each + den / 2)."""
    for overrides in ({}, {"microsteps": 64}, {"microsteps": 64, "gear_ratio": 2000}):
        k = make_kinematics_unchecked(make_config(**overrides))
        span = 90000  # the clamp (+-90 deg) of every conversion
        for a in (-span, -span + 1, -1, 0, 1, span - 1, span):
            assert abs(a * k.num) + k.den < 1 << 30
        assert k.steps_span * k.den + k.den < 1 << 30
        # and the results themselves (steps of the whole range, rates of the clamp)
        assert abs(k.steps_from_mdeg(-span)) < 1 << 30
        assert abs(k.sps_from_mdeg_s(span)) < 1 << 30
    # the default drive by hand: 90000 * 8 = 720000 and 240000 * 3 = 720000, far below
    k = make_kinematics(make_config())
    assert 90000 * k.num == 720000 and k.steps_span * k.den == 720000


def make_kinematics_unchecked(cfg):
    """The rotary conversions of cfg without the step-rate checks of make_kinematics
    (a finer drive than the step generator runs at the default speeds)."""
    return rotary(cfg.motor_steps_per_rev, cfg.microsteps, cfg.gear_ratio)


def test_rotary_other_drives_round_trip_and_clamp():
    for spr, ms, gear in ((400, 64, 2000), (200, 16, 60), (24, 1, 10), (200, 1, 50)):
        # the speed checks of make_kinematics are not the point here: only the arithmetic
        k = rotary(spr, ms, gear)
        per_mdeg_num = spr * ms * gear
        for a in range(-90000, 90001, 997):
            s = k.steps_from_mdeg(a)
            assert abs(s * 360000 - a * per_mdeg_num) <= per_mdeg_num // 2 + 360000 // 2
            back = k.mdeg_from_steps(s)
            assert abs(back - a) <= 360000 // (2 * per_mdeg_num) + 1
        assert k.steps_from_mdeg(10**8) == k.steps_from_mdeg(90000)  # clamped, no overflow


def rotary(spr, ms, gear):
    from kinematics import _Rotary

    return _Rotary(spr * ms * gear)


def test_rotary_overflowing_resolution_is_refused():
    # 397 * 63 * 1999 steps/rev shares only 9 with 360000: num ~ 5.6e6, 90000 * num > 2**30
    cfg = make_config(motor_steps_per_rev=397, microsteps=63, gear_ratio=1999)
    e = raises(ConfigError, make_kinematics, cfg)
    assert "overflow" in str(e)


def test_drive_too_fast_or_too_coarse_is_refused():
    fast = make_config(motor_steps_per_rev=400, microsteps=64, gear_ratio=2000)
    assert "steps/s" in str(raises(ConfigError, make_kinematics, fast))
    coarse = make_config(motor_steps_per_rev=24, microsteps=1, gear_ratio=10)
    assert "coarse" in str(raises(ConfigError, make_kinematics, coarse))


# ------------------------------------------------------------ lead screw


def screw_exact(cfg):
    """Float reference: steps of the law of cosines at angle t (mdeg)."""
    a = cfg.screw_frame_mm
    b = cfg.screw_table_mm
    off = cfg.screw_offset_mdeg

    def length_um(t):
        c = math.cos(math.radians((t + off) / 1000))
        return 1000 * math.sqrt(a * a + b * b - 2 * a * b * c)

    l0 = length_um(0)
    per_um = cfg.motor_steps_per_rev * cfg.microsteps / cfg.screw_lead_um
    return lambda t: (length_um(t) - l0) * per_um


def test_screw_follows_the_law_of_cosines():
    cfg = make_config(kinematics=1)
    k = make_kinematics(cfg)
    exact = screw_exact(cfg)
    assert k.steps_from_mdeg(0) == 0
    assert k.lo <= cfg.loading_angle_mdeg - 5000 and k.hi >= cfg.overtravel_mdeg + 5000
    prev = None
    for t in range(k.lo, k.hi + 1, 11):
        s = k.steps_from_mdeg(t)
        if prev is not None:
            assert s >= prev  # monotonic: steps grow head-down
        prev = s
        # within 6 steps of the exact law (Q15 cosine + chords); see the module docstring
        assert abs(s - exact(t)) <= 6, (t, s, exact(t))


def test_screw_round_trips_within_documented_bounds():
    k = make_kinematics(make_config(kinematics=1))
    nodes = k.nodes
    chords = [nodes[i + 1] - nodes[i] for i in range(len(nodes) - 1)]
    most = max(chords)
    least = min(chords)
    # half a step's angle at the coarsest segment + 0.5 mdeg
    bound_mdeg = 500 // (2 * least) + 1
    for t in range(k.lo, k.hi + 1, 3):
        assert abs(k.mdeg_from_steps(k.steps_from_mdeg(t)) - t) <= bound_mdeg, t
    # half a mdeg's steps at the finest segment + 0.5 step
    bound_steps = most // 1000 + 1
    for s in lcg_values(5, 3000, nodes[0], nodes[-1]):
        assert abs(k.steps_from_mdeg(k.mdeg_from_steps(s)) - s) <= bound_steps, s


def test_screw_speed_limits_hold_at_the_worst_mechanical_advantage():
    cfg = make_config(kinematics=1)
    k = make_kinematics(cfg)
    exact = screw_exact(cfg)
    for rate in (cfg.normal_speed_mdeg_s, cfg.emergency_speed_mdeg_s, cfg.homing_slow_mdeg_s):
        sps = k.sps_from_mdeg_s(rate)
        assert sps >= 1
        # everywhere on the travel, sps steps/s turn the table at most `rate` mdeg/s
        for t in range(k.lo, k.hi, 50):
            steps_per_mdeg = (exact(t + 50) - exact(t)) / 50
            assert sps <= rate * steps_per_mdeg, (rate, t, sps)
    assert k.sps2_from_mdeg_s2(4000) == k.sps_from_mdeg_s(4000)


def test_screw_dead_point_in_the_travel_is_refused():
    for off in (30000, 60000, 120000, 150000):
        e = raises(ConfigError, make_kinematics, make_config(kinematics=1, screw_offset_mdeg=off))
        assert "dead point" in str(e)


def test_screw_that_shortens_head_down_is_mirrored():
    from screw import Screw as _Screw

    class Geo:  # 270 deg offset is outside the config bounds; the mirror code is generic
        motor_steps_per_rev = 200
        microsteps = 8
        screw_lead_um = 4000
        screw_frame_mm = 600
        screw_table_mm = 400
        screw_offset_mdeg = 270000

    k = _Screw(Geo(), -60000, 60000)
    assert k.steps_from_mdeg(0) == 0
    assert k.steps_from_mdeg(30000) > 0 > k.steps_from_mdeg(-30000)
    assert abs(k.mdeg_from_steps(k.steps_from_mdeg(12345)) - 12345) <= 2


# ------------------------------------------------------------ allocation


def test_conversions_allocate_nothing():
    for kin in (0, 1):
        k = make_kinematics(make_config(kinematics=kin))
        gc.collect()
        gc.disable()
        try:
            before = gc.mem_alloc() if MPY else 0
            total = 0
            for a in range(-90000, 90001, 251):
                s = k.steps_from_mdeg(a)
                total += k.mdeg_from_steps(s) - a
                total += k.sps_from_mdeg_s(a) + k.sps2_from_mdeg_s2(-a)
            used = gc.mem_alloc() - before if MPY else 0
        finally:
            gc.enable()
        assert used == 0, (kin, used)
        assert abs(k.sps_from_mdeg_s(10000)) <= MAX_SPS
