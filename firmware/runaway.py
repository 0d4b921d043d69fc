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

from micropython import const

_COUNT_MAX = const(0x3FFFFFFF)  # keeps the timer a small int however long it runs


class RunawayCheck:
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
