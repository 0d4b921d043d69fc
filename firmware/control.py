"""The control core: one deterministic, allocation-free tick from inputs to outputs.

Owns the state machine (states, phases and tables in firmware/states.py), the clamp,
the emergency latch, faults and their safe return, recovery after a reset, and the
commands from buttons and the console. It composes the parts that do one job each:
where the table is (position.py), the switches (switches.py), the checks that report
faults (supervisor.py), the session's clock and caps (session.py), homing (homing.py),
the buttons (buttons.py, buttonmap.py), the speeds (speeds.py), the motion plan
(motion.py) and the angle estimator (estimator.py).

`Core.tick(now_ms, inputs, outputs)` is called once per loop pass with the board's
wrapping millisecond clock; `Core.command(cmd, a, b)` is how the console (and the
buttons, inside the tick) ask for something, returning 0 or a refusal reason. The core
never imports machine/esp32, never reads a clock and never sleeps.

Angles are millidegrees from horizontal, positive head-down. Every target from every
path goes through `_clamp`: [loading angle, min(profile max, soft max)], and no further
than horizontal until the profile's contraindication consent is given.
"""

import buttonmap
import faults
import homing
import programs
from buttons import Buttons
from estimator import Estimator
from eventlog import EventLog
from events import (
    E_ACK,
    E_BOOT,
    E_CALIBRATED,
    E_CAP,
    E_CLAMPED,
    E_COMMAND,
    E_CONSENT,
    E_DISCOMFORT,
    E_ESTOP,
    E_FAULT,
    E_OVERRUN,
    E_RECOVERY,
    E_SEGMENT,
    E_SESSION_END,
    E_SESSION_START,
    E_STATE,
    E_STUCK_BUTTON,
)
from homing import Homing
from kinematics import make_kinematics
from micropython import const
from motion import MotionPlan
from position import Position
from session import Session
from signals import (
    IND_ALARM,
    IND_FAST,
    IND_OFF,
    IND_SLOW,
    IND_STEADY,
    SW_DOWN,
    SW_START,
    SW_UP,
    safe_outputs,
)
from speeds import Speeds
from states import (
    ALLOWED,
    BOOT,
    C_ACK,
    C_CALIBRATE,
    C_CHILD_LOCK,
    C_CONSENT,
    C_DISCOMFORT,
    C_ESTOP,
    C_GOTO,
    C_HOLD,
    C_HOME,
    C_JOG_DOWN,
    C_JOG_RELEASE,
    C_JOG_UP,
    C_PROGRAM,
    C_RECOVER,
    C_RETURN,
    C_START,
    C_STOP,
    EMERGENCY_RETURN,
    FAULT,
    HOLDING,
    HOMING,
    JOGGING,
    MOVING,
    NEXT,
    OK,
    P_LATCHED,
    P_NONE,
    P_REREF,
    P_RESTING,
    P_STOPPING,
    P_TO_LOADING,
    P_TO_REST,
    R_ARG,
    R_CAP,
    R_CAUSE,
    R_CONSENT,
    R_ESTOP_OPEN,
    R_FAULT,
    R_IN_PROGRESS,
    R_LATCHED,
    R_LOCKED,
    R_STATE,
    R_UNTRUSTED,
    READY,
    RECOVERY,
    RETURNING,
)
from supervisor import K_IMU, K_NONE, K_OVERRUN, K_PLAN, K_RUNAWAY, K_STEPGEN, Supervisor
from switches import Switches
from ticks import ticks_diff

