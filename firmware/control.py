"""The control core: one deterministic, allocation-free tick from inputs to outputs.

Owns the state machine: the state and its phase (names and tables in firmware/states.py),
every transition (only those in states.NEXT; any other is an internal fault), the
command entry point (type and states.ALLOWED checks), the e-stop latch's trigger, the
order of a tick, and the outputs (drive and indicators). It composes the parts that do
one job each: where the table is (position.py), the switches (switches.py), the checks
that report faults (supervisor.py), the ankle lock's rules (anklelock.py), the session's
clock and caps (session.py), homing (homing.py), the buttons and the commands they give
(buttons.py), the targets, their clamp and the speeds, and the motion plan (motion.py),
the angle estimator (estimator.py); and, as functions of the core, what each state does
per tick (steps.py), what each command does (commands.py) and the safe reactions to an
e-stop or a fault (reactions.py).

`Core.tick(now_ms, inputs, outputs)` is called once per loop pass with the board's
wrapping millisecond clock; `Core.command(cmd, a, b)` is how the console (and the
buttons, inside the tick) ask for something, returning 0 or a refusal reason. The core
never imports machine/esp32, never reads a clock and never sleeps.

Angles are millidegrees from horizontal, positive head-down. Every target from every
path goes through the clamp (Targets.clamp): [loading angle, min(profile max, soft
max)], and no further than horizontal until the profile's contraindication consent is
given, nor while the ankle lock is not engaged.
"""

import anklelock
import buttons
import childlock
import commands
import commissioning
import events
import faults
import programs
import reactions
import states
import steps
from buttons import Buttons
from estimator import Estimator
from eventlog import EventLog
from homing import Homing
from imucal import ImuCal
from kinematics import make_kinematics
from lift import Lift
from liftcheck import LiftCheck
from micropython import const
from motion import MotionPlan, Targets
from position import Position
from session import Session
from signals import (
    IND_ALARM,
    IND_FAST,
    IND_OFF,
    IND_SLOW,
    IND_STEADY,
    safe_outputs,
)

# The names the per-tick path compares are imported; the rest are read through their
# module: every imported name is one more entry in this module's globals (heap).
from states import (
    BOOT,
    EMERGENCY_RETURN,
    FAULT,
    HOLDING,
    JOGGING,
    MOVING,
    P_LATCHED,
    P_NONE,
    READY,
    RECOVERY,
)
from supervisor import K_IMU, K_NONE, K_OVERRUN, K_PLAN, K_RUNAWAY, K_STEPGEN, Supervisor
from switches import Switches
from ticks import ticks_diff

_BOOT_MS = const(300)  # self-test window: the estimator settles and the switches are sampled
_DT_MAX_MS = const(100)  # a stalled loop must not make simulated time jump further
_SG_HEAD_DOWN_ONLY = const(1)  # stepgen.FAULT_FROZEN_POS: only head-down pulses uncounted

# The indicator patterns of each state, BOOT..FAULT: booting and moving a slow blink,
# ready and holding steady, returning fast, recovery fast with beeps, emergency return
# and fault the alarm.
_LED = bytes((IND_SLOW, IND_FAST, IND_SLOW, IND_STEADY, IND_SLOW, IND_SLOW, IND_STEADY,
              IND_FAST, IND_ALARM, IND_ALARM))
_BUZZER = bytes((IND_OFF, IND_FAST, IND_OFF, IND_OFF, IND_OFF, IND_OFF, IND_OFF, IND_OFF,
                 IND_ALARM, IND_ALARM))


