"""The lead screw's angle <-> steps (kinematics 1: firmware/kinematics.py says how
both drives convert, and their error bounds): the screw length by the law of cosines,
tabulated every 0.5 deg at construction and interpolated at run time.

A module of its own so that a table with the rotary drive never loads it (a stock
ESP32 image holds every loaded module's code in the heap); make_kinematics() imports
it when the configuration names a lead screw.
"""

from config import ConfigError
from imath import cos_q15, isqrt
from kinematics import SMALL, SPAN_MDEG, div_round, mul_div_floor
from micropython import const

# Lead screw table: one node every 0.5 deg keeps the chord error of L(theta) tiny
# (0.5 deg * 0.5 deg / 8 * |L''| ~ 10 um on a 600/400 mm frame).
_NODE_MDEG = const(500)
# The screw table extends this far past the loading angle and the over-travel switch:
# the mechanical stops lie 1 deg and 7 deg beyond them (hardware/table_params.json).
_SCREW_MARGIN_MDEG = const(10000)


class Screw:
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
        nodes = [div_round((lu - l0) * per_rev, lead) for lu in lengths_um]
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
        if d_max * _NODE_MDEG >= SMALL or nodes[-1] >= SMALL or -nodes[0] >= SMALL:
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
        return s + div_round((nodes[i + 1] - s) * f, _NODE_MDEG)

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
        return self.lo + lo * _NODE_MDEG + div_round((steps - s) * _NODE_MDEG, nodes[hi] - s)

    def _rate(self, r):
        if r < 0:
            return -self._rate(-r)
        if r > SPAN_MDEG:
            r = SPAN_MDEG
        return mul_div_floor(r, self.d_min, _NODE_MDEG)

    def sps_from_mdeg_s(self, rate_mdeg_s):
        return self._rate(rate_mdeg_s)

    def sps2_from_mdeg_s2(self, acc_mdeg_s2):
        """Steps/s^2 from the worst advantage. The curvature term of the screw law
        (s''(theta) * omega^2, with omega <= 10 deg/s) is neglected: it is a small
        fraction of the limit on any practical frame."""
        return self._rate(acc_mdeg_s2)


def screw_range(cfg):
    lo = min(cfg.loading_angle_mdeg, cfg.home_switch_mdeg) - _SCREW_MARGIN_MDEG
    hi = cfg.overtravel_mdeg + _SCREW_MARGIN_MDEG
    lo = max(lo, -SPAN_MDEG)
    hi = min(hi, SPAN_MDEG)
    lo = -((-lo + _NODE_MDEG - 1) // _NODE_MDEG) * _NODE_MDEG  # down to a node
    hi = (hi + _NODE_MDEG - 1) // _NODE_MDEG * _NODE_MDEG  # up to a node
    return lo, hi
