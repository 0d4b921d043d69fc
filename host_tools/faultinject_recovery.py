"""The liveness probe of the reliability campaign: the world healthy again, does the
table come back to READY with few enough acknowledgements and presses, in time?

RecoveryProbe is a part of the Harness (host_tools/faultinject_harness.py): recover() is
the ("recover",) action, ("reset_recover", in_ms) the one-press rule after a reset.
"""

from host_tools import invariants, paths

paths.use_firmware()

import states as S  # noqa: E402  (firmware/)

# A START press held this long is a long press (firmware config long_press_ms 1500).
LONG_PRESS_MS = 2000


class RecoveryFailed(invariants.Violation):
    pass



def _settled(runner):
    """READY, or a latch standing still (a fault found on the way: acknowledge, go on)."""
    core = runner.core
    return core.state == S.READY or (core.state in (S.FAULT, S.EMERGENCY_RETURN)
                                     and core.phase == 4 and core.plan.done())


class RecoveryProbe:
    """The recovery probe of a Harness (uses its board, core, runner, cfg and actions)."""

    def clear_faults(self):
        """The outside world is healthy again: IMU, e-stop, wire, buttons, noise, user."""
        b = self.board
        for name in sorted(self.imu_on):  # sorted: the same order under any hash seed
            self._a_imu(name, False)
        b.estop_release()
        b.estop_repair_wire()
        for name in sorted(self.held):
            self._button(name, False)
        b.switch_spike_rate = 0.0
        s = self.setup
        ph = b.physics
        if (ph.user_mass_kg, ph.user_com_offset_mm) != (s["mass_kg"], s["offset_mm"]):
            self.set_user(s["mass_kg"], s["offset_mm"])

    def return_bound_ms(self, angle_mdeg):
        """I5: the longest a return from angle to READY may take after the one press."""
        c = self.cfg
        v, a = c.jog_speed_mdeg_s, c.jog_accel_mdeg_s2
        t = 0.0
        if angle_mdeg > c.rest_angle_mdeg:
            t += invariants.trapezoid_ms(angle_mdeg - c.rest_angle_mdeg, v, a)
            t += c.rest_pause_ms
        t += invariants.trapezoid_ms(min(angle_mdeg, c.rest_angle_mdeg) - c.loading_angle_mdeg,
                                     v, a)
        # homing: approach, brake, and twice (the edge must repeat, homing.py) a retract
        # and a slow approach over it; park
        t += 3 * invariants.trapezoid_ms(c.homing_retract_mdeg, v, a)
        t += 2000.0 * (c.homing_retract_mdeg + 1000) / c.homing_slow_mdeg_s
        return t + 10000.0  # margin: ticks, ramps, the switch's debounce samples

    def _fail_recovery(self, text):
        raise RecoveryFailed("I5", self.board.now_ms, text)

    def _wait_latched(self, limit_ms):
        """Wait while an emergency return or a fault return is still under way."""
        end = self.board.now_ms + limit_ms
        while self.board.now_ms < end:
            core = self.core
            if core.state not in (S.EMERGENCY_RETURN, S.FAULT):
                return
            if core.phase == 4:  # P_LATCHED
                return
            self.run_ms(100)

    def recover(self, clear=True, max_acks=3, max_presses=2):
        """The liveness probe: with the world healthy again, acknowledgements (START long
        press) and START presses bring the table to READY, each return within
        return_bound_ms. After a clean reset the one-press rule is max_acks=0 (1 if the
        boot reported a fault), max_presses=1; after a random history a fault detected on
        the way back (steps lost while the IMU was down) may take one more of each.
        Raises RecoveryFailed otherwise."""
        if clear:
            self.clear_faults()
        self.run_ms(600)
        used = {"acks": 0, "presses": 0, "max_acks": max_acks, "max_presses": max_presses}
        end = self.board.now_ms + 600000
        while self.board.now_ms < end:
            if self.app.crashed:  # a dead loop: the watchdog resets the board first
                dead = self.app
                self.runner.run_until(lambda r, dead=dead: r.app is not dead,
                                      2 * self.cfg.wdt_timeout_ms)
                self.run_ms(600)
            st = self.core.state
            if st == S.READY:
                return
            self._recover_from(st, used)
        self._fail_recovery("no way back to READY: %s" % S.STATE_NAMES[self.core.state])

    def _recover_from(self, st, used):
        """One step of the probe from state st (used: acknowledgements and presses so far
        and their limits)."""
        if st == S.BOOT:
            self.run_ms(100)
        elif st in (S.EMERGENCY_RETURN, S.FAULT):
            self._recover_acknowledge(used)
        elif st == S.HOMING:
            self.runner.run_until(lambda r: r.core.state != S.HOMING, 60000)
        elif st in (S.MOVING, S.JOGGING):  # let a move end first: START means return
            self.runner.run_until(lambda r: r.core.state not in (S.MOVING, S.JOGGING), 60000)
            if self.core.state in (S.MOVING, S.JOGGING):
                self._fail_recovery("still %s after 60 s" % S.STATE_NAMES[self.core.state])
        elif st == S.RETURNING:
            t = self.return_bound_ms(self.board.true_angle_mdeg)
            if not self.runner.run_until(lambda r: r.core.state != S.RETURNING, int(t)):
                self._fail_recovery("still RETURNING %d ms later, at %.0f mdeg" % (
                    t, self.board.true_angle_mdeg))
        else:  # RECOVERY, HOLDING: the one deliberate press
            self._recover_press(st, used)

    def _recover_acknowledge(self, used):
        """A latch: once it stands still, acknowledge it (a START long press)."""
        self._wait_latched(120000)
        if self.core.state not in (S.EMERGENCY_RETURN, S.FAULT):
            return
        if used["acks"] >= used["max_acks"]:
            self._fail_recovery("still %s (fault %s) after %d acknowledgements" % (
                S.STATE_NAMES[self.core.state], self.core.fault, used["acks"]))
        used["acks"] += 1
        self._a_tap("START", LONG_PRESS_MS)
        self.run_ms(200)

    def _recover_press(self, st, used):
        """The deliberate START press; the table must then return to READY in time."""
        presses = used["presses"]
        if presses >= used["max_presses"]:
            self._fail_recovery("press %d needed: %s after the last" % (
                presses + 1, S.STATE_NAMES[st]))
        used["presses"] = presses + 1
        t = self.return_bound_ms(self.board.true_angle_mdeg)
        self._a_tap("START", 150)
        if not self.runner.run_until(_settled, int(t)):
            self._fail_recovery("not READY %d ms after the press: %s at %.0f mdeg" % (
                t, S.STATE_NAMES[self.core.state], self.board.true_angle_mdeg))
        core = self.core
        if core.state == S.FAULT and core.fault == 22:  # faults.HOMING
            self._fail_recovery("the press ended in a HOMING fault")
        if core.state != S.READY and used["max_presses"] == 1:
            self._fail_recovery("the press did not bring the table to READY: %s "
                                "(fault %d)" % (S.STATE_NAMES[core.state], core.fault))

    def _a_recover(self):
        self.recover()

    def _a_reset_recover(self, in_ms):
        """The one-press rule after a reset: the world healthy, the power cut in_ms from
        now for 300 ms; at boot nothing moves, then (one acknowledgement if the boot
        reported damaged files, and) ONE START press bring the table to READY."""
        self._count("power_cut")
        self.clear_faults()
        self.at(in_ms, lambda: self.board.power_cut(off_ms=300))
        self.run_ms(in_ms + 10)
        self.recover(clear=False, max_acks=1, max_presses=1)