_BOOT_MS = const(300)  # self-test window: the estimator settles and the switches are sampled
_DT_MAX_MS = const(100)  # a stalled loop must not make simulated time jump further
_SWITCH_TOL_MDEG = const(4000)  # boot check: switch state vs angle, allowing IMU error
_SAFE_RETURN_TRIES = const(3)  # automatic safe-return attempts before standing still
_MANUAL = const(-1)  # E_SESSION_START program id of a manual session (goto, jog, recovery)
_SG_HEAD_DOWN_ONLY = const(1)  # stepgen.FAULT_FROZEN_POS: only head-down pulses uncounted
_ANGLE_ARG_MAX = const(180000)  # any angle argument outside +-180 deg is malformed
_HOLD_ARG_MAX_MS = const(3600000)  # an hour: any longer hold request is malformed

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
        self.config_fault = config_fault
        self.log = log if log is not None else EventLog()
        self.kin = kin = make_kinematics(cfg)
        self.est = Estimator(cfg)
        self.plan = MotionPlan(cfg.tick_ms)
        self.runner = programs.Runner(cfg)
        self.pos = Position(kin)
        self.switches = Switches(cfg)
        self.speeds = Speeds(cfg, kin)
        self.sup = Supervisor(cfg, self.est, self.pos, self.plan, self.switches)
        self.session = Session(cfg)
        self.buttons = Buttons(cfg)
        self.homing = Homing(cfg, kin, self.plan, self.pos, self.switches, self.speeds,
                             self.sup.runaway, self.log, self._go, self._aim)
        self.apply_config()
        self.program_id = programs.BEGINNER
        self.child_lock = False
        self.started = False
        self.now_ms = 0
        self.dt_ms = 0
        self.state = BOOT
        self.phase = P_NONE
        self.timer_ms = 0  # countdown of the current phase (boot window, rest pause, hold)
        self.fault = faults.NONE
        self.fault_at_boot = False
        self.boot_estop = False  # the console's estop arrived during the self-test
        self.retries = 0  # safe-return attempts that ended in the same fault
        self.drive_ok = True  # the step generator can be trusted to move the table
        self.reduced = False  # recovery / degraded: move at jog speed
        self.pending_cmd = 0  # a motion command waiting for homing to finish
        self.pending_a = 0
        self.pending_b = 0
        self.target_mdeg = 0  # last clamped target (for the invariant checks)
        self.jog_bit = 0  # the hold-to-run button that started the jog
        self.hold_ms_next = 0  # hold to apply when the current move arrives
        self._stuck_seen = 0
        self._rearm = False  # re-arm the e-stop IRQ with the next outputs

    def apply_config(self):
        """Take the (validated) configuration's limits into the parts that use them.

        Called at construction and by the console after a setting changed (only in
        READY, so nothing changes under a moving table). The buttons keep their state.
        """
        self.speeds.configure(self.cfg, self.kin)
        self.sup.configure(self.speeds.v_emergency, self.cfg.tick_ms)
        self.buttons.configure(self.cfg)

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

    # ------------------------------------------------------------------ boot

    def boot(self, now_ms, reset_cause):
        """Record the reset cause; the first ticks then run the power-on self-test."""
        self.now_ms = now_ms
        self.log.add(now_ms, E_BOOT, reset_cause)
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
            self._boot_step(dt)  # the self-test refuses to start with the circuit open
        else:
            # Act on the e-stop circuit opening (polled) or on an ISR edge; a circuit
            # already open at power-up is the self-test's fault, and nothing moves
            # until a command.
            sw = self.switches
            if (sw.estop_opened or sw.estop_edge) and self.state != EMERGENCY_RETURN:
                self._emergency(1 if sw.estop_opened else 2)
            self._supervise(dt, inp)
            if self.session.active and self.pos.angle_ok:
                self._session_clock(dt)
            self._buttons(dt, inp)
            self._step(dt)
        self._drive(dt, out)
        st = self.state
        out.led = _LED[st]
        out.buzzer = _BUZZER[st]
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
                self.log.add(self.now_ms, E_OVERRUN, sup.overruns)
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
            self._raise_fault(sup.code)
            k = sup.check(dt, inp, self.state, k)

    def _session_clock(self, dt):
        if self.session.clock(dt, self.pos.angle_mdeg, self.profile.session_cap_ms):
            st = self.state
            if st == MOVING or st == JOGGING or st == HOLDING:
                self.log.add(self.now_ms, E_CAP, 2)
                self._start_return()

    # ---------------------------------------------------------------- buttons

    def _buttons(self, dt, inp):
        b = self.buttons
        b.update(dt, inp.switches)
        stuck = b.stuck
        if stuck & ~self._stuck_seen:
            self.log.add(self.now_ms, E_STUCK_BUTTON, stuck)
        self._stuck_seen = stuck
        st = self.state
        if not (b.pressed or b.short or b.long or b.chord) and st != JOGGING:
            return  # no button event: nothing below would act
        act = b.active()
        if b.chord:
            self._button(C_CONSENT)
        if st == JOGGING:
            if act & (SW_UP | SW_DOWN) != self.jog_bit and self.phase != P_STOPPING:
                self._button(C_JOG_RELEASE)
        elif b.pressed & SW_UP and not act & SW_DOWN:
            if buttonmap.UP_PRESS[st]:
                self._button(buttonmap.UP_PRESS[st])
        elif b.pressed & SW_DOWN and not act & SW_UP:
            if buttonmap.DOWN_PRESS[st]:
                self._button(buttonmap.DOWN_PRESS[st])
        if b.short & SW_START and buttonmap.START_SHORT[st]:
            self._button(buttonmap.START_SHORT[st])
        if b.long & SW_START and buttonmap.START_LONG[st]:
            cmd = buttonmap.START_LONG[st]
            a = programs.next_program_id(self.program_id) if cmd == C_PROGRAM else 0
            self._button(cmd, a)

    # --------------------------------------------------------------- commands

    def _button(self, cmd, a=0):
        """A command from the table's buttons. The child lock refuses those that start
        motion; the way back (recover, return, stop, acknowledge) is never locked."""
        if self.child_lock and not buttonmap.NEVER_LOCKED & (1 << cmd):
            self.log.add(self.now_ms, E_COMMAND, cmd, R_LOCKED)
            return R_LOCKED
        return self.command(cmd, a)

    def command(self, cmd, a=0, b=0):
        """Ask for something; returns OK or a refusal reason (states.R_*). Never raises."""
        r = self._command(cmd, a, b)
        self.log.add(self.now_ms, E_COMMAND, cmd, r)
        return r

    def _command(self, cmd, a, b):
        if type(cmd) is not int or cmd < 1 or cmd > C_CHILD_LOCK:
            return R_ARG
        if type(a) is not int or type(b) is not int:
            return R_ARG
        st = self.state
        if not ALLOWED[st] & (1 << cmd):
            if st == EMERGENCY_RETURN:
                return R_LATCHED
            if st == FAULT:
                return R_FAULT
            return R_STATE
        if cmd == C_ESTOP:
            if st == BOOT:
                # the self-test still decides: a failure latches its fault (no motion),
                # a pass enters the emergency return instead of READY or RECOVERY
                self.boot_estop = True
                self.log.add(self.now_ms, E_ESTOP, 3)
            elif st != EMERGENCY_RETURN:
                self._emergency(3)
            return OK
        if cmd == C_CHILD_LOCK:
            self.child_lock = a != 0  # the console checked the PIN before an unlock
            return OK
        if cmd == C_ACK:
            return self._ack()
        if cmd == C_CONSENT:
            if not self.profile.consent:
                self.profile.consent = True
                self.log.add(self.now_ms, E_CONSENT)
            return OK
        if cmd == C_PROGRAM:
            if a not in programs.NAMES:
                return R_ARG
            self.program_id = a
            return OK
        if cmd == C_RETURN or cmd == C_RECOVER:
            return self._cmd_return(st)
        if cmd == C_DISCOMFORT:
            self.session.discomfort = True
            self.log.add(self.now_ms, E_DISCOMFORT)
            if st != RETURNING:
                self._start_return()
            return OK
        if cmd == C_STOP:
            return self._cmd_stop(st)
        if cmd == C_JOG_RELEASE:
            self.plan.stop()
            self.phase = P_STOPPING
            return OK
        if cmd == C_HOLD:
            return self._cmd_hold(st, a)
        if cmd == C_CALIBRATE:
            return self._cmd_calibrate(st, a)
        return self._cmd_move(st, cmd, a, b)  # the rest move the table

    def _cmd_move(self, st, cmd, a, b):
        """goto, start, jog, home: checked, then done (after homing, if not homed yet)."""
        if not self.pos.angle_ok and cmd != C_JOG_UP:
            return R_UNTRUSTED
        if cmd == C_GOTO:
            if a < -_ANGLE_ARG_MAX or a > _ANGLE_ARG_MAX:
                return R_ARG
            r = self._head_down_allowed(a)
            if r != OK:
                return r
        elif cmd == C_START:
            r = self._head_down_allowed(1)
            if r != OK:
                return r
            try:
                self.runner.start(self.program_id, self.profile, a, b)
            except ValueError:
                return R_ARG
        elif cmd == C_JOG_DOWN:
            if self.session.cap_reached and self.pos.angle_mdeg >= self.cfg.head_down_mdeg:
                return R_CAP
        if st == READY and not self.pos.homed:
            # homing first; the command waits for it (a home is that homing itself)
            self.pending_cmd = cmd if cmd != C_HOME else 0
            self.pending_a = a
            self.pending_b = b
            self._start_homing()
            return OK
        return self._motion(cmd, a)

    def _head_down_allowed(self, target_mdeg):
        if target_mdeg > self.cfg.rest_angle_mdeg and not self.profile.consent:
            return R_CONSENT
        if self.session.cap_reached and target_mdeg > self.cfg.head_down_mdeg:
            return R_CAP
        return OK

    def _motion(self, cmd, a):
        """goto / start / jog / home, once a step reference is known."""
        st = self.state
        if cmd == C_HOME:
            self._start_homing()
            return OK
        if st == READY:
            self._session_begin(self.program_id if cmd == C_START else _MANUAL)
        if cmd == C_GOTO:
            self.runner.stop()
            self.hold_ms_next = -1  # manual: hold for the cap at the reached depth
            self._move(a, MOVING)
        elif cmd == C_START:
            self._next_segment()
        elif cmd == C_JOG_UP or cmd == C_JOG_DOWN:
            self.runner.stop()
            self._enter(JOGGING)
            self.phase = P_NONE
            self.jog_bit = SW_UP if cmd == C_JOG_UP else SW_DOWN
            sp = self.speeds
            self._go(self.cfg.loading_angle_mdeg if cmd == C_JOG_UP else self.cfg.soft_max_mdeg,
                     sp.v_jog, sp.a_jog, False)
            # the hold cap of the clamped end of the jog, should it be held there
            self.timer_ms = programs.hold_cap_ms(self.target_mdeg, self.profile, self.cfg)
        return OK

    def _cmd_hold(self, st, a):
        if a < 0 or a > _HOLD_ARG_MAX_MS:
            return R_ARG
        cap = programs.hold_cap_ms(self.pos.angle_mdeg, self.profile, self.cfg)
        if st == HOLDING:
            self.timer_ms = a if a < cap else cap
        else:
            self.hold_ms_next = a if a < cap else cap
        return OK

    def _cmd_return(self, st):
        if st == RETURNING:
            return OK  # already returning: restarting would skip the rest at horizontal
        if st == FAULT:
            if not self._can_move():
                return R_UNTRUSTED
            self.retries = 0  # a deliberate request: the automatic tries start again
            self._fault_return()
            return OK
        if not self._can_move():
            return R_UNTRUSTED
        if st == RECOVERY:
            self.reduced = True
            self._session_begin(_MANUAL)
        if self.runner.active:
            self.session.aborted = True
        self._start_return()
        return OK

    def _cmd_stop(self, st):
        if self.runner.active:
            self.session.aborted = True
        self.runner.stop()
        self.plan.stop()
        if st == HOMING:
            self._enter(READY)
        else:
            self._enter(HOLDING)
            self.phase = P_NONE
            self.timer_ms = programs.hold_cap_ms(self.pos.angle_mdeg, self.profile, self.cfg)
        return OK

    def _cmd_calibrate(self, st, a):
        if not (self.plan.done() and self.est.valid):
            return R_STATE
        if st == READY:
            if not self.pos.homed:
                return R_STATE
            a = self.cfg.loading_angle_mdeg  # the loading switch is the known reference
        elif a < -_ANGLE_ARG_MAX or a > _ANGLE_ARG_MAX:
            return R_ARG
        try:
            self.cfg.set("imu_zero_mdeg", self.est.calibrate(a))
        except ValueError:
            return R_ARG
        self.log.add(self.now_ms, E_CALIBRATED, self.cfg.imu_zero_mdeg)
        return OK

    def _ack(self):
        st = self.state
        if st == EMERGENCY_RETURN:
            if self.phase != P_LATCHED:
                return R_IN_PROGRESS
            if self.switches.estop_open:
                return R_ESTOP_OPEN
            self.log.add(self.now_ms, E_ACK, st)
            if self.fault != faults.NONE:
                self._enter(FAULT)
                self.phase = P_LATCHED
            else:
                self._settle_after_latch()
            return OK
        # FAULT: only when the cause is gone
        if self.phase != P_LATCHED:
            return R_IN_PROGRESS
        if not self._fault_cause_gone():
            return R_CAUSE
        self.log.add(self.now_ms, E_ACK, st)
        code = self.fault
        self.fault = faults.NONE
        self.retries = 0
        self.pos.imu_trusted = True
        self.sup.runaway.reset()
        if code == faults.RUNAWAY or code == faults.STEPGEN:
            self.pos.homed = False
            self._reference_from_imu()
        if self.fault_at_boot and not self.switches.at_home_switch:
            self.fault_at_boot = False
            self._enter(RECOVERY)
            self.phase = P_NONE
        else:
            self.fault_at_boot = False
            self._settle_after_latch()
        return OK

    def _fault_cause_gone(self):
        code = self.fault
        if code == faults.OVERTRAVEL:
            return not self.switches.overtravel
        if code == faults.SELFTEST_ESTOP:
            return not self.switches.estop_open
        if code == faults.STEPGEN and self.sup.sg_seen:
            return False
        if (
            code == faults.SELFTEST_IMU
            or code == faults.RUNAWAY
            or code == faults.STEPGEN
            or (code >= faults.IMU_BUS and code <= faults.IMU_FROZEN)
        ):
            return self.est.valid
        return True

    def _settle_after_latch(self):
        """Leave a latch standing still: READY at the loading switch, else HOLDING."""
        if self.switches.at_home_switch:
            self._enter(READY)
        else:
            self._enter(HOLDING)
            self.timer_ms = programs.hold_cap_ms(self.pos.angle_mdeg, self.profile, self.cfg)
        self.phase = P_NONE

    # ------------------------------------------------------------ transitions

    def _enter(self, to):
        st = self.state
        if to == st:
            return
        if not NEXT[st] & (1 << to):
            # A state change the table does not allow is a firmware bug: fail safe.
            self.log.add(self.now_ms, E_FAULT, faults.INTERNAL, st)
            to = FAULT
            if self.fault == faults.NONE:
                self.fault = faults.INTERNAL
            self.phase = P_LATCHED
            self.plan.stop()
        self.log.add(self.now_ms, E_STATE, st, to)
        self.state = to
        if st == EMERGENCY_RETURN or to == READY:
            self._rearm = True  # the latch was acknowledged, or the table is at rest
        if to == READY and self.session.active:
            self._session_end()

    def _emergency(self, source):
        self.log.add(self.now_ms, E_ESTOP, source)
        self.runner.stop()
        if self.session.active:
            self.session.emergency = True
        self.pending_cmd = 0
        self._enter(EMERGENCY_RETURN)
        self.phase = P_TO_REST
        self._return_to_rest(self.speeds.v_emergency, self.speeds.a_emergency)

    def _raise_fault(self, code):
        if code == self.fault and (self.state == FAULT or self.state == EMERGENCY_RETURN):
            # The same fault again during its own safe return (e.g. the load is too
            # heavy to lift and runaway trips at every try): not a new fault to log.
            # A few tries, then stand still latched; a deliberate return may retry.
            self.retries += 1
            if self.retries >= _SAFE_RETURN_TRIES or not self._can_move():
                self.plan.stop()
                self.phase = P_LATCHED
            else:
                self._fault_return()
            return
        self.log.add(self.now_ms, E_FAULT, code, self.state)
        if self.fault == faults.NONE:
            self.fault = code
        self.runner.stop()
        self.pending_cmd = 0
        if self.session.active:
            self.session.fault = True
        if self.state == EMERGENCY_RETURN:
            # the return goes on, degraded like a fault's: on the trustworthy source, at
            # jog speed (re-referenced on the IMU first if the steps are in doubt)
            self._fault_return()
            return
        self._enter(FAULT)
        if self.state == BOOT or self.fault_at_boot:
            self.plan.stop()
            self.phase = P_LATCHED
        else:
            self._fault_return()

    def _fault_return(self):
        """The only motion a fault allows: toward the rest angle, at reduced speed.

        With the steps untrusted (runaway, lost steps) the drive first stops, then the
        step reference is taken again from the IMU, and only then does the return start.
        """
        pos = self.pos
        sp = self.speeds
        if not self.drive_ok:
            self.plan.stop()
            self.phase = P_LATCHED
        elif pos.steps_trusted:
            self.phase = P_TO_REST
            self._return_to_rest(sp.v_jog, sp.a_jog)
        elif pos.imu_trusted and self.est.valid:
            self.phase = P_REREF
            self.plan.set_limits(sp.v_jog, sp.a_jog)
            self.plan.stop()
        else:
            self.plan.stop()
            self.phase = P_LATCHED

    def _return_to_rest(self, vmax, amax):
        """Head-down of the rest angle: go there. Head-up of it: stop where we are."""
        sp = self.speeds
        if self.fault != faults.NONE and vmax > sp.v_jog:
            vmax = sp.v_jog  # degraded: never faster than jog speed
            amax = sp.a_jog
        if not self._can_move():
            self.plan.stop()
            self.phase = P_LATCHED
            return
        angle = self.pos.angle_mdeg
        if angle > self.cfg.rest_angle_mdeg:
            self._go(self.cfg.rest_angle_mdeg, vmax, amax, False)
        else:
            self.plan.set_limits(vmax, amax)
            self.plan.stop()
            self.target_mdeg = angle

    def _can_move(self):
        """True if a trustworthy angle source can guide a move (re-referencing if stopped)."""
        if not self.drive_ok:
            return False
        pos = self.pos
        if pos.steps_trusted:
            return True
        if pos.imu_trusted and self.est.valid and self.plan.done():
            self._reference_from_imu()
            return True
        return False

    def _reference_from_imu(self):
        pos = self.pos
        pos.reference_from_imu(self.est)
        self.plan.reset(pos.count + pos.offset)
        self.sup.runaway.reset()  # a new reference: the old error history no longer applies

    def _start_return(self):
        self.runner.stop()
        self._enter(RETURNING)
        sp = self.speeds
        v = sp.v_jog if self.reduced else sp.v_normal
        a = sp.a_jog if self.reduced else sp.a_normal
        if self.pos.angle_mdeg > self.cfg.rest_angle_mdeg + self.cfg.arrive_tol_mdeg:
            self.phase = P_TO_REST
            self._go(self.cfg.rest_angle_mdeg, v, a, False)
        else:
            self.phase = P_TO_LOADING
            self._go(self.cfg.loading_angle_mdeg, v, a, False)

    def _start_homing(self):
        self.runner.stop()
        self._enter(HOMING)
        self.homing.start()
        self.phase = self.homing.phase

    def _move(self, target_mdeg, state):
        self._enter(state)
        self.phase = P_NONE
        self._go(target_mdeg, self.speeds.v_normal, self.speeds.a_normal, True)

    def _clamp(self, target_mdeg):
        cfg = self.cfg
        hi = self.profile.max_mdeg
        if hi > cfg.soft_max_mdeg:
            hi = cfg.soft_max_mdeg
        if not self.profile.consent and hi > cfg.rest_angle_mdeg:
            hi = cfg.rest_angle_mdeg
        if target_mdeg > hi:
            return hi
        if target_mdeg < cfg.loading_angle_mdeg:
            return cfg.loading_angle_mdeg
        return target_mdeg

    def _go(self, target_mdeg, vmax, amax, log_clamp):
        """Move to target_mdeg, clamped: the way every target goes."""
        t = self._clamp(target_mdeg)
        if t != target_mdeg and log_clamp:
            self.log.add(self.now_ms, E_CLAMPED, target_mdeg, t)
        self._aim(t, vmax, amax)

    def _aim(self, target_mdeg, vmax, amax):
        """Plan the move to target_mdeg as given (homing's seek alone skips the clamp)."""
        self.target_mdeg = target_mdeg
        self.plan.set_limits(vmax, amax)
        self.plan.set_target(self.kin.steps_from_mdeg(target_mdeg))

    # --------------------------------------------------------------- sessions

    def _session_begin(self, program_id):
        if self.session.begin(self.pos.angle_mdeg):
            self.log.add(self.now_ms, E_SESSION_START, program_id)

    def _session_end(self):
        how = self.session.end()
        self.reduced = False
        self.log.add(self.now_ms, E_SESSION_END, how, self.session.deepest_mdeg)

    def _next_segment(self):
        """Go to the program's next segment, or return when it is over."""
        r = self.runner
        if r.next():
            self.log.add(self.now_ms, E_SEGMENT, r.index, r.target_mdeg)
            self.hold_ms_next = r.hold_ms
            self._move(r.target_mdeg, MOVING)
        else:
            self._start_return()

    # ----------------------------------------------------------- state steps

    def _boot_step(self, dt):
        self.timer_ms -= dt
        if self.timer_ms > 0:
            return
        est = self.est
        code = self._selftest()
        if est.valid:
            self._reference_from_imu()
            self.pos.angle_mdeg = est.angle_mdeg
            self.pos.angle_ok = True
        if code != faults.NONE:
            self.fault_at_boot = True
            self._raise_fault(code)
            return
        if self.boot_estop:
            self._emergency(3)
            return
        if self.switches.at_home_switch:
            self._enter(READY)
        else:
            self.log.add(self.now_ms, E_RECOVERY, self.pos.angle_mdeg)
            self._enter(RECOVERY)

    def _selftest(self):
        """The power-on self-test's verdict: faults.NONE, or what failed first."""
        cfg = self.cfg
        est = self.est
        sw = self.switches
        if sw.estop_open or sw.edges_seen != 0:
            return faults.SELFTEST_ESTOP
        if not est.valid:
            return est.fault if est.fault != faults.NONE else faults.SELFTEST_IMU
        if self.sup.sg_seen:
            return faults.STEPGEN
        if self.config_fault != faults.NONE:
            return self.config_fault
        a = est.angle_mdeg
        if sw.at_home_switch and a > cfg.home_switch_mdeg + _SWITCH_TOL_MDEG:
            return faults.SELFTEST_SWITCHES
        if not sw.at_home_switch and a < cfg.home_switch_mdeg - _SWITCH_TOL_MDEG:
            return faults.SELFTEST_SWITCHES
        if sw.overtravel and a < cfg.overtravel_mdeg - _SWITCH_TOL_MDEG:
            return faults.SELFTEST_SWITCHES
        if sw.overtravel:
            return faults.OVERTRAVEL
        return faults.NONE

    def _step(self, dt):
        st = self.state
        plan = self.plan
        if st == MOVING:
            if plan.done():
                self._arrived()
        elif st == HOLDING:
            if self.runner.active or self.pos.angle_mdeg > self.cfg.head_down_mdeg:
                self.timer_ms -= dt
                if self.timer_ms <= 0:
                    if self.runner.active:
                        self._next_segment()
                    else:
                        self._start_return()
        elif st == JOGGING:
            if self.phase == P_STOPPING and plan.done():
                self._settle_after_latch()
            elif plan.done() and self.pos.angle_mdeg > self.cfg.head_down_mdeg:
                # held at the clamp with the button still down: the hold cap runs
                self.timer_ms -= dt
                if self.timer_ms <= 0:
                    self.log.add(self.now_ms, E_CAP, 1)
                    self._start_return()
        elif st == RETURNING:
            self._step_return(dt)
        elif st == HOMING:
            r = self.homing.step(self.now_ms)
            self.phase = self.homing.phase
            if r == homing.DONE:
                self._homed()
            elif r == homing.FAILED:
                self._raise_fault(faults.HOMING)
        elif st == EMERGENCY_RETURN or st == FAULT:
            self._step_latch(st)

    def _arrived(self):
        """MOVING reached its target: hold there (capped), or READY at the loading stop."""
        hold = self.hold_ms_next
        # the cap of the commanded depth: the measured angle wobbles around it
        cap = programs.hold_cap_ms(self.target_mdeg, self.profile, self.cfg)
        if hold < 0 or hold > cap:
            if hold > cap:
                self.log.add(self.now_ms, E_CAP, 1)
            hold = cap
        if self.switches.at_home_switch and not self.runner.active:
            self._enter(READY)  # a goto to the loading position ends the session
        else:
            self._enter(HOLDING)
            self.timer_ms = hold

    def _step_latch(self, st):
        plan = self.plan
        if self.phase == P_REREF:
            if not (self.pos.imu_trusted and self.est.valid):
                self.phase = P_LATCHED
            elif plan.done():
                self._reference_from_imu()
                self.phase = P_TO_REST
                self._return_to_rest(self.speeds.v_jog, self.speeds.a_jog)
        elif self.phase == P_TO_REST:
            if st == FAULT and not self._can_move():
                plan.stop()
                self.phase = P_LATCHED
            elif plan.done():
                self.phase = P_LATCHED

    def _step_return(self, dt):
        if not self.plan.done():
            return
        if self.phase == P_TO_REST:
            self.phase = P_RESTING
            self.timer_ms = self.cfg.rest_pause_ms
        elif self.phase == P_RESTING:
            self.timer_ms -= dt
            if self.timer_ms <= 0:
                self.phase = P_TO_LOADING
                sp = self.speeds
                v = sp.v_jog if self.reduced else sp.v_normal
                a = sp.a_jog if self.reduced else sp.a_normal
                self._go(self.cfg.loading_angle_mdeg, v, a, False)
        elif self.phase == P_TO_LOADING:
            if self.pos.homed:
                self._enter(READY)
            else:
                self._start_homing()

    def _homed(self):
        """Homing parked at the loading position: READY, then the command that waited."""
        self._enter(READY)
        self.phase = P_NONE
        cmd = self.pending_cmd
        if cmd:
            self.pending_cmd = 0
            if cmd == C_JOG_UP or cmd == C_JOG_DOWN:
                want = SW_UP if cmd == C_JOG_UP else SW_DOWN
                if not self.buttons.active() & want:
                    return  # the hold-to-run button was let go while homing
            self.command(cmd, self.pending_a, self.pending_b)

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
        if st == BOOT or st == READY or st == RECOVERY:
            return False
        if st == EMERGENCY_RETURN or st == FAULT:
            return not (self.phase == P_LATCHED and self.plan.done())
        return True
