"""The control core: one deterministic, allocation-free tick from inputs to outputs.

Owns the state machine (states and tables in firmware/states.py), the clamp, the
emergency latch, faults and their safe return, homing, recovery after a reset, the
session's time caps, and the commands from buttons and the console.

`Core.tick(now_ms, inputs, outputs)` is called once per loop pass with the board's
wrapping millisecond clock; `Core.command(cmd, a, b)` is how the console (and the
buttons, inside the tick) ask for something, returning 0 or a refusal reason. The core
never imports machine/esp32, never reads a clock and never sleeps.

Angles are millidegrees from horizontal, positive head-down. Every target from every
path goes through `_clamp`: [loading angle, min(profile max, soft max)], and no further
than horizontal until the profile's contraindication consent is given.
"""

import faults
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
    E_HOMED,
    E_OVERRUN,
    E_RECOVERY,
    E_SEGMENT,
    E_SESSION_END,
    E_SESSION_START,
    E_STATE,
    E_STUCK_BUTTON,
)
from kinematics import make_kinematics
from micropython import const
from motion import MotionPlan
from profiles import ABORTED, COMPLETED, DISCOMFORT, EMERGENCY
from profiles import FAULT as ENDED_BY_FAULT
from runaway import RunawayCheck
from signals import (
    IND_ALARM,
    IND_FAST,
    IND_OFF,
    IND_SLOW,
    IND_STEADY,
    SW_DOWN,
    SW_ESTOP,
    SW_HOME,
    SW_OVERTRAVEL,
    SW_START,
    SW_UP,
)
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
    H_APPROACH,
    H_BRAKE,
    H_PARK,
    H_RETRACT,
    H_SEEK,
    H_SLOW,
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
from ticks import ticks_diff

