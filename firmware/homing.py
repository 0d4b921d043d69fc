"""Homing: finding the loading switch and setting the step reference on it.

Owns the homing sequence (phases states.H_*): toward the loading angle at jog speed;
if the switch is not there yet, on slowly head-up (the safe direction) a bounded
distance; brake on the switch, back off it, approach again slowly and take the
reference where the switch closes (Position.reference, homed), then park at the loading
angle. start() begins it; step() advances it once per tick and returns RUNNING, DONE
(parked, referenced) or FAILED (no switch within the expected travel, or a switch that
never releases); the core raises the fault. Moves go through Targets.go (clamped, as
every target) and Targets.aim (unclamped: only the seek past the counted loading angle,
toward the mechanical stop). Allocation-free.
"""

from events import E_HOMED
from micropython import const
from states import H_APPROACH, H_BRAKE, H_PARK, H_RETRACT, H_SEEK, H_SLOW

RUNNING = const(0)
DONE = const(1)
FAILED = const(2)


class Homing:
    def __init__(self, cfg, kin, plan, pos, switches, targets, runaway, log):
        self._cfg = cfg
        self._kin = kin
        self._plan = plan
        self._pos = pos
        self._switches = switches
        self._targets = targets  # the speeds, and the moves (motion.Targets)
        self._runaway = runaway
        self._log = log
        self.phase = H_APPROACH
        self._pressed_mdeg = 0  # counted angle where the switch was last seen pressed

    def start(self):
        tg = self._targets
        self.phase = H_APPROACH
        tg.go(self._cfg.loading_angle_mdeg, tg.v_jog, tg.a_jog)

    def step(self, now_ms):
        ph = self.phase
        plan = self._plan
        at_switch = self._switches.at_home_switch
        if ph == H_APPROACH or ph == H_SEEK:
            if at_switch:
                plan.stop()
                self.phase = H_BRAKE
            elif plan.done():
                if ph == H_SEEK:
                    return FAILED  # not within the expected travel
                # Lost steps can leave the counted loading angle short of the switch:
                # seek on slowly, head-up (the safe direction), a bounded distance.
                self.phase = H_SEEK
                self._seek()
        elif ph == H_BRAKE:
            if plan.done():
                self.phase = H_RETRACT
                # aimed in the steps' frame, the frame the move is counted in
                here = self._kin.mdeg_from_steps(plan.pos)
                self._pressed_mdeg = here
                tg = self._targets
                # unclamped, as the seek: off the switch by homing_retract_mdeg, not on to
                # a counted loading angle that an uncalibrated IMU's boot reference put up
                # to 5.4 deg further (issue #18); head-up of the switch's edge + 2 deg
                tg.aim(here + self._cfg.homing_retract_mdeg, tg.v_jog, tg.a_jog)
        elif ph == H_RETRACT:
            if plan.done():
                if at_switch:
                    return FAILED  # the switch never released: stuck
                self.phase = H_SLOW
                self._seek(self._pressed_mdeg)
        elif ph == H_SLOW:
            if at_switch:
                self._reference(now_ms)
            elif plan.done():
                return FAILED
        elif ph == H_PARK:
            if plan.done():
                return DONE
        return RUNNING

    def _seek(self, pressed_mdeg=None):
        """Toward the head-up side, past the step-counted loading angle by up to
        homing_travel_mdeg - the switch, not the steps, says where loading is. Head-up
        is the safe direction; the mechanical stop is 1 deg past loading. After the
        retract, also at least that far past where the switch was pressed: counted from
        a boot reference on an uncalibrated IMU (up to 5.4 deg off, issue #18) the
        loading angle can lie short of the switch's edge."""
        cfg = self._cfg
        tg = self._targets
        target = cfg.loading_angle_mdeg - cfg.homing_travel_mdeg
        if pressed_mdeg is not None and pressed_mdeg - cfg.homing_travel_mdeg < target:
            target = pressed_mdeg - cfg.homing_travel_mdeg
        tg.aim(target, tg.v_home, tg.a_jog)

    def _reference(self, now_ms):
        # the reference: this count is where the switch edge is
        cfg = self._cfg
        pos = self._pos
        pos.reference(cfg.home_switch_mdeg)
        pos.homed = True
        self._runaway.reset()  # a new reference: the old error history no longer applies
        self._runaway.anchor()  # the steps are true here: the discrepancy is the IMU's
        self._plan.reset(pos.count + pos.offset)
        self._log.add(now_ms, E_HOMED, pos.count)
        self.phase = H_PARK
        tg = self._targets
        tg.go(cfg.loading_angle_mdeg, tg.v_home, tg.a_jog)
