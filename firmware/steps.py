"""The per-state steps: what each state does on its own, one tick at a time.

Owns BOOT's power-on self-test and its verdict, the arrival of a move (hold, capped, or
READY at the loading stop), the hold and jog timers, the normal return (to the rest
angle, the pause there, on to the loading position, homing if not homed), homing's
progress and the command that waited for it, a program's next segment, and standing
still after a stop. Functions of the core (control.Core); the latched states' step is
reactions.step_latch. Allocation-free.
"""

import events
import faults
import homing
import programs
import reactions
import states
from micropython import const
from signals import SW_DOWN, SW_UP

# The names the per-tick path compares are imported; the rest are read through their
# module: every imported name is one more entry in this module's globals (heap).
from states import (
    EMERGENCY_RETURN,
    FAULT,
    HOLDING,
    HOMING,
    JOGGING,
    MOVING,
    P_RESTING,
    P_STOPPING,
    P_TO_LOADING,
    P_TO_REST,
    RETURNING,
)

_SWITCH_TOL_MDEG = const(4000)  # boot check: switch state vs angle, allowing IMU error


def step(core, dt):
    """One tick of the state the core is in (BOOT has boot_step)."""
    st = core.state
    plan = core.plan
    if st == MOVING:
        if plan.done():
            _arrived(core)
    elif st == HOLDING:
        if core.runner.active or core.pos.angle_mdeg > core.cfg.head_down_mdeg:
            core.timer_ms -= dt
            if core.timer_ms <= 0:
                if core.runner.active:
                    next_segment(core)
                else:
                    start_return(core)
    elif st == JOGGING:
        if core.phase == P_STOPPING and plan.done():
            settle(core)
        elif plan.done() and core.pos.angle_mdeg > core.cfg.head_down_mdeg:
            # held at the clamp with the button still down: the hold cap runs
            core.timer_ms -= dt
            if core.timer_ms <= 0:
                core.log.add(core.now_ms, events.E_CAP, 1)
                start_return(core)
    elif st == RETURNING:
        _step_return(core, dt)
    elif st == HOMING:
        r = core.homing.step(core.now_ms)
        core.phase = core.homing.phase
        if r == homing.DONE:
            _homed(core)
        elif r == homing.FAILED:
            reactions.raise_fault(core, faults.HOMING)
    elif st == EMERGENCY_RETURN or st == FAULT:
        reactions.step_latch(core, st)


def boot_step(core, dt, inp):
    """BOOT: wait out the self-test window, then READY, RECOVERY, or the fault found."""
    core.timer_ms -= dt
    if core.timer_ms > 0:
        return
    est = core.est
    code = _selftest(core, inp)
    if est.valid:
        reactions.reference_from_imu(core)
        core.pos.angle_mdeg = est.angle_mdeg
        core.pos.angle_ok = True
    if code != faults.NONE:
        core.fault_at_boot = True
        reactions.raise_fault(core, code)
        return
    if core.boot_estop:
        reactions.emergency(core, 3)
        return
    if core.switches.at_home_switch:
        core.enter(states.READY)
    else:
        core.log.add(core.now_ms, events.E_RECOVERY, core.pos.angle_mdeg)
        core.enter(states.RECOVERY)


def _selftest(core, inp):
    """The power-on self-test's verdict: faults.NONE, or what failed first."""
    cfg = core.cfg
    est = core.est
    sw = core.switches
    if sw.estop_open or sw.edges_seen != 0:
        return faults.SELFTEST_ESTOP
    if not est.valid:
        return est.fault if est.fault != faults.NONE else faults.SELFTEST_IMU
    if inp.stepgen_fault:
        # the step generator's own self-test, reported since the first tick (the
        # supervision that also watches this flag does not run in BOOT)
        return faults.STEPGEN
    if core.config_fault != faults.NONE:
        return core.config_fault
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


def _arrived(core):
    """MOVING reached its target: hold there (capped), or READY at the loading stop."""
    hold = core.hold_ms_next
    # the cap of the commanded depth: the measured angle wobbles around it
    cap = programs.hold_cap_ms(core.targets.target_mdeg, core.profile, core.cfg)
    if hold < 0 or hold > cap:
        if hold > cap:
            core.log.add(core.now_ms, events.E_CAP, 1)
        hold = cap
    if core.switches.at_home_switch and not core.runner.active:
        core.enter(states.READY)  # a goto to the loading position ends the session
    else:
        core.enter(HOLDING)
        core.timer_ms = hold


def _step_return(core, dt):
    if not core.plan.done():
        return
    ph = core.phase
    if ph == P_TO_REST:
        core.phase = P_RESTING
        core.timer_ms = core.cfg.rest_pause_ms
    elif ph == P_RESTING:
        core.timer_ms -= dt
        if core.timer_ms <= 0:
            core.phase = P_TO_LOADING
            _return_to(core, core.cfg.loading_angle_mdeg)
    elif ph == P_TO_LOADING:
        if core.pos.homed:
            core.enter(states.READY)
        else:
            start_homing(core)


def _homed(core):
    """Homing parked at the loading position: READY, then the command that waited."""
    core.enter(states.READY)
    core.phase = states.P_NONE
    cmd = core.pending_cmd
    if cmd:
        core.pending_cmd = 0
        if cmd == states.C_JOG_UP or cmd == states.C_JOG_DOWN:
            want = SW_UP if cmd == states.C_JOG_UP else SW_DOWN
            if not core.buttons.active() & want:
                return  # the hold-to-run button was let go while homing
        core.command(cmd, core.pending_a, core.pending_b)


def next_segment(core):
    """Go to the program's next segment, or return when it is over."""
    r = core.runner
    if r.next():
        core.log.add(core.now_ms, events.E_SEGMENT, r.index, r.target_mdeg)
        core.hold_ms_next = r.hold_ms
        move(core, r.target_mdeg)
    else:
        start_return(core)


def move(core, target_mdeg):
    """MOVING to target_mdeg at normal speed, clamped (a clamp is logged)."""
    core.enter(MOVING)
    core.phase = states.P_NONE
    tg = core.targets
    t = tg.clamp(target_mdeg)
    if t != target_mdeg:
        core.log.add(core.now_ms, events.E_CLAMPED, target_mdeg, t)
    tg.aim(t, tg.v_normal, tg.a_normal)


def start_return(core):
    """The normal return: to the rest angle and its pause if head-down, else straight on
    to the loading position (at jog speed after a recovery)."""
    core.runner.stop()
    core.enter(RETURNING)
    cfg = core.cfg
    if core.pos.angle_mdeg > cfg.rest_angle_mdeg + cfg.arrive_tol_mdeg:
        core.phase = P_TO_REST
        _return_to(core, cfg.rest_angle_mdeg)
    else:
        core.phase = P_TO_LOADING
        _return_to(core, cfg.loading_angle_mdeg)


def _return_to(core, target_mdeg):
    tg = core.targets
    if core.reduced:
        tg.go(target_mdeg, tg.v_jog, tg.a_jog)
    else:
        tg.go(target_mdeg, tg.v_normal, tg.a_normal)


def start_homing(core):
    core.runner.stop()
    core.enter(HOMING)
    core.homing.start()
    core.phase = core.homing.phase


def settle(core):
    """Stand still after a stop or a latch: READY at the loading switch, else HOLDING
    (for the hold cap of the angle where it stands)."""
    if core.switches.at_home_switch:
        core.enter(states.READY)
    else:
        core.enter(HOLDING)
        core.timer_ms = programs.hold_cap_ms(core.pos.angle_mdeg, core.profile, core.cfg)
    core.phase = states.P_NONE