_BOOT_MS = const(300)  # self-test window: the estimator settles and the switches are sampled
_DT_MAX_MS = const(100)  # a stalled loop must not make simulated time jump further
_SWITCH_TOL_MDEG = const(4000)  # boot check: switch state vs angle, allowing IMU error
_STEPGEN_TICKS = const(5)  # emitted count this many ticks of max speed off the plan: glitch
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
    def __init__(self, cfg, profile, log=None):
        self.cfg = cfg
        self.profile = profile  # max_mdeg, hold_max_ms, session_cap_ms, consent, ...
        self.kin = make_kinematics(cfg)
        self.est = Estimator(cfg)
        self.runaway = RunawayCheck(cfg)
        self.plan = MotionPlan(cfg.tick_ms)
        self.runner = programs.Runner(cfg)
        self.log = log if log is not None else EventLog()
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
        self.config_fault = faults.NONE  # set by the application before the first tick
        self._sg_seen = 0
        self.drive_ok = True  # the step generator can be trusted to move the table
        self.reduced = False  # recovery / degraded: move at jog speed
        self.pending_cmd = 0  # a motion command waiting for homing to finish
        self.pending_a = 0
        self.pending_b = 0
        # position and angle sources
        self.count = 0  # emitted steps since boot (hardware counter)
        self.offset = 0  # table steps = count + offset
        self.referenced = False  # offset known (from the IMU at boot, or from homing)
        self.homed = False  # offset set on the home switch
        self.steps_trusted = False
        self.imu_trusted = True
        self.steps_angle_mdeg = 0
        self.angle_mdeg = 0  # best trusted angle
        self.angle_ok = False
        self.target_mdeg = 0  # last clamped target (for the invariant checks)
        self.at_home_switch = False  # filtered switch states
        self.overtravel = False
        self._home_n = 0
        self._over_n = 0
        self.estop_open = False
        self._edges_seen = 0
        self._edges_init = False
        self.overruns = 0
        self._ot_seen = False
        self._stuck_seen = 0
        self.jog_bit = 0  # the hold-to-run button that started the jog
        # session
        self.session_active = False
        self.head_down_ms = 0
        self.deepest_mdeg = 0
        self.hold_ms_next = 0  # hold to apply when the current move arrives
        self.s_emergency = False
        self.s_discomfort = False
        self.s_fault = False
        self.s_aborted = False
        self.cap_reached = False

    def apply_config(self):
        """Take the (validated) configuration's speed limits into step units.

        Called at construction and by the console after a setting changed (only in
        READY, so nothing changes under a moving table).
        """
        cfg = self.cfg
        k = self.kin
        self.v_normal = k.sps_from_mdeg_s(cfg.normal_speed_mdeg_s)
        self.a_normal = k.sps2_from_mdeg_s2(cfg.normal_accel_mdeg_s2)
        self.v_jog = k.sps_from_mdeg_s(cfg.jog_speed_mdeg_s)
        self.a_jog = k.sps2_from_mdeg_s2(cfg.jog_accel_mdeg_s2)
        self.v_emergency = k.sps_from_mdeg_s(cfg.emergency_speed_mdeg_s)
        self.a_emergency = k.sps2_from_mdeg_s2(cfg.emergency_accel_mdeg_s2)
        self.v_home = k.sps_from_mdeg_s(cfg.homing_slow_mdeg_s)
        self.stepgen_tol = self.v_emergency * cfg.tick_ms * _STEPGEN_TICKS // 1000 + 20
        self.buttons = Buttons(cfg)

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
        self._check_estop(inp)
        if self.state == BOOT:
            self._boot_step(dt)
        else:
            self._check_safety(dt, inp)
            self._session_clock(dt)
            self._buttons(dt, inp)
            self._step(dt)
        self._drive(dt, out)
        self._indicate(out)
        out.feed_ok = True

    # -------------------------------------------------------------- measuring

    def _measure(self, dt, inp):
        cfg = self.cfg
        self.count = inp.step_count
        if dt > 2 * cfg.tick_ms and self.referenced:
            # The loop stalled: the dead-man stopped the pulses after two ticks while the
            # plan ran on. Re-base the plan on the counted position, from rest, so the
            # motor ramps up again instead of being asked to catch up at full speed.
            target = self.plan.target
            stopping = self.plan._stopping
            self.plan.reset(self.count + self.offset)
            if stopping:
                self.plan.stop()
            else:
                self.plan.set_target(target)
        plan = self.plan
        still = plan.vel_sps == 0 and plan.rate_sps == 0
        self.est.update(dt, inp, still)
        if self.referenced:
            self.steps_angle_mdeg = self.kin.mdeg_from_steps(self.count + self.offset)
        if self.imu_trusted and self.est.valid:
            self.angle_mdeg = self.est.angle_mdeg
            self.angle_ok = True
        elif self.steps_trusted:
            self.angle_mdeg = self.steps_angle_mdeg
            self.angle_ok = True
        else:
            self.angle_ok = False
        # limit switches: act only on a level seen for switch_samples consecutive ticks
        n = cfg.switch_samples
        if (inp.switches & SW_HOME != 0) != self.at_home_switch:
            self._home_n += 1
            if self._home_n >= n:
                self.at_home_switch = not self.at_home_switch
                self._home_n = 0
        else:
            self._home_n = 0
        if (inp.switches & SW_OVERTRAVEL != 0) != self.overtravel:
            self._over_n += 1
            if self._over_n >= n:
                self.overtravel = not self.overtravel
                self._over_n = 0
        else:
            self._over_n = 0

    def _check_estop(self, inp):
        edges = inp.estop_edges
        if not self._edges_init:
            self._edges_init = True
            self._edges_seen = edges
        edge = edges != self._edges_seen
        self._edges_seen = edges
        was_open = self.estop_open
        self.estop_open = inp.switches & SW_ESTOP != 0
        if self.state == BOOT:
            return  # the self-test refuses to start with the circuit open
        # Act on the circuit opening (polled) or on an ISR edge; a circuit already open
        # at power-up is the self-test's fault, and nothing moves until a command.
        opened = self.estop_open and not was_open
        if (opened or edge) and self.state != EMERGENCY_RETURN:
            self._emergency(1 if opened else 2)

    def _check_safety(self, dt, inp):
        est = self.est
        if inp.overrun:
            self.overruns += 1
            if self.overruns == self.cfg.overrun_limit:
                self.log.add(self.now_ms, E_OVERRUN, self.overruns)
                self._raise_fault(faults.OVERRUN)
        else:
            self.overruns = 0
        if est.fault != faults.NONE and self.imu_trusted:
            self.imu_trusted = False
            self._raise_fault(est.fault)
        # The runaway check: off while homing (the reference is being set) and in READY
        # (at the switch, where a mis-mounted IMU is calibrated); on everywhere else,
        # standing still included - steps lost at the end of a move must still be judged.
        st = self.state
        if (self.referenced and self.steps_trusted and self.imu_trusted and est.valid
                and st != HOMING and st != READY):
            self.runaway.update(dt, self.steps_angle_mdeg, est.angle_mdeg, True)
            if self.runaway.tripped:
                self.steps_trusted = False
                self._raise_fault(faults.RUNAWAY)
        sg = inp.stepgen_fault
        if sg != self._sg_seen:
            self._sg_seen = sg
            if sg:
                # The counter is not the truth. Head-down pulses alone uncounted (1) still
                # leave a counted way up; otherwise the drive cannot be confirmed at all
                # and nothing moves (the worm holds; manual release).
                if sg != _SG_HEAD_DOWN_ONLY:
                    self.steps_trusted = False
                    self.drive_ok = False
                self._raise_fault(faults.STEPGEN)
        if self.steps_trusted:
            err = self.plan.pos - (self.count + self.offset)
            if err > self.stepgen_tol or err < -self.stepgen_tol:
                self.steps_trusted = False
                self._raise_fault(faults.STEPGEN)
        if self.overtravel != self._ot_seen:
            self._ot_seen = self.overtravel
            if self.overtravel:
                self._raise_fault(faults.OVERTRAVEL)

    def _session_clock(self, dt):
        if not self.session_active or not self.angle_ok:
            return
        a = self.angle_mdeg
        if a > self.deepest_mdeg:
            self.deepest_mdeg = a
        if a > self.cfg.head_down_mdeg:
            self.head_down_ms += dt
            if self.head_down_ms >= self.profile.session_cap_ms and not self.cap_reached:
                self.cap_reached = True
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
            if st != READY:  # at the loading stop there is nowhere further up to go
                self._button(C_RECOVER if st == RECOVERY else C_JOG_UP)
        elif b.pressed & SW_DOWN and not act & SW_UP:
            if st != RECOVERY:
                self._button(C_JOG_DOWN)
        if b.short & SW_START:
            if st == READY:
                self._button(C_START)
            elif st == RECOVERY:
                self._button(C_RECOVER)
            elif st == MOVING or st == HOLDING or st == JOGGING or st == FAULT:
                self._button(C_RETURN)
            elif st == HOMING:
                self._button(C_STOP)
        if b.long & SW_START:
            if st == EMERGENCY_RETURN or st == FAULT:
                self._button(C_ACK)
            elif st == READY:
                self._button(C_PROGRAM, programs.next_program_id(self.program_id))

    # --------------------------------------------------------------- commands

    def _button(self, cmd, a=0):
        """A command from the table's buttons. The child lock refuses those that start
        motion; the way back (recover, return, stop, acknowledge) is never locked."""
        if self.child_lock and not (cmd == C_RECOVER or cmd == C_RETURN or cmd == C_STOP
                                    or cmd == C_ACK or cmd == C_JOG_RELEASE):
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
            self.s_discomfort = True
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
            if a < 0 or a > _HOLD_ARG_MAX_MS:
                return R_ARG
            cap = programs.hold_cap_ms(self.angle_mdeg, self.profile, self.cfg)
            if st == HOLDING:
                self.timer_ms = a if a < cap else cap
            else:
                self.hold_ms_next = a if a < cap else cap
            return OK
        if cmd == C_CALIBRATE:
            return self._cmd_calibrate(st, a)
        # the rest move the table: goto, start, jog, home
        if not self.angle_ok and cmd != C_JOG_UP:
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
            if self.cap_reached and self.angle_mdeg >= self.cfg.head_down_mdeg:
                return R_CAP
        if st == READY and not self.homed:
            self.pending_cmd = cmd
            self.pending_a = a
            self.pending_b = b
            self._start_homing()
            return OK
        return self._motion(cmd, a)

    def _head_down_allowed(self, target_mdeg):
        if target_mdeg > self.cfg.rest_angle_mdeg and not self.profile.consent:
            return R_CONSENT
        if self.cap_reached and target_mdeg > self.cfg.head_down_mdeg:
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
            self._go(self.cfg.loading_angle_mdeg if cmd == C_JOG_UP else self.cfg.soft_max_mdeg,
                     self.v_jog, self.a_jog, False)
            # the hold cap of the clamped end of the jog, should it be held there
            self.timer_ms = programs.hold_cap_ms(self.target_mdeg, self.profile, self.cfg)
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
            self.s_aborted = True
        self._start_return()
        return OK

    def _cmd_stop(self, st):
        if self.runner.active:
            self.s_aborted = True
        self.runner.stop()
        self.plan.stop()
        if st == HOMING:
            self._enter(READY)
        else:
            self._enter(HOLDING)
            self.phase = P_NONE
            self.timer_ms = programs.hold_cap_ms(self.angle_mdeg, self.profile, self.cfg)
        return OK

    def _cmd_calibrate(self, st, a):
        if not (self.plan.done() and self.est.valid):
            return R_STATE
        if st == READY:
            if not self.homed:
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
            if self.estop_open:
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
        self.imu_trusted = True
        self.runaway.reset()
        if code == faults.RUNAWAY or code == faults.STEPGEN:
            self.homed = False
            self._reference_from_imu()
        if self.fault_at_boot and not self.at_home_switch:
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
            return not self.overtravel
        if code == faults.SELFTEST_ESTOP:
            return not self.estop_open
        if code == faults.STEPGEN and self._sg_seen:
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
        if self.at_home_switch:
            self._enter(READY)
        else:
            self._enter(HOLDING)
            self.timer_ms = programs.hold_cap_ms(self.angle_mdeg, self.profile, self.cfg)
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
        if to == READY and self.session_active:
            self._session_end()

    def _emergency(self, source):
        self.log.add(self.now_ms, E_ESTOP, source)
        self.runner.stop()
        if self.session_active:
            self.s_emergency = True
        self.pending_cmd = 0
        self._enter(EMERGENCY_RETURN)
        self.phase = P_TO_REST
        self._return_to_rest(self.v_emergency, self.a_emergency)

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
        if self.session_active:
            self.s_fault = True
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
        if not self.drive_ok:
            self.plan.stop()
            self.phase = P_LATCHED
        elif self.steps_trusted:
            self.phase = P_TO_REST
            self._return_to_rest(self.v_jog, self.a_jog)
        elif self.imu_trusted and self.est.valid:
            self.phase = P_REREF
            self.plan.set_limits(self.v_jog, self.a_jog)
            self.plan.stop()
        else:
            self.plan.stop()
            self.phase = P_LATCHED

    def _return_to_rest(self, vmax, amax):
        """Head-down of the rest angle: go there. Head-up of it: stop where we are."""
        if self.fault != faults.NONE and vmax > self.v_jog:
            vmax = self.v_jog  # degraded: never faster than jog speed
            amax = self.a_jog
        if not self._can_move():
            self.plan.stop()
            self.phase = P_LATCHED
            return
        if self.angle_mdeg > self.cfg.rest_angle_mdeg:
            self._go(self.cfg.rest_angle_mdeg, vmax, amax, False)
        else:
            self.plan.set_limits(vmax, amax)
            self.plan.stop()
            self.target_mdeg = self.angle_mdeg

    def _can_move(self):
        """True if a trustworthy angle source can guide a move (re-referencing if stopped)."""
        if not self.drive_ok:
            return False
        if self.steps_trusted:
            return True
        if self.imu_trusted and self.est.valid and self.plan.done():
            self._reference_from_imu()
            return True
        return False

    def _reference_from_imu(self):
        self.offset = self.kin.steps_from_mdeg(self.est.angle_mdeg) - self.count
        self.referenced = True
        self.steps_trusted = True
        self.steps_angle_mdeg = self.est.angle_mdeg
        self.plan.reset(self.count + self.offset)
        self.runaway.reset()  # a new reference: the old error history no longer applies

    def _start_return(self):
        self.runner.stop()
        self._enter(RETURNING)
        v = self.v_jog if self.reduced else self.v_normal
        a = self.a_jog if self.reduced else self.a_normal
        if self.angle_mdeg > self.cfg.rest_angle_mdeg + self.cfg.arrive_tol_mdeg:
            self.phase = P_TO_REST
            self._go(self.cfg.rest_angle_mdeg, v, a, False)
        else:
            self.phase = P_TO_LOADING
            self._go(self.cfg.loading_angle_mdeg, v, a, False)

    def _start_homing(self):
        self.runner.stop()
        self._enter(HOMING)
        self.phase = H_APPROACH
        self._go(self.cfg.loading_angle_mdeg, self.v_jog, self.a_jog, False)

    def _seek(self, vmax):
        """Homing only: toward the head-up side, past the step-counted loading angle by
        up to homing_travel_mdeg - the switch, not the steps, says where loading is.
        Head-up is the safe direction; the mechanical stop is 1 deg past loading."""
        t = self.cfg.loading_angle_mdeg - self.cfg.homing_travel_mdeg
        self.target_mdeg = t
        self.plan.set_limits(vmax, self.a_jog)
        self.plan.set_target(self.kin.steps_from_mdeg(t))

    def _move(self, target_mdeg, state):
        self._enter(state)
        self.phase = P_NONE
        self._go(target_mdeg, self.v_normal, self.a_normal, True)

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
        t = self._clamp(target_mdeg)
        if t != target_mdeg and log_clamp:
            self.log.add(self.now_ms, E_CLAMPED, target_mdeg, t)
        self.target_mdeg = t
        self.plan.set_limits(vmax, amax)
        self.plan.set_target(self.kin.steps_from_mdeg(t))

    # --------------------------------------------------------------- sessions

    def _session_begin(self, program_id):
        if self.session_active:
            return
        self.session_active = True
        self.head_down_ms = 0
        self.deepest_mdeg = self.angle_mdeg if self.angle_mdeg > 0 else 0
        self.s_emergency = self.s_discomfort = self.s_fault = self.s_aborted = False
        self.cap_reached = False
        self.log.add(self.now_ms, E_SESSION_START, program_id)

    def _session_end(self):
        self.session_active = False
        if self.s_emergency:
            how = EMERGENCY
        elif self.s_discomfort:
            how = DISCOMFORT
        elif self.s_fault:
            how = ENDED_BY_FAULT
        elif self.s_aborted:
            how = ABORTED
        else:
            how = COMPLETED
        self.reduced = False
        self.log.add(self.now_ms, E_SESSION_END, how, self.deepest_mdeg)

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
        cfg = self.cfg
        est = self.est
        code = faults.NONE
        if self.estop_open or self._edges_seen != 0:
            code = faults.SELFTEST_ESTOP
        elif not est.valid:
            code = est.fault if est.fault != faults.NONE else faults.SELFTEST_IMU
        elif self._sg_seen:
            code = faults.STEPGEN
        elif self.config_fault != faults.NONE:
            code = self.config_fault
        else:
            a = est.angle_mdeg
            if self.at_home_switch and a > cfg.home_switch_mdeg + _SWITCH_TOL_MDEG:
                code = faults.SELFTEST_SWITCHES
            elif not self.at_home_switch and a < cfg.home_switch_mdeg - _SWITCH_TOL_MDEG:
                code = faults.SELFTEST_SWITCHES
            elif self.overtravel and a < cfg.overtravel_mdeg - _SWITCH_TOL_MDEG:
                code = faults.SELFTEST_SWITCHES
            elif self.overtravel:
                code = faults.OVERTRAVEL
        if est.valid:
            self._reference_from_imu()
            self.angle_mdeg = est.angle_mdeg
            self.angle_ok = True
        if code != faults.NONE:
            self.fault_at_boot = True
            self._raise_fault(code)
            return
        if self.boot_estop:
            self._emergency(3)
            return
        if self.at_home_switch:
            self._enter(READY)
        else:
            self.log.add(self.now_ms, E_RECOVERY, self.angle_mdeg)
            self._enter(RECOVERY)

    def _step(self, dt):
        st = self.state
        plan = self.plan
        if st == MOVING:
            if plan.done():
                hold = self.hold_ms_next
                # the cap of the commanded depth: the measured angle wobbles around it
                cap = programs.hold_cap_ms(self.target_mdeg, self.profile, self.cfg)
                if hold < 0 or hold > cap:
                    if hold > cap:
                        self.log.add(self.now_ms, E_CAP, 1)
                    hold = cap
                if self.at_home_switch and not self.runner.active:
                    self._enter(READY)  # a goto to the loading position ends the session
                else:
                    self._enter(HOLDING)
                    self.timer_ms = hold
        elif st == HOLDING:
            if self.runner.active or self.angle_mdeg > self.cfg.head_down_mdeg:
                self.timer_ms -= dt
                if self.timer_ms <= 0:
                    if self.runner.active:
                        self._next_segment()
                    else:
                        self._start_return()
        elif st == JOGGING:
            if self.phase == P_STOPPING and plan.done():
                self._settle_after_latch()
            elif plan.done() and self.angle_mdeg > self.cfg.head_down_mdeg:
                # held at the clamp with the button still down: the hold cap runs
                self.timer_ms -= dt
                if self.timer_ms <= 0:
                    self.log.add(self.now_ms, E_CAP, 1)
                    self._start_return()
        elif st == RETURNING:
            self._step_return(dt)
        elif st == HOMING:
            self._step_homing()
        elif st == EMERGENCY_RETURN or st == FAULT:
            if self.phase == P_REREF:
                if not (self.imu_trusted and self.est.valid):
                    self.phase = P_LATCHED
                elif plan.done():
                    self._reference_from_imu()
                    self.phase = P_TO_REST
                    self._return_to_rest(self.v_jog, self.a_jog)
            elif self.phase == P_TO_REST:
                if st == FAULT and not self._can_move():
                    plan.stop()
                    self.phase = P_LATCHED
                elif plan.done():
                    self.phase = P_LATCHED

    def _step_return(self, dt):
        plan = self.plan
        if not plan.done():
            return
        if self.phase == P_TO_REST:
            self.phase = P_RESTING
            self.timer_ms = self.cfg.rest_pause_ms
        elif self.phase == P_RESTING:
            self.timer_ms -= dt
            if self.timer_ms <= 0:
                self.phase = P_TO_LOADING
                v = self.v_jog if self.reduced else self.v_normal
                a = self.a_jog if self.reduced else self.a_normal
                self._go(self.cfg.loading_angle_mdeg, v, a, False)
        elif self.phase == P_TO_LOADING:
            if self.homed:
                self._enter(READY)
            else:
                self._start_homing()

    def _step_homing(self):
        cfg = self.cfg
        plan = self.plan
        ph = self.phase
        if ph == H_APPROACH or ph == H_SEEK:
            if self.at_home_switch:
                plan.stop()
                self.phase = H_BRAKE
            elif plan.done():
                if ph == H_SEEK:
                    self._raise_fault(faults.HOMING)  # not within the expected travel
                else:
                    # Lost steps can leave the counted loading angle short of the switch:
                    # seek on slowly, head-up (the safe direction), a bounded distance.
                    self.phase = H_SEEK
                    self._seek(self.v_home)
        elif ph == H_BRAKE:
            if plan.done():
                self.phase = H_RETRACT
                # aimed in the steps' frame, the frame the move is counted in
                here = self.kin.mdeg_from_steps(plan.pos)
                self._go(here + cfg.homing_retract_mdeg, self.v_jog, self.a_jog, False)
        elif ph == H_RETRACT:
            if plan.done():
                if self.at_home_switch:
                    self._raise_fault(faults.HOMING)  # the switch never released: stuck
                else:
                    self.phase = H_SLOW
                    self._seek(self.v_home)
        elif ph == H_SLOW:
            if self.at_home_switch:
                # the reference: this count is where the switch edge is
                self.offset = self.kin.steps_from_mdeg(cfg.home_switch_mdeg) - self.count
                self.referenced = self.homed = self.steps_trusted = True
                self.runaway.reset()
                self.plan.reset(self.count + self.offset)
                self.log.add(self.now_ms, E_HOMED, self.count)
                self.phase = H_PARK
                self._go(cfg.loading_angle_mdeg, self.v_home, self.a_jog, False)
            elif plan.done():
                self._raise_fault(faults.HOMING)
        elif ph == H_PARK:
            if plan.done():
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
        table_count = self.count + self.offset
        if self._energised():
            plan.update(dt)
            plan.rate_for(table_count, dt)
            plan.window(table_count, dt)
            out.rate_sps = plan.rate_sps
            out.limit_lo = plan.limit_lo - self.offset
            out.limit_hi = plan.limit_hi - self.offset
            out.enable = True
        else:
            # de-energised: nothing may move; the plan follows the real position
            plan.reset(table_count)
            plan.rate_sps = 0
            out.rate_sps = 0
            out.limit_lo = self.count
            out.limit_hi = self.count
            out.enable = False

    def _energised(self):
        st = self.state
        if st == BOOT or st == READY or st == RECOVERY:
            return False
        if st == EMERGENCY_RETURN or st == FAULT:
            return not (self.phase == P_LATCHED and self.plan.done())
        return True

    def _indicate(self, out):
        st = self.state
        out.led = _LED[st]
        out.buzzer = _BUZZER[st]
