"""What the console reads from the application and its control core, and how it asks
them for changes: the one place that names their attributes.

The console changes the table only through core.command() (the clamp, the e-stop latch,
the faults and the child lock apply exactly as for the buttons) and the settings and
profiles only through the app's set_setting() / set_profile_field(). Everything else
here is a read. The event log, histories and access state are the app's objects, used
through their own interfaces (firmware/eventlog.py, history.py, auth.py).
"""

import commissioning
import faults
import profiles
import states
from console_text import RESETS, name, program_name, state_name


def _when(t):
    import civil  # on demand: dates are rarely asked for

    return civil.text(t)


class AppView:
    def __init__(self, app):
        self._app = app
        self._core = core = app.core
        self.log = core.log
        self.history = app.history
        self.faultlog = app.faultlog
        self.auth = app.auth
        self.startup_errors = app.startup_errors
        self.version = app.version
        self.build = app.build  # from the deploy's manifest (firmware/manifest.py)
        self.service = app.service  # the service mode's loop: the bring-up commands

    # ------------------------------------------------------------ changes

    def command(self, cmd, a=0, b=0):
        """core.command(): OK or the refusal reason (states.R_*); the core applies the
        child lock (firmware/childlock.py) to every source."""
        return self._core.command(cmd, a, b)

    def set_setting(self, name_, value):
        """(old value, store status); ConfigError or ProfileError if refused (unchanged)."""
        return self._app.set_setting(name_, value)

    def set_profile_field(self, field, value):
        """(old value, store status); ProfileError if refused (unchanged)."""
        return self._app.set_profile_field(field, value)

    def patients(self, op, *args):
        """firmware/patients.py's op (create, rename, remove, select) on the app; imported
        on demand. Its result; ProfileError if refused (unchanged)."""
        import patients

        return getattr(patients, op)(self._app, *args)

    def set_clock(self, t):
        """Set the wall clock (record time t, firmware/wallclock.py)."""
        self._app.clock.set(t, self._core.now_ms)

    def consent_by(self, who):
        """Who gives the next consent (the record layer stamps it with the time)."""
        self._app.persistence.consent_by = who

    # ------------------------------------------------------------ reads

    def state(self):
        return self._core.state

    def still(self):
        """The table cannot be moving this pass (app.standing_still, set before the
        console runs): where the console may import a module on demand."""
        return self._app.gate.still

    def angle_mdeg(self):
        return self._core.angle_mdeg

    def target_mdeg(self):
        return self._core.target_mdeg

    def fault(self):
        return self._core.fault

    def program_id(self):
        return self._core.program_id

    def profile(self):
        return self._core.profile

    def profiles(self):
        """Every profile (patient), in the stored order."""
        return self._app.profiles

    def now(self):
        """The record time of now (firmware/wallclock.py)."""
        return self._app.clock.now(self._core.now_ms)

    def child_lock(self):
        return bool(self._core.child_lock)

    def plan(self):
        """The running program's [[target_mdeg, hold_ms], ...]."""
        return [[t, h] for t, h in self._core.runner.plan()]

    def plan_clamped(self):
        """True if the program's plan reduced an angle or a hold to a limit."""
        return self._core.runner.clamped

    def hold_ms(self):
        """The hold `hold` set: the one running in HOLDING, else the next one."""
        core = self._core
        return core.timer_ms if core.state == states.HOLDING else core.hold_ms_next

    def clamp_mdeg(self, target_mdeg):
        """The target a move to target_mdeg gets once homed (the core's own clamp)."""
        return self._core.targets.clamp(target_mdeg, True)

    def cap_hold_ms(self):
        """The hold the program shortened to fit the session cap (-1: none)."""
        return self._core.runner.cap_hold_ms

    def calibration(self):
        """The IMU calibration (imucal.ImuCal): why the last one was refused, its gain."""
        return self._core.imucal

    def homed(self):
        return bool(self._core.homed)

    def unhomed_limit(self):
        """(the highest target while not homed, the IMU error it allows for), mdeg."""
        cfg = self._app.cfg
        return commissioning.unhomed_max_mdeg(cfg), commissioning.imu_err_mdeg(cfg)

    def setting(self, name_):
        return self._app.cfg.get(name_)

    def inputs(self):
        """The tick's Inputs as the board filled them (the bring-up's raw readings)."""
        return self._app.inputs

    def imu_part(self):
        """The board's IMU driver (its who_am_i), or None if the board has none."""
        return getattr(self._app.board, "imu", None)

    def step_counts(self):
        """(commanded, counted, angle): the plan's position and the PCNT count, both in
        the board's steps, and the step count's angle in mdeg."""
        core = self._core
        pos = core.pos
        return core.plan.pos - pos.offset, self._app.inputs.step_count, pos.steps_mdeg

    def boot_result(self):
        """None during the self-test; then its fault code, 0 if it passed."""
        core = self._core
        if core.state == states.BOOT:
            return None
        if core.state == states.FAULT and core.fault_at_boot:
            return core.fault
        return 0

    def no_target(self):
        """Why the table has no target now, for people ("" or the reason), or None if
        it has one: standing with nothing planned (READY, an ack's included; BOOT and
        RECOVERY: not homed yet), or HOLDING (the target of the move that ended, a
        stop's too, was only where it was going). The JSON replies keep target_mdeg."""
        core = self._core
        st = core.state
        if st == states.HOLDING:
            return "holding"
        if st <= states.READY and st != states.HOMING:
            return "" if core.homed else "not homed yet"
        return None

    def status_pairs(self, therapist, human=False):
        core = self._core
        p = core.profile
        why = self.no_target()
        none = None if why is None else ("none (%s)" % why if why else "none")
        target = ("target", none) if human and none else ("target_mdeg", core.target_mdeg)
        # JSON keeps target_mdeg and adds the words as no_target (null where there is a
        # target): the client's live view shows them as `status` does
        pairs = (
            ("state", state_name(core.state)),
            ("phase", states.phase_name(core.phase)),
            ("angle_mdeg", core.angle_mdeg),
            target,
            ("fault", faults.name(core.fault)),
            ("est_valid", bool(core.est.valid)),
            ("homed", bool(core.homed)),
            ("imu_calibrated", bool(core.cfg.imu_calibrated)),
            ("estop_open", bool(core.switches.estop_open)),
            ("ankle_lock", "open" if core.switches.ankle_open else "closed"),
            ("timer_ms", core.timer_ms),
            ("head_down_ms", core.head_down_ms),
            ("session_cap_ms", p.session_cap_ms),
            ("deepest_mdeg", core.deepest_mdeg),
            ("program", program_name(core.program_id)),
            ("profile", p.name),
            ("max_mdeg", p.max_mdeg),
            ("level", p.level),
            ("consent", bool(p.consent)),
            ("child_lock", bool(core.child_lock)),
            ("therapist", therapist),
            ("startup_errors", list(self.startup_errors)),
        )
        return pairs if human else pairs + (("no_target", none),)

    def selftest_pairs(self, result):
        """The `selftest` reply's fields after result: the reset cause and live checks."""
        app = self._app
        core = self._core
        est = core.est
        sw = core.switches
        return (
            ("selftest", result),
            ("reset_cause", name(RESETS, app.board.reset_cause())),
            ("estop_open", sw.estop_open),
            ("imu_valid", bool(est.valid)),
            ("imu_fault", faults.name(est.fault)),
            ("imu_angle_mdeg", est.angle_mdeg),
            ("home_switch", sw.at_home_switch),
            ("overtravel_switch", sw.overtravel),
            ("ankle_lock_open", sw.ankle_open),
            ("homed", bool(core.homed)),
            ("steps_trusted", core.pos.steps_trusted),
            ("imu_trusted", core.pos.imu_trusted),
            ("stuck_buttons", core.buttons.stuck),
            ("overruns_total", app.overruns_total),
            ("config_fault", faults.name(app.config_fault)),
            ("startup_errors", list(self.startup_errors)),
        )

    def profile_pairs(self):
        p = self._core.profile
        lvl = p.level
        return (
            ("name", p.name),
            ("max_mdeg", p.max_mdeg),
            ("hold_max_ms", p.hold_max_ms),
            ("session_cap_ms", p.session_cap_ms),
            ("level", lvl),
            ("level_angle_mdeg", profiles.LEVEL_ANGLE_MDEG[lvl]),
            ("level_hold_ms", profiles.LEVEL_HOLD_MS[lvl]),
            ("sessions_at_level", p.sessions_at_level),
            ("advance_after", p.advance_after),
            ("consent", bool(p.consent)),
            ("consent_by", p.consent_by if p.consent else None),
            ("consent_time", _when(p.consent_t) if p.consent else None),
        )
