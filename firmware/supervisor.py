"""The core's watchdogs over itself: loop overruns, the IMU, position runaway, the step
generator and the over-travel switch.

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
K_OVERTRAVEL = const(6)  # the over-travel switch closed

_STEPGEN_TICKS = const(5)  # emitted count this many ticks of max speed off the plan: glitch
_COUNT_MAX = const(0x3FFFFFFF)  # keeps the runaway timer a small int however long it runs


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
            self.runaway.update(dt, pos.steps_mdeg, est.angle_mdeg, True)
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
        if after < K_OVERTRAVEL:
            ot = self._switches.overtravel
            if ot != self._ot_seen:
                self._ot_seen = ot
                if ot:
                    self.code = faults.OVERTRAVEL
                    return K_OVERTRAVEL
        return K_NONE

class RunawayCheck:
    """Position-runaway check: the angle from the step count against the measured angle.

    Owns: the one judgement "the drive is not where the steps say" - the position twin of
    Marlin's thermal-runaway check. A stepper that loses steps under load, a slipping
    coupling or a broken gear all make the angle computed from the emitted steps drift away
    from the IMU's angle. Stall detection does not work at this drive's low motor speed, so
    this check is the one that sees it.

    Rule: |steps angle - IMU angle| > cfg.runaway_tol_mdeg (which already includes the
    gearbox backlash and the estimator's error) continuously for cfg.runaway_window_ms sets
    `tripped`, latched until reset(). Any sample back within tolerance restarts the window,
    so a brief spike never trips. While the IMU angle is not valid there is no judgement:
    the timer holds (neither advances nor restarts) and nothing trips.

    update() allocates nothing on MicroPython.
    """

    def __init__(self, cfg):
        self._cfg = cfg
        self.reset()

    def reset(self):
        """Clear the latch and the timer (after the operator acknowledged the fault)."""
        self.tripped = False  # latched: the steps and the measured angle disagree
        self.error_mdeg = 0  # steps angle - IMU angle at the latest valid sample, mdeg
        self.over_ms = 0  # how long the error has been continuously over tolerance

    def update(self, dt_ms, steps_angle_mdeg, imu_angle_mdeg, imu_valid):
        """One tick. Angles in mdeg (+ = head-down); dt_ms since the previous call."""
        if not imu_valid:
            return
        e = steps_angle_mdeg - imu_angle_mdeg
        self.error_mdeg = e
        if self.tripped:
            return
        tol = self._cfg.runaway_tol_mdeg
        if -tol <= e <= tol:
            self.over_ms = 0
            return
        if dt_ms > 0 and self.over_ms < _COUNT_MAX:
            self.over_ms += dt_ms
        if self.over_ms >= self._cfg.runaway_window_ms:
            self.tripped = True
