"""The core's watchdogs over itself: loop overruns, the IMU, position runaway, the step
generator, the over-travel switch, and the limit switches against the angle (a switch
is evidence: switches.Switches.judge, run here once per tick).

Owns the checks and their memory (consecutive overruns, the step generator's flag and
the over-travel level last seen, the runaway check (RunawayCheck, below), the
plan-vs-count tolerance). Like
the estimator it only reports: check() returns which check fired (K_*) with the fault
code in `code`; the core decides what that means (which source loses trust, the fault
to raise) and then asks for the checks after it, so several faults of one tick are
judged in order, each after the core's reaction to the one before. Allocation-free.
"""

import faults
from micropython import const
from states import HOMING, READY

K_NONE = const(0)
K_OVERRUN = const(1)  # cfg.overrun_limit loop passes in a row overran their tick
K_IMU = const(2)  # the estimator reports a fault while the IMU is still trusted
K_RUNAWAY = const(3)  # the steps and the IMU disagree (RunawayCheck, below)
K_STEPGEN = const(4)  # the step generator's own check flags (Inputs.stepgen_fault)
K_PLAN = const(5)  # the emitted count is too far off the plan: lost or extra pulses
K_OVERTRAVEL = const(6)  # the over-travel switch closed (and the angle agrees)
K_SWITCH = const(7)  # a limit switch contradicts every trusted angle: a switch fault

_STEPGEN_TICKS = const(5)  # emitted count this many ticks of max speed off the plan: glitch
_COUNT_MAX = const(0x3FFFFFFF)  # keeps the runaway timer a small int however long it runs
# At rest, a change of the steps-vs-IMU discrepancy up to this rate is the IMU's (an
# offset settling or drifting with temperature: tenths of a degree per minute): absorbed.
# A slipping drive or a gear letting go moves the table (and the IMU) far faster.
_REST_DRIFT_MDEG_S = const(100)
# The most of the discrepancy put down to drift at rest, either way (the temperature
# drift of the zero-g offsets, PS-MPU-6000A table 6.2: +-0.35 mg/C on X/Y, +-0.75 on Z,
# is < 1 deg over the room's range; 3 deg is ample). Beyond, the drive has moved.
_REST_BASE_MAX_MDEG = const(3000)
# The largest slope of an accelerometer-offset error against the table angle, per mille
# (mdeg per deg of travel): the tilt error of offsets (os, oc) is os*cos(t) - oc*sin(t)
# rad (g = 1), whose slope is at most |(os, oc)|. Datasheet tolerances X/Y +-50 mg, Z
# +-80 mg (PS-MPU-6000A table 6.2): |(50, 80)| = 94 mg, so 94 per mille; 100 with margin.
# Lost steps grow the discrepancy at the rate the drive should have moved (a stalled
# drive: 1000 per mille), so they stand out well above this.
_IMU_SLOPE_PERMILLE = const(100)


