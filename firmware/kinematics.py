"""Table angle <-> actuator steps, and the mode speed limits in steps.

Owns: the drive geometry read from Config - a rotary drive through a gearbox
(kinematics 0) or a lead screw pushing the table (kinematics 1) - and its integer
conversions. Step 0 is angle 0 (horizontal); step counts grow head-down whatever the
geometry (a screw that shortens head-down is mirrored), so the generator's sign
convention (+ = head-down) holds for both.

The lead screw's table is firmware/screw.py, imported only for a table that has one
(kinematics 1): a stock ESP32 image holds every loaded module's code in the heap.

make_kinematics(cfg) validates the geometry once and refuses (ConfigError) any
configuration whose run-time arithmetic could leave the small-int range (|n| < 2**30)
or that the step generator could not follow. After that every method is integer
only and allocation-free:
- steps_from_mdeg(angle_mdeg) -> steps, rounded to nearest
- mdeg_from_steps(steps) -> angle_mdeg, rounded to nearest
- sps_from_mdeg_s(rate_mdeg_s) -> steps/s, rounded down
- sps2_from_mdeg_s2(acc_mdeg_s2) -> steps/s^2, rounded down
Speed and acceleration use the drive's smallest steps-per-mdeg over the travel (its
worst mechanical advantage for speed), so a step rate converted here never turns
the table faster than the angular limit anywhere on the travel.

Round-trip error (tests/core/test_kinematics.py checks these bounds):
- Rotary: angle -> steps -> angle within half a step's angle + 0.5 mdeg (default
  drive: 2.667 steps per mdeg, <= 1 mdeg); steps -> angle -> steps within half a
  mdeg's steps + 0.5 (default: <= 2 steps).
- Lead screw: the same bounds with the local steps-per-mdeg of the segment (the
  piecewise-linear table is one map used both ways): on the default 600/400 mm frame
  <= 1 mdeg and <= 1 step. Against the exact law of cosines the table adds the chord
  error of 0.5 deg segments and the Q15 cosine's 1.3 LSB: <= 6 steps of screw, about
  6 mdeg of angle, on that frame (tests/core/test_kinematics.py).
- The lead screw is taken as driven directly (steps per um = motor steps *
  microsteps / lead); gear_ratio applies to the rotary drive only.
"""

from config import ConfigError
from micropython import const
from motion import MAX_SPS

# Angles handled: the whole +-90 deg around horizontal; inputs beyond are clamped (the
# configuration keeps the table within -85..+85 deg, config.FIELDS). Public: the lead
# screw (firmware/screw.py) has them too.
SPAN_MDEG = const(90000)
# Products at run time must stay below this (MicroPython small ints are 31-bit).
SMALL = const(1 << 30)


def div_round(n, d):
    """n / d rounded to nearest, halves away from zero; d > 0."""
    h = d >> 1
    if n >= 0:
        return (n + h) // d
    return -((h - n) // d)


def mul_div_floor(x, num, den):
    """floor(x * num / den) for x, num >= 0, den > 0, without forming x * num when num
    is large: x * (num // den) + x * (num % den) // den."""
    q = num // den
    return x * q + x * (num - q * den) // den


def _gcd(a, b):
    while b:
        a, b = b, a % b
    return a


class _Rotary:
    """steps = angle * num / den: motor steps * microsteps * gear ratio per 360000 mdeg,
    reduced by the gcd so the products stay small."""

    def __init__(self, steps_per_rev):
        g = _gcd(steps_per_rev, 360000)
        self.num = steps_per_rev // g
        self.den = 360000 // g
        if SPAN_MDEG * self.num + self.den >= SMALL:
            raise ConfigError(
                "drive resolution %d steps per table revolution overflows the integer "
                "range (steps * 360000 / gcd); choose other microsteps or gear ratio"
                % steps_per_rev)
        self.steps_span = div_round(SPAN_MDEG * self.num, self.den)

    def steps_from_mdeg(self, angle_mdeg):
        a = angle_mdeg
        if a > SPAN_MDEG:
            a = SPAN_MDEG
        elif a < -SPAN_MDEG:
            a = -SPAN_MDEG
        return div_round(a * self.num, self.den)

    def mdeg_from_steps(self, steps):
        s = steps
        if s > self.steps_span:
            s = self.steps_span
        elif s < -self.steps_span:
            s = -self.steps_span
        return div_round(s * self.den, self.num)

    def _rate(self, r):
        if r < 0:
            return -self._rate(-r)
        if r > SPAN_MDEG:
            r = SPAN_MDEG
        return r * self.num // self.den

    def sps_from_mdeg_s(self, rate_mdeg_s):
        return self._rate(rate_mdeg_s)

    def sps2_from_mdeg_s2(self, acc_mdeg_s2):
        return self._rate(acc_mdeg_s2)


def make_kinematics(cfg):
    """The drive's conversions, built and validated from cfg; ConfigError if refused."""
    if cfg.kinematics == 0:
        k = _Rotary(cfg.motor_steps_per_rev * cfg.microsteps * cfg.gear_ratio)
    else:
        from screw import Screw, screw_range  # only a table with a lead screw loads it

        lo, hi = screw_range(cfg)
        k = Screw(cfg, lo, hi)
    # The step generator and the profile must be able to follow every mode.
    fastest = max(cfg.emergency_speed_mdeg_s, cfg.normal_speed_mdeg_s, cfg.jog_speed_mdeg_s)
    v = k.sps_from_mdeg_s(fastest)
    if v > MAX_SPS:
        raise ConfigError("emergency speed needs %d steps/s, above the %d the step "
                          "generator runs; reduce microsteps or speed" % (v, MAX_SPS))
    slowest = min(cfg.homing_slow_mdeg_s, cfg.jog_accel_mdeg_s2, cfg.normal_accel_mdeg_s2,
                  cfg.emergency_accel_mdeg_s2)
    if k.sps_from_mdeg_s(slowest) < 1:
        raise ConfigError("drive too coarse: homing speed or an acceleration is below "
                          "one step per second")
    return k
