"""What each command does, once the core has accepted it in its state.

Owns the command handlers: the e-stop, the child lock, acknowledging a latch (only once
its cause is gone), consent, the profile (patient) and program choice, return and
recover, discomfort, stop, releasing a jog, the hold time, calibrating the IMU, and the
commands that move the table (goto, start, jog, home: checked against consent, the
session cap and a trusted angle, and done after homing if the table is not homed yet).
Core.command checks the arguments' types and states.ALLOWED, then calls run(); each
handler returns OK or a refusal reason (states.R_*) and changes nothing when it refuses.

The console jog (jog with b = 1; the console offers it only in the service mode) is a
hold-to-run over a serial line: it runs only while C_JOG_KEEP arrives at least every
JOG_KEEP_MS. A tick that finds more time passed since the last one (steps.step, with
the tick's dt) releases it, as a let-go button does: within one tick of the missing
keep-alive the table decelerates to a stop. A button pressed meanwhile ends it too
(buttons.py: jog_bit 0 matches no held button). C_DRIVE_HOLD energises the driver in
READY without motion (the bring-up's step 4).
"""

import events
import faults
import programs
import reactions
import states
import steps
from micropython import const
from signals import SW_DOWN, SW_UP

_MANUAL = const(-1)  # events.E_SESSION_START program id of a manual session (goto, jog, recovery)
_ANGLE_ARG_MAX = const(180000)  # any angle argument outside +-180 deg is malformed
_HOLD_ARG_MAX_MS = const(3600000)  # an hour: any longer hold request is malformed
# A typed calibration angle must agree with the step count (exact while homed) this well:
# the backlash (100 mdeg at the table) plus the IMU's noise and margin. Not the runaway
# tolerance: 2.4 deg typed at 0 would leave the IMU 1.2-3.4 deg off (issue #18).
_CAL_TOL_MDEG = const(500)
# The console jog's keep-alive period: a client sends one every 100 ms while its key is
# held, so one lost or late line (USB latency, a busy host) does not stop it, and a
# dropped link stops the table after at most this plus one tick at jog speed.
JOG_KEEP_MS = const(200)
# `calibrate`'s refusal when the typed angle is not the step count's: the console adds
# that angle in its unit (console_session.c_calibrate), the core words no numbers
CAL_STEPS_WHY = "the step count says the table is at"


def run(core, st, cmd, a, b):
    """Do cmd (allowed in state st) with its arguments a, b."""
    if cmd == states.C_ESTOP:
        if st == states.BOOT:
            # the self-test still decides: a failure latches its fault (no motion),
            # a pass enters the emergency return instead of READY or RECOVERY
            core.boot_estop = True
            core.log.add(core.now_ms, events.E_ESTOP, 3)
        elif st != states.EMERGENCY_RETURN:
            reactions.emergency(core, 3, core.cfg.rest_angle_mdeg)
        return states.OK
    if cmd == states.C_CHILD_LOCK:
        core.child_lock = a != 0  # the console checked the PIN before an unlock
        return states.OK
    if cmd == states.C_ACK:
        return _ack(core, st)
    if cmd == states.C_PROFILE:
        if a < 0 or a >= len(core.profiles):
            return states.R_ARG
        core.use_profile(core.profiles[a])
        return states.OK
    if cmd == states.C_CONSENT:
        if not core.profile.consent:
            core.profile.consent = True
            core.log.add(core.now_ms, events.E_CONSENT)
        return states.OK
    if cmd == states.C_PROGRAM:
        if a not in programs.NAMES:
            return states.R_ARG
        core.program_id = a
        return states.OK
    if cmd == states.C_RETURN or cmd == states.C_RECOVER:
        return _return(core, st)
    if cmd == states.C_DISCOMFORT:
        core.session.discomfort = True
        core.log.add(core.now_ms, events.E_DISCOMFORT)
        if st != states.RETURNING:
            steps.start_return(core)
        return states.OK
    if cmd == states.C_STOP:
        return _stop(core, st)
    if cmd == states.C_JOG_RELEASE:
        core.plan.stop()
        core.phase = states.P_STOPPING
        return states.OK
    if cmd == states.C_HOLD:
        return _hold(core, st, a)
    if cmd == states.C_CALIBRATE:
        return _calibrate(core, st, a, b)
    if cmd == states.C_JOG_KEEP:
        if core.jog_bit != 0 or core.phase == states.P_STOPPING:
            return states.R_STATE  # a button's jog, or one already let go
        core.jog_keep_ms = JOG_KEEP_MS
        return states.OK
    if cmd == states.C_DRIVE_HOLD:
        # energised at rest: the plan stands at the count, no pulse (control._drive)
        core.drive_hold = a != 0
        return states.OK
    return _move(core, st, cmd, a, b)  # the rest move the table