class Supervisor:
    def __init__(self, cfg, est, pos, plan, switches):
        self._cfg = cfg
        self._est = est
        self._pos = pos
        self._plan = plan
        self._switches = switches
        self.runaway = RunawayCheck(cfg)
        self.code = faults.NONE  # the fault code of the check that fired last
        self.overruns = 0  # consecutive overrun passes
        self.sg_seen = 0  # the step generator's flag as last seen (non-zero: failed)
        self._ot_seen = False
        self._lies_seen = 0  # bit 1: home switch fault seen, bit 2: over-travel switch fault
        self.stepgen_tol = 0  # steps the plan and the count may differ by

    def configure(self, v_max_sps, tick_ms):
        """The plan-vs-count tolerance for the fastest motion (emergency speed)."""
        self.stepgen_tol = v_max_sps * tick_ms * _STEPGEN_TICKS // 1000 + 20

    def check(self, dt, inp, state, after):
        """Run the checks that come after `after` (K_NONE: all); return the first that
        fires, or K_NONE. The runaway check is off while homing (the reference is being
        set) and in READY (at the switch, where a mis-mounted IMU is calibrated); on
        everywhere else, standing still included: steps lost at the end of a move must
        still be judged."""
        if after == K_NONE:
            self._judge_switches()
        if after < K_OVERRUN:
            if inp.overrun:
                self.overruns += 1
                if self.overruns == self._cfg.overrun_limit:
                    self.code = faults.OVERRUN
                    return K_OVERRUN
            else:
                self.overruns = 0
        pos = self._pos
        est = self._est
        if after < K_IMU and est.fault != faults.NONE and pos.imu_trusted:
            self.code = est.fault
            return K_IMU
        if (after < K_RUNAWAY and pos.referenced and pos.steps_trusted and pos.imu_trusted
                and est.valid and state != HOMING and state != READY):
            plan = self._plan
            moving = plan.vel_sps != 0 or plan.rate_sps != 0 or not plan.done()
            self.runaway.update(dt, pos.steps_mdeg, est.angle_mdeg, True, moving)
            if self.runaway.tripped:
                self.code = faults.RUNAWAY
                return K_RUNAWAY
        if after < K_STEPGEN:
            sg = inp.stepgen_fault
            if sg != self.sg_seen:
                self.sg_seen = sg
                if sg:
                    self.code = faults.STEPGEN
                    return K_STEPGEN
        if after < K_PLAN and pos.steps_trusted:
            err = self._plan.pos - (pos.count + pos.offset)
            if err > self.stepgen_tol or err < -self.stepgen_tol:
                self.code = faults.STEPGEN
                return K_PLAN
        sw = self._switches
        if after < K_OVERTRAVEL:
            ot = sw.overtravel
            if ot != self._ot_seen:
                self._ot_seen = ot
                if ot and not sw.over_lies:  # a lying switch is K_SWITCH's
                    self.code = faults.OVERTRAVEL
                    return K_OVERTRAVEL
        if after < K_SWITCH:
            lies = (1 if sw.home_lies else 0) | (2 if sw.over_lies else 0)
            new = lies & ~self._lies_seen
            self._lies_seen = lies
            if new:
                self.code = faults.HOME_SWITCH if new & 1 else faults.OVERTRAVEL_SWITCH
                return K_SWITCH
        return K_NONE

    def _judge_switches(self):
        pos = self._pos
        est = self._est
        self._switches.judge(pos.referenced and pos.steps_trusted, pos.steps_mdeg,
                             pos.imu_trusted and est.valid, est.angle_mdeg)