class Core:
    def __init__(self, cfg, profile, log=None, config_fault=faults.NONE):
        """config_fault: what the application found wrong with its configuration or
        storage at start-up (faults.NONE if nothing); the self-test latches it."""
        self.cfg = cfg
        self.profile = profile  # max_mdeg, hold_max_ms, session_cap_ms, consent, ...
        self.profiles = [profile]  # what C_PROFILE selects from (the app's list)
        self.config_fault = config_fault
        self.log = log if log is not None else EventLog()
        self.kin = kin = make_kinematics(cfg)
        self.est = Estimator(cfg)
        self.imucal = ImuCal()  # the IMU calibration's point of this power-up
        self.plan = MotionPlan(cfg.tick_ms)
        self.runner = programs.Runner(cfg)
        self.pos = Position(kin)
        self.switches = Switches(cfg)
        self.targets = Targets(cfg, kin, profile, self.plan, self.switches, self.pos)
        self.sup = Supervisor(cfg, self.est, self.pos, self.plan, self.switches)
        self.session = Session(cfg)
        self.buttons = Buttons(cfg)
        self.homing = Homing(cfg, kin, self.plan, self.pos, self.switches, self.targets,
                             self.sup.runaway, self.log, self.est)
        self.apply_config()
        self.program_id = programs.BEGINNER
        self.child_lock = False
        self.started = False
        self.now_ms = 0
        self.dt_ms = 0
        self.ankle_refused_ms = 0  # the panel's refusal signal still to run (anklelock.py)
        self.state = BOOT
        self.phase = P_NONE
        self.timer_ms = 0  # countdown of the current phase (boot window, rest pause, hold)
        self.fault = faults.NONE
        self.fault_at_boot = False
        self.boot_estop = False  # the console's estop arrived during the self-test
        self.retries = 0  # safe-return attempts that ended in the same fault
        self.lift = Lift()  # a runaway's return that keeps trying (reactions.py)
        self.liftcheck = LiftCheck()  # can the drive lift this person (liftcheck.py)
        self.drive_ok = True  # the step generator can be trusted to move the table
        self.reduced = False  # recovery / degraded: move at jog speed
        self.pending_cmd = 0  # a motion command waiting for homing to finish
        self.pending_a = 0
        self.pending_b = 0
        self.jog_bit = 0  # the hold-to-run button that started the jog (0: the console's)
        self.jog_keep_ms = 0  # the console jog's keep-alive left (commands.py)
        self.drive_hold = False  # READY with the driver energised, no motion (bring-up)
        self.hold_ms_next = 0  # hold to apply when the current move arrives
        self.stuck_seen = 0  # the stuck buttons already logged
        self._rearm = False  # re-arm the e-stop IRQ with the next outputs

    def apply_config(self):
        """Take the (validated) configuration's limits into the parts that use them.

        Called at construction and by the console after a setting changed (only in
        READY, so nothing changes under a moving table). The buttons keep their state.
        """
        self.targets.configure(self.cfg, self.kin)
        self.sup.configure(self.targets.v_emergency, self.cfg.tick_ms)
        self.buttons.configure(self.cfg)

    def use_profile(self, profile):
        """The profile the limits, the clamp and the session cap come from (C_PROFILE,
        in READY only: never under a moving table or during a session)."""
        self.profile = profile
        self.targets.use_profile(profile)

    # The status the console and the tools read, kept by the parts.
    @property
    def angle_mdeg(self):
        return self.pos.angle_mdeg

    @property
    def homed(self):
        return self.pos.homed

    @property
    def session_active(self):
        return self.session.active

    @property
    def head_down_ms(self):
        return self.session.head_down_ms

    @property
    def deepest_mdeg(self):
        return self.session.deepest_mdeg

    @property
    def target_mdeg(self):
        return self.targets.target_mdeg

    # ------------------------------------------------------------------ boot

    def boot(self, now_ms, reset_cause):
        """Record the reset cause; the first ticks then run the power-on self-test."""
        self.now_ms = now_ms
        self.log.add(now_ms, events.E_BOOT, reset_cause)
        # long enough for the estimator to see a frozen sensor before it gives the reference
        frozen_ms = (self.cfg.frozen_samples + 5) * self.cfg.tick_ms
        self.timer_ms = _BOOT_MS if _BOOT_MS > frozen_ms else frozen_ms

    # ------------------------------------------------------------------ tick

    def tick(self, now_ms, inp, out):
        if self.started:
            dt = ticks_diff(now_ms, self.now_ms)
            if dt < 0:
                dt = 0
            elif dt > _DT_MAX_MS:
                dt = _DT_MAX_MS
        else:
            dt = self.cfg.tick_ms
            self.started = True
        self.now_ms = now_ms
        self.dt_ms = dt
        self._measure(dt, inp)
        if self.state == BOOT:
            steps.boot_step(self, dt, inp)  # the self-test refuses to start with the circuit open
        else:
            # Act on the e-stop circuit opening (polled) or on an ISR edge; a circuit
            # already open at power-up is the self-test's fault, and nothing moves
            # until a command.
            sw = self.switches
            if (sw.estop_opened or sw.estop_edge) and self.state != EMERGENCY_RETURN:
                reactions.emergency(self, 1 if sw.estop_opened else 2,
                                    self.cfg.rest_angle_mdeg)
            if sw.ankle_open:
                anklelock.watch(self)  # opened head-down: back to horizontal at once
            self._supervise(dt, inp)
            if self.session.active and self.pos.angle_ok:
                self._session_clock(dt)
            buttons.to_commands(self, dt, inp)
            steps.step(self, dt)
        self._drive(dt, out)
        st = self.state
        out.led = _LED[st]
        out.buzzer = _BUZZER[st]
        if self.switches.ankle_open or self.ankle_refused_ms:
            anklelock.signal(self, out)  # the alarm, or a refusal's signal, at the panel
        out.feed_ok = True

    # -------------------------------------------------------------- measuring

    def _measure(self, dt, inp):
        pos = self.pos
        plan = self.plan
        if dt > 2 * self.cfg.tick_ms and pos.referenced:
            # The loop stalled: the dead-man stopped the pulses after two ticks while the
            # plan ran on. Re-base the plan on the counted position, from rest, so the
            # motor ramps up again instead of being asked to catch up at full speed.
            plan.rebase(inp.step_count + pos.offset)
        self.est.update(dt, inp, plan.vel_sps == 0 and plan.rate_sps == 0)
        pos.measure(inp.step_count, self.est)
        self.switches.update(inp)

    def _supervise(self, dt, inp):
        """The supervisor reports each failed check in order; the core decides."""
        sup = self.sup
        k = sup.check(dt, inp, self.state, K_NONE)
        while k != K_NONE:
            pos = self.pos
            if k == K_OVERRUN:
                self.log.add(self.now_ms, events.E_OVERRUN, sup.overruns)
            elif k == K_IMU:
                pos.imu_trusted = False
            elif k == K_RUNAWAY or k == K_PLAN:
                pos.steps_trusted = False
            elif k == K_STEPGEN and sup.sg_seen != _SG_HEAD_DOWN_ONLY:
                # The counter is not the truth. Head-down pulses alone uncounted still
                # leave a counted way up; otherwise the drive cannot be confirmed at all
                # and nothing moves (the worm holds; manual release).
                pos.steps_trusted = False
                self.drive_ok = False
            reactions.raise_fault(self, sup.code)
            k = sup.check(dt, inp, self.state, k)

    def _session_clock(self, dt):
        if self.session.clock(dt, self.pos.angle_mdeg, self.profile.session_cap_ms):
            st = self.state
            if st == MOVING or st == JOGGING or st == HOLDING:
                self.log.add(self.now_ms, events.E_CAP, 2)
                steps.start_return(self)

    # --------------------------------------------------------------- commands

    def command(self, cmd, a=0, b=0):
        """Ask for something; returns OK or a refusal reason (states.R_*). Never raises."""
        r = self._command(cmd, a, b)
        if cmd != states.C_JOG_KEEP or r != states.OK:
            # an accepted keep-alive (ten a second while a console jog runs) is not an
            # event: logged, it would push the log's older events out
            self.log.add(self.now_ms, events.E_COMMAND, cmd, r)
        return r

    def _command(self, cmd, a, b):
        if type(cmd) is not int or cmd < 1 or cmd > states.C_LAST:
            return states.R_ARG
        if type(a) is not int or type(b) is not int:
            return states.R_ARG
        if self.child_lock and not childlock.allowed(cmd):
            return states.R_LOCKED  # every source: buttons, console, programs
        r = commissioning.check(self.cfg, cmd, a, self.pos.angle_mdeg)
        if r != states.OK:
            return r  # every source too: no head-down motion before the IMU calibration
        st = self.state
        if not states.ALLOWED[st] & (1 << cmd):
            if st == EMERGENCY_RETURN:
                return states.R_LATCHED
            if st == FAULT:
                return states.R_FAULT
            return states.R_STATE
        r = anklelock.check(self, cmd, a)
        if r != states.OK:
            return r  # and none while the ankle lock is not engaged (anklelock.py)
        return commands.run(self, st, cmd, a, b)

    # ------------------------------------------------------------ transitions

    def enter(self, to):
        """The one way to change state: only along states.NEXT."""
        st = self.state
        if to == st:
            return
        if not states.NEXT[st] & (1 << to):
            # A state change the table does not allow is a firmware bug: fail safe.
            self.log.add(self.now_ms, events.E_FAULT, faults.INTERNAL, st)
            to = FAULT
            if self.fault == faults.NONE:
                self.fault = faults.INTERNAL
            self.phase = P_LATCHED
            self.plan.stop()
        self.log.add(self.now_ms, events.E_STATE, st, to)
        self.state = to
        self.drive_hold = False  # held in READY only: any change of state ends it
        if st == EMERGENCY_RETURN or to == READY:
            self._rearm = True  # the latch was acknowledged, or the table is at rest
        if to == READY:
            self.liftcheck.proven = False  # at the loading stop another person may get on
        if to == READY and self.session.active:
            self._session_end()

    # --------------------------------------------------------------- sessions

    def _session_end(self):
        how = self.session.end()
        self.reduced = False
        self.log.add(self.now_ms, events.E_SESSION_END, how, self.session.deepest_mdeg)

    # ------------------------------------------------------------ the outputs

    def _drive(self, dt, out):
        plan = self.plan
        pos = self.pos
        table_count = pos.count + pos.offset
        if self._energised():
            plan.update(dt)
            plan.rate_for(table_count, dt)
            plan.window(table_count, dt)
            out.rate_sps = plan.rate_sps
            out.limit_lo = plan.limit_lo - pos.offset
            out.limit_hi = plan.limit_hi - pos.offset
            out.enable = True
        else:
            # de-energised: nothing may move; the plan follows the real position
            plan.reset(table_count)
            safe_outputs(out, pos.count)
        out.estop_rearm = self._rearm
        self._rearm = False

    def _energised(self):
        st = self.state
        if st == READY:
            return self.drive_hold
        if st == BOOT or st == RECOVERY:
            return False
        if st == EMERGENCY_RETURN or st == FAULT:
            return not (self.phase == P_LATCHED and self.plan.done())
        return True