def _move(core, st, cmd, a, b):
    """goto, start, jog, home: checked, then done (after homing, if not homed yet)."""
    pos = core.pos
    if not pos.angle_ok and cmd != states.C_JOG_UP:
        return states.R_UNTRUSTED
    if cmd == states.C_GOTO:
        if a < -_ANGLE_ARG_MAX or a > _ANGLE_ARG_MAX:
            return states.R_ARG
        r = _head_down_allowed(core, a)
        if r != states.OK:
            return r
    elif cmd == states.C_START:
        r = _head_down_allowed(core, 1)
        if r != states.OK:
            return r
        # the head-down time this session has used counts against its cap
        spent = core.session.head_down_ms if core.session.active else 0
        try:
            core.runner.start(core.program_id, core.profile, a, b, 0, 0, spent)
        except ValueError:
            return states.R_ARG
    elif cmd == states.C_JOG_DOWN:
        if core.session.cap_reached and pos.angle_mdeg >= core.cfg.head_down_mdeg:
            return states.R_CAP
    if b and (cmd == states.C_JOG_UP or cmd == states.C_JOG_DOWN) and not pos.homed:
        # a console jog never starts a homing run the person does not hold
        return states.R_STATE
    if st == states.READY and not pos.homed:
        # homing first; the command waits for it (a home is that homing itself)
        core.pending_cmd = cmd if cmd != states.C_HOME else 0
        core.pending_a = a
        core.pending_b = b
        steps.start_homing(core)
        return states.OK
    return _motion(core, st, cmd, a, b)


def _head_down_allowed(core, target_mdeg):
    if target_mdeg > core.cfg.rest_angle_mdeg and not core.profile.consent:
        return states.R_CONSENT
    if core.session.cap_reached and target_mdeg > core.cfg.head_down_mdeg:
        return states.R_CAP
    return states.OK


def _motion(core, st, cmd, a, b=0):
    """goto / start / jog / home, once a step reference is known."""
    if cmd == states.C_HOME:
        steps.start_homing(core)
        return states.OK
    if st == states.READY:
        _session_begin(core, core.program_id if cmd == states.C_START else _MANUAL)
    elif cmd == states.C_START:
        core.session.program = core.program_id  # a program after a manual move: it ran
    if cmd == states.C_GOTO:
        core.runner.stop()
        if not core.pos.homed and a <= steps.unhomed_loading_mdeg(core.cfg):
            # not homed (HOLDING after a stopped recovery return): the way to the
            # loading position is the return's, homing on the switch (attack18d 4)
            steps.start_return(core)
            return states.OK
        core.hold_ms_next = -1  # manual: hold for the cap at the reached depth
        steps.move(core, a)
    elif cmd == states.C_START:
        steps.next_segment(core)
    elif cmd == states.C_JOG_UP or cmd == states.C_JOG_DOWN:
        core.runner.stop()
        core.enter(states.JOGGING)
        core.phase = states.P_NONE
        core.jog_bit = 0 if b else SW_UP if cmd == states.C_JOG_UP else SW_DOWN
        core.jog_keep_ms = JOG_KEEP_MS
        cfg = core.cfg
        tg = core.targets
        end = cfg.soft_max_mdeg
        if cmd == states.C_JOG_UP:
            end = _jog_up_end(core)
        tg.go(end, tg.v_jog, tg.a_jog)
        # the hold cap of the clamped end of the jog, should it be held there
        core.timer_ms = programs.hold_cap_ms(tg.target_mdeg, core.profile, cfg)
    return states.OK


def _jog_up_end(core):
    """Where a jog UP ends: the loading angle; not homed (the count is the IMU's after a
    power cut), the IMU's worst error short of the home switch, as the return's last leg
    (attack18d 4: an uncalibrated part 3 deg off took the counted loading angle to a true
    -63 deg, past the frame stop). A START press (the return) or `home` goes the rest of
    the way, homing on the switch; the jog never moves head-down to reach that end."""
    cfg = core.cfg
    if core.pos.homed:
        return cfg.loading_angle_mdeg
    end = steps.unhomed_loading_mdeg(cfg)
    angle = core.pos.angle_mdeg
    return end if end < angle else angle


def _session_begin(core, program_id):
    if core.session.begin(core.pos.angle_mdeg):
        core.session.program = program_id
        core.log.add(core.now_ms, events.E_SESSION_START, program_id)


def _hold(core, st, a):
    if a < 0 or a > _HOLD_ARG_MAX_MS:
        return states.R_ARG
    cap = programs.hold_cap_ms(core.pos.angle_mdeg, core.profile, core.cfg)
    if st == states.HOLDING:
        core.timer_ms = a if a < cap else cap
    else:
        core.hold_ms_next = a if a < cap else cap
    return states.OK


def _return(core, st):
    if st == states.RETURNING:
        return states.OK  # already returning: restarting would skip the rest at horizontal
    if st == states.FAULT:
        if not reactions.can_move(core):
            return states.R_UNTRUSTED
        core.retries = 0  # a deliberate request: the automatic tries start again
        reactions.fault_return(core)
        return states.OK
    if not reactions.can_move(core):
        return states.R_UNTRUSTED
    if st == states.RECOVERY:
        core.reduced = True
        _session_begin(core, _MANUAL)
    if core.runner.active:
        core.session.aborted = True
    steps.start_return(core)
    return states.OK