class RunawayCheck:
    """Position-runaway check: the angle from the step count against the measured angle.

    Owns: the one judgement "the drive is not where the steps say" - the position twin of
    Marlin's thermal-runaway check. A stepper that loses steps under load, a slipping
    coupling or a broken gear all make the angle computed from the emitted steps drift away
    from the IMU's angle. Stall detection does not work at this drive's low motor speed, so
    this check is the one that sees it.

    Rule: |steps angle - IMU angle - base| > cfg.runaway_tol_mdeg (which already includes
    the gearbox backlash and the estimator's noise) continuously for cfg.runaway_window_ms
    sets `tripped`, latched until reset(). Any sample back within tolerance restarts the
    window, so a brief spike never trips. While the IMU angle is not valid there is no
    judgement: the timer holds (neither advances nor restarts) and nothing trips.

    `base_mdeg` is the part of the discrepancy put down to the IMU (issue #18). An
    accelerometer offset makes the IMU's error a smooth function of the angle, so the
    discrepancy changes with the angle travelled and never at rest; lost steps make it
    grow during a move at the rate the table failed to move. So, while the error is within
    tolerance, base follows the discrepancy, but no faster than:
    - during a move: _IMU_SLOPE_PERMILLE of the steps travelled (the steepest error an
      offset inside the datasheet tolerances can have against the angle);
    - at rest (the plan stopped, no pulses): _REST_DRIFT_MDEG_S (offsets drifting with
      temperature; a slip is far faster and is judged).
    and base stays within _IMU_SLOPE_PERMILLE of the distance from the anchor angle plus
    _REST_BASE_MAX_MDEG of the anchor's base: an offset's error is a function of the
    angle, not of the history, so moving back and forth cannot hide lost steps in it.
    The anchor is set by anchor(): on the home switch (the steps are true there, so the
    whole discrepancy is the IMU's) and after a calibration. A re-reference on the IMU
    (reactions.reference_from_imu) adds safe_offset_mdeg() back: steps are never
    re-referenced onto an IMU angle that drifted while the table stood still, nor onto one
    that hides steps lost on the way up. Steps lost at the end of a move
    (the timer already running) are still judged at rest: nothing is absorbed then.

    update() allocates nothing on MicroPython.
    """

    def __init__(self, cfg):
        self._cfg = cfg
        # Kept by reset(): they are the IMU's, not the reference's.
        self.base_mdeg = 0  # the part of the discrepancy that is the IMU's
        # the part of base known at rest: the anchor's plus what followed while standing
        # still (no pulses, the self-locking worm holds: only the IMU can have moved);
        # the rest of base followed during moves and may hold steps lost (safe_offset)
        self.rest_base_mdeg = 0
        self._anchor_base = 0  # base at the anchor
        self._anchor_steps = 0  # steps angle at the anchor
        self._anchor_next = True  # the next valid sample sets the anchor
        self._anchor_full = False  # ... taking the whole discrepancy as the IMU's
        self.reset()

    def reset(self):
        """Clear the latch and the timer (after the operator acknowledged the fault, or
        a new step reference)."""
        self.tripped = False  # latched: the steps and the measured angle disagree
        self.error_mdeg = 0  # steps angle - IMU angle at the latest valid sample, mdeg
        self.over_ms = 0  # how long the error has been continuously over tolerance
        self._e_last = None  # None: no valid sample since reset
        self._s_last = 0  # steps angle at the previous valid sample

    def anchor(self):
        """The steps are true now (on the home switch) or the IMU was just calibrated:
        the next valid sample's whole discrepancy is the IMU's (base), and the angle
        base may change with is counted from there."""
        self._anchor_next = True
        self._anchor_full = True

    def update(self, dt_ms, steps_angle_mdeg, imu_angle_mdeg, imu_valid, moving=True):
        """One tick. Angles in mdeg (+ = head-down); dt_ms since the previous call;
        moving: the drive is (or may still be) moving - see the class doc."""
        if not imu_valid:
            return
        e = steps_angle_mdeg - imu_angle_mdeg
        self.error_mdeg = e
        if self.tripped:
            return
        if self._anchor_next:
            self._anchor_next = False
            if self._anchor_full:
                self.base_mdeg = e
                self.rest_base_mdeg = e
            self._anchor_full = False
            self._anchor_base = self.base_mdeg
            self._anchor_steps = steps_angle_mdeg
        elif self.over_ms == 0 and self._e_last is not None:
            self._follow(e, steps_angle_mdeg, dt_ms, moving)
        self._e_last = e
        self._s_last = steps_angle_mdeg
        e -= self.base_mdeg
        tol = self._cfg.runaway_tol_mdeg
        if -tol <= e <= tol:
            self.over_ms = 0
            return
        if dt_ms > 0 and self.over_ms < _COUNT_MAX:
            self.over_ms += dt_ms
        if self.over_ms >= self._cfg.runaway_window_ms:
            self.tripped = True

    def _follow(self, e, steps, dt_ms, moving):
        """base toward e, at the rates an IMU's error can change (class doc)."""
        if moving:
            lim = (steps - self._s_last) * _IMU_SLOPE_PERMILLE // 1000
            if lim < 0:
                lim = -lim
        else:
            lim = _REST_DRIFT_MDEG_S * dt_ms // 1000 + 1
        d = e - self.base_mdeg
        if d > lim:
            d = lim
        elif d < -lim:
            d = -lim
        b = self.base_mdeg + d
        span = steps - self._anchor_steps
        if span < 0:
            span = -span
        # |span| <= 360000: the product stays a small int
        span = span * _IMU_SLOPE_PERMILLE // 1000 + _REST_BASE_MAX_MDEG
        a = self._anchor_base
        if b > a + span:
            b = a + span
        elif b < a - span:
            b = a - span
        if not moving:
            self.rest_base_mdeg += b - self.base_mdeg
        self.base_mdeg = b

    def safe_offset_mdeg(self):
        """The IMU offset to add to the IMU's angle when it must stand in for the steps
        (a re-reference, the return's arrival check): the part of base seen at rest, plus
        the part followed during moves only where it moves the angle head-down.

        During a move base follows at the steepest slope an offset can have, so it may
        also hold up to that much of steps really lost before the check tripped. Lost on
        the way up, those steps make that part negative (the table is head-down of the
        steps): adding it would put the reference head-up of the table and the return
        would stop short with the person head-down (found when the runaway return met the
        slope rule). Leaving it out errs the safe way: the reference is then head-down of
        the table by at most the offset's change along the move, and a return toward
        horizontal ends at it or that much head-up of it."""
        moved = self.base_mdeg - self.rest_base_mdeg
        if moved < 0:
            moved = 0
        return self.rest_base_mdeg + moved

    def rebase(self, offset_mdeg):
        """The steps were just re-referenced on the IMU plus offset_mdeg: that is now the
        whole discrepancy, taken as known (the next moves follow from here)."""
        self.base_mdeg = offset_mdeg
        self.rest_base_mdeg = offset_mdeg
        self.reset()
