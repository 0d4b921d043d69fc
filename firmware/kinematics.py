"""Table angle <-> actuator steps, and the mode speed limits in steps.

Owns: the drive geometry read from Config - a rotary drive through a gearbox
(kinematics 0) or a lead screw pushing the table (kinematics 1) - and its integer
conversions. Step 0 is angle 0 (horizontal); step counts grow head-down whatever the
geometry (a screw that shortens head-down is mirrored), so the generator's sign
convention (+ = head-down) holds for both.

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
from imath import cos_q15, isqrt
from micropython import const
from motion import MAX_SPS

# Angles handled: the whole +-90 deg around horizontal; inputs beyond are clamped (the
# configuration keeps the table within -85..+85 deg, config.FIELDS).
_SPAN_MDEG = const(90000)
# Products at run time must stay below this (MicroPython small ints are 31-bit).
_SMALL = const(1 << 30)
# Lead screw table: one node every 0.5 deg keeps the chord error of L(theta) tiny
# (0.5 deg * 0.5 deg / 8 * |L''| ~ 10 um on a 600/400 mm frame).
_NODE_MDEG = const(500)
# The screw table extends this far past the loading angle and the over-travel switch:
# the mechanical stops lie 1 deg and 7 deg beyond them (hardware/table_params.json).
_SCREW_MARGIN_MDEG = const(10000)


def _div_round(n, d):
    """n / d rounded to nearest, halves away from zero; d > 0."""
    h = d >> 1
    if n >= 0:
        return (n + h) // d
    return -((h - n) // d)


def _mul_div_floor(x, num, den):
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
        if _SPAN_MDEG * self.num + self.den >= _SMALL:
            raise ConfigError(
                "drive resolution %d steps per table revolution overflows the integer "
                "range (steps * 360000 / gcd); choose other microsteps or gear ratio"
                % steps_per_rev)
        self.steps_span = _div_round(_SPAN_MDEG * self.num, self.den)

    def steps_from_mdeg(self, angle_mdeg):
        a = angle_mdeg
        if a > _SPAN_MDEG:
            a = _SPAN_MDEG
        elif a < -_SPAN_MDEG:
            a = -_SPAN_MDEG
        return _div_round(a * self.num, self.den)

    def mdeg_from_steps(self, steps):
        s = steps
        if s > self.steps_span:
            s = self.steps_span
        elif s < -self.steps_span:
            s = -self.steps_span
        return _div_round(s * self.den, self.num)

    def _rate(self, r):
        if r < 0:
            return -self._rate(-r)
        if r > _SPAN_MDEG:
            r = _SPAN_MDEG
        return r * self.num // self.den

    def sps_from_mdeg_s(self, rate_mdeg_s):
        return self._rate(rate_mdeg_s)

    def sps2_from_mdeg_s2(self, acc_mdeg_s2):
        return self._rate(acc_mdeg_s2)


class _Screw:
    """A lead screw between a frame anchor (a mm from the pivot) and a table anchor
    (b mm from the pivot): L^2 = a^2 + b^2 - 2ab cos(theta + offset). Steps are
    (L - L0) * steps per um of screw, tabulated every _NODE_MDEG at construction
    (big-int arithmetic allowed there) and interpolated at run time."""

    def __init__(self, cfg, lo_mdeg, hi_mdeg):
        a = cfg.screw_frame_mm
        b = cfg.screw_table_mm
        per_rev = cfg.motor_steps_per_rev * cfg.microsteps  # direct drive: gear_ratio unused
        lead = cfg.screw_lead_um
        self.lo = lo_mdeg
        n = (hi_mdeg - lo_mdeg) // _NODE_MDEG + 1
        self.hi = lo_mdeg + (n - 1) * _NODE_MDEG
        i0 = -lo_mdeg // _NODE_MDEG  # node of angle 0 (lo is a multiple of the spacing)
        lengths_um = []
        for i in range(n):
            c = cos_q15(lo_mdeg + i * _NODE_MDEG + cfg.screw_offset_mdeg)
            l2_q15 = (a * a + b * b) * 32768 - 2 * a * b * c  # mm^2 * 32768
            # um^2 = mm^2 * 1e6 = l2_q15 * 1e6 / 32768 = l2_q15 * 15625 / 512
            lengths_um.append(isqrt(l2_q15 * 15625 // 512))
        l0 = lengths_um[i0]
        nodes = [_div_round((lu - l0) * per_rev, lead) for lu in lengths_um]
        if nodes[-1] < nodes[0]:
            nodes = [-s for s in nodes]  # the screw shortens head-down: mirror
        d_min = d_max = nodes[1] - nodes[0]
        jump = 0  # largest change of slope between neighbouring segments
        for i in range(1, n):
            d = nodes[i] - nodes[i - 1]
            if d < 1:
                raise ConfigError(
                    "lead screw geometry: the screw passes a dead point (or moves less "
                    "than one step per 0.5 deg) near %d mdeg" % (lo_mdeg + i * _NODE_MDEG))
            if d < d_min:
                d_min = d
            if d > d_max:
                d_max = d
            if i > 1:
                j = d - (nodes[i - 1] - nodes[i - 2])
                j = j if j >= 0 else -j
                if j > jump:
                    jump = j
        if d_max * _NODE_MDEG >= _SMALL or nodes[-1] >= _SMALL or -nodes[0] >= _SMALL:
            raise ConfigError("lead screw: steps per degree overflow the integer range")
        self.nodes = nodes
        # Worst mechanical advantage: the smallest chord, less the largest change of
        # chord between neighbours (the true slope inside a segment differs from its
        # chord by at most that much), so the limit holds between the nodes too.
        self.d_min = d_min - jump
        if self.d_min < 1:
            raise ConfigError("lead screw geometry: too little screw travel per degree")

    def steps_from_mdeg(self, angle_mdeg):
        a = angle_mdeg
        if a < self.lo:
            a = self.lo
        elif a > self.hi:
            a = self.hi
        x = a - self.lo
        i = x // _NODE_MDEG
        nodes = self.nodes
        s = nodes[i]
        f = x - i * _NODE_MDEG
        if f == 0:
            return s
        return s + _div_round((nodes[i + 1] - s) * f, _NODE_MDEG)

    def mdeg_from_steps(self, steps):
        nodes = self.nodes
        if steps <= nodes[0]:
            return self.lo
        last = len(nodes) - 1
        if steps >= nodes[last]:
            return self.hi
        lo = 0
        hi = last
        while hi - lo > 1:  # nodes[lo] <= steps < nodes[hi]
            mid = (lo + hi) >> 1
            if nodes[mid] <= steps:
                lo = mid
            else:
                hi = mid
        s = nodes[lo]
        return self.lo + lo * _NODE_MDEG + _div_round((steps - s) * _NODE_MDEG, nodes[hi] - s)

    def _rate(self, r):
        if r < 0:
            return -self._rate(-r)
        if r > _SPAN_MDEG:
            r = _SPAN_MDEG
        return _mul_div_floor(r, self.d_min, _NODE_MDEG)

    def sps_from_mdeg_s(self, rate_mdeg_s):
        return self._rate(rate_mdeg_s)

    def sps2_from_mdeg_s2(self, acc_mdeg_s2):
        """Steps/s^2 from the worst advantage. The curvature term of the screw law
        (s''(theta) * omega^2, with omega <= 10 deg/s) is neglected: it is a small
        fraction of the limit on any practical frame."""
        return self._rate(acc_mdeg_s2)


def _screw_range(cfg):
    lo = min(cfg.loading_angle_mdeg, cfg.home_switch_mdeg) - _SCREW_MARGIN_MDEG
    hi = cfg.overtravel_mdeg + _SCREW_MARGIN_MDEG
    lo = max(lo, -_SPAN_MDEG)
    hi = min(hi, _SPAN_MDEG)
    lo = -((-lo + _NODE_MDEG - 1) // _NODE_MDEG) * _NODE_MDEG  # down to a node
    hi = (hi + _NODE_MDEG - 1) // _NODE_MDEG * _NODE_MDEG  # up to a node
    return lo, hi


def make_kinematics(cfg):
    """The drive's conversions, built and validated from cfg; ConfigError if refused."""
    if cfg.kinematics == 0:
        k = _Rotary(cfg.motor_steps_per_rev * cfg.microsteps * cfg.gear_ratio)
    else:
        lo, hi = _screw_range(cfg)
        k = _Screw(cfg, lo, hi)
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