def _stop(core, st):
    if core.runner.active:
        core.session.aborted = True
    core.runner.stop()
    core.plan.stop()
    if st == states.HOMING:
        # the seek's target may lie past the counted loading angle: the target is now
        # where the table stops, inside the clamp
        core.targets.target_mdeg = core.targets.clamp(core.pos.angle_mdeg)
        core.enter(states.READY)
    else:
        core.enter(states.HOLDING)
        core.phase = states.P_NONE
        core.timer_ms = programs.hold_cap_ms(core.pos.angle_mdeg, core.profile, core.cfg)
    return states.OK


def _calibrate(core, st, a, b):
    """Calibrate the IMU at a known angle a (imucal.py), standing still and homed: READY
    (at the loading stop: a is the loading angle; b = 1 if the console gave one, which
    must then be it) or HOLDING with the motion finished (the driver holds). a must agree
    with the steps within _CAL_TOL_MDEG (else the table is not where the person thinks);
    not homed there is nothing to check it against: refused."""
    cfg = core.cfg
    pos = core.pos
    cal = core.imucal
    cal.why = ""
    if not core.plan.done():
        cal.why = "the table is moving"
        return states.R_STATE
    if not pos.homed or not pos.steps_trusted:
        # the step count, exact while homed, is what a typed angle is checked against
        cal.why = "not homed: home first (the loading switch is the known angle)"
        return states.R_STATE
    if st == states.READY:
        if b and not -cfg.arrive_tol_mdeg <= a - cfg.loading_angle_mdeg <= cfg.arrive_tol_mdeg:
            cal.why = "in READY the table is at the loading angle"
            return states.R_ARG
        a = cfg.loading_angle_mdeg  # the loading stop is the known reference
    elif a < -_ANGLE_ARG_MAX or a > _ANGLE_ARG_MAX:
        return states.R_ARG
    d = a - pos.steps_mdeg
    if not -_CAL_TOL_MDEG <= d <= _CAL_TOL_MDEG:
        cal.why = CAL_STEPS_WHY
        return states.R_ARG
    try:
        # solved on the step count, exact to the backlash while homed: the typed angle
        # (a level's reading) only confirms where the table is; a level read 0.45 deg
        # off, or a point 20 deg from the other, then adds no error (issue #18 re-attack)
        cal.take(core.est, cfg, pos.steps_mdeg)
    except ValueError:
        return states.R_ARG
    # the IMU reads differently now: the runaway check's history of it no longer applies
    runaway = core.sup.runaway
    runaway.reset()
    runaway.anchor()
    core.log.add(core.now_ms, events.E_CALIBRATED, cfg.imu_zero_mdeg)
    return states.OK


def _ack(core, st):
    """Acknowledge EMERGENCY_RETURN or FAULT once latched (a fault: its cause gone)."""
    if core.phase != states.P_LATCHED:
        return states.R_IN_PROGRESS
    if st == states.EMERGENCY_RETURN:
        if core.switches.estop_open:
            return states.R_ESTOP_OPEN
        core.log.add(core.now_ms, events.E_ACK, st)
        if core.fault != faults.NONE:
            core.enter(states.FAULT)
            core.phase = states.P_LATCHED
        else:
            steps.settle(core)
        return states.OK
    if not _fault_cause_gone(core):
        return states.R_CAUSE
    core.log.add(core.now_ms, events.E_ACK, st)
    code = core.fault
    core.fault = faults.NONE
    core.retries = 0
    core.pos.imu_trusted = True
    core.sup.runaway.reset()
    if code == faults.RUNAWAY or code == faults.STEPGEN:
        core.pos.homed = False
        reactions.reference_from_imu(core)
    at_boot = core.fault_at_boot
    core.fault_at_boot = False
    if at_boot and not core.switches.at_loading:
        core.enter(states.RECOVERY)
        core.phase = states.P_NONE
    else:
        steps.settle(core)
    return states.OK


def _fault_cause_gone(core):
    if core.config_fault == faults.MANIFEST:
        return False  # the files stay as they are until a deploy and a reset
    code = core.fault
    if code == faults.OVERTRAVEL or code == faults.OVERTRAVEL_SWITCH:
        return not core.switches.overtravel
    if code == faults.HOME_SWITCH:
        return not core.switches.home_lies
    if code == faults.SELFTEST_ESTOP:
        return not core.switches.estop_open
    if code == faults.STEPGEN and core.sup.sg_seen:
        return False
    if (
        code == faults.SELFTEST_IMU
        or code == faults.RUNAWAY
        or code == faults.STEPGEN
        or (code >= faults.IMU_BUS and code <= faults.IMU_FROZEN)
    ):
        return core.est.valid
    return True
