"""The per-state steps: what each state does on its own, one tick at a time.

Owns BOOT's power-on self-test and its verdict, the arrival of a move (hold, capped, or
READY at the loading stop), the hold and jog timers, the normal return (to the rest
angle, the pause there, on to the loading position, homing if not homed), homing's
progress and the command that waited for it, a program's next segment, and standing
still after a stop. And the two rules every path obeys: the rest at horizontal owed
after head-down (restguard.py: a goto head-up of the rest angle stops there for the
pause and then goes on by itself; a jog stops there and waits for a new press), and
the session cap counted over all the time head-down (the return starts when the time
used plus the way back, headdown.py, reaches the cap; a goto's hold is shortened to
fit). Functions of the core (control.Core); the latched states' step is
reactions.step_latch. Allocation-free.
"""

import events
import faults
import headdown
import homing
import liftcheck
import programs
import reactions
import states
from commissioning import unhomed_loading_mdeg
from micropython import const
from restguard import NO_TARGET
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

# boot check: switch state vs angle, allowing an uncalibrated IMU's error (up to 5.4 deg,
# switches.HOME_TOL_MDEG)
_SWITCH_TOL_MDEG = const(6000)


def step(core, dt):
    """One tick of the state the core is in (BOOT has boot_step)."""
    st = core.state
    plan = core.plan
    pos = core.pos
    rest = core.targets.rest
    rest.update(dt, pos.steps_mdeg if pos.steps_trusted else pos.angle_mdeg)
    if st == JOGGING and core.jog_bit == 0:
        _jog_keep(core, dt)  # the console's jog, before anything else this tick
    if st == MOVING or st == JOGGING or st == HOLDING:
        if core.session.active and pos.angle_ok and pos.angle_mdeg > core.cfg.head_down_mdeg:
            if _cap_due(core):
                return
    if (st == MOVING or st == JOGGING) and not core.liftcheck.proven:
        r = liftcheck.step(core, st, dt)
        if r == liftcheck.REFUSED:
            start_return(core)
        if r != liftcheck.NOT_MINE:
            return
    if rest.owed and core.targets.target_mdeg < core.cfg.rest_angle_mdeg:
        _rest_first(core, st)
    if st == MOVING:
        if plan.done():
            if rest.then_mdeg == NO_TARGET:
                _arrived(core)
            elif not rest.owed:
                t = rest.then_mdeg
                rest.then_mdeg = NO_TARGET
                move(core, t)  # rested: on to the goto's target
            else:
                core.phase = P_RESTING
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
        reactions.emergency(core, 3, core.cfg.rest_angle_mdeg)
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
    if core.config_fault == faults.MANIFEST:
        return faults.MANIFEST  # firmware the deploy did not vouch for judges nothing else
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
    if core.session.active and core.pos.angle_mdeg > core.cfg.head_down_mdeg:
        # the hold that fits in the session cap with the way back (_cap_due ends it then)
        left = core.profile.session_cap_ms - core.session.head_down_ms - up_ms(core, 0)
        if hold > left:
            hold = left if left > 0 else 0
    if core.switches.at_loading and not core.runner.active:
        core.enter(states.READY)  # a goto to the loading position ends the session
    else:
        core.enter(HOLDING)
        core.timer_ms = hold


def _step_return(core, dt):
    if not core.plan.done():
        return
    ph = core.phase
    if ph == P_TO_REST:
        if reactions.arrived_short(core):
            return
        core.phase = P_RESTING
        core.timer_ms = core.cfg.rest_pause_ms
    elif ph == P_RESTING:
        core.timer_ms -= dt
        if core.timer_ms <= 0 and not core.targets.rest.owed:
            _to_loading(core)
    elif ph == P_TO_LOADING:
        if core.pos.homed:
            core.enter(states.READY)
        else:
            start_homing(core)


def _jog_keep(core, dt):
    """The console's jog (commands.py): its keep-alive overdue, it is let go as a button
    is, before the rest of the tick (a lift check under way included)."""
    if core.phase != P_STOPPING:
        core.jog_keep_ms -= dt
        if core.jog_keep_ms < 0:
            core.command(states.C_JOG_RELEASE)


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


def _rest_first(core, st):
    """A rest is owed under a move head-up of the rest angle (it braked across the
    head-down threshold after it was planned): stop at the rest angle first."""
    tg = core.targets
    if st == MOVING:
        if tg.rest.then_mdeg == NO_TARGET:
            tg.rest.then_mdeg = tg.target_mdeg
    elif st == RETURNING:
        t = reactions.rest_goal(core)
        if t != core.cfg.rest_angle_mdeg:
            if tg.target_mdeg < t:
                core.phase = P_TO_REST
                tg.retarget(t)
            return  # resting short of the rest angle (not homed, uncalibrated)
        core.phase = P_TO_REST
    elif st != JOGGING:
        return  # homing and the latched states keep their own targets
    tg.retarget(core.cfg.rest_angle_mdeg)


def up_ms(core, vel_sps):
    """The way back from the angle where the table is, moving at vel_sps, to the
    head-down threshold at the speed the return would take (headdown.py)."""
    cfg = core.cfg
    kin = core.kin
    tg = core.targets
    h = kin.steps_from_mdeg(cfg.head_down_mdeg)
    d = kin.steps_from_mdeg(core.pos.angle_mdeg) - h
    tail = h - kin.steps_from_mdeg(cfg.rest_angle_mdeg)
    if core.reduced:
        return headdown.back_ms(d, vel_sps, tg.v_jog, tg.a_jog, tail, cfg.tick_ms)
    return headdown.back_ms(d, vel_sps, tg.v_normal, tg.a_normal, tail, cfg.tick_ms)


def _cap_due(core):
    """The session cap counts all the time head-down: once the time used plus the way
    back reaches it, the return starts (again after a stop: the cap is the profile's
    limit, and the e-stop remains for anything else). True if it started."""
    s = core.session
    first = not s.cap_reached
    if not s.return_due(up_ms(core, core.plan.vel_sps), core.profile.session_cap_ms):
        return False
    if first:
        core.log.add(core.now_ms, events.E_CAP, 2)
    start_return(core)
    return True


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
    """MOVING to target_mdeg at normal speed, clamped (a clamp is logged). Head-up of
    the rest angle while a rest is owed: to the rest angle, then on by itself."""
    core.enter(MOVING)
    core.phase = states.P_NONE
    tg = core.targets
    rest = tg.rest
    rest.then_mdeg = NO_TARGET
    t = tg.clamp(target_mdeg)
    if rest.owed and t == core.cfg.rest_angle_mdeg and target_mdeg < t:
        rest.then_mdeg = target_mdeg  # not a clamp: a stop on the way
    elif t != target_mdeg:
        core.log.add(core.now_ms, events.E_CLAMPED, target_mdeg, t)
    tg.aim(t, tg.v_normal, tg.a_normal)


def start_return(core):
    """The normal return: to the rest angle and its pause if head-down, else straight on
    to the loading position (at jog speed after a recovery)."""
    core.runner.stop()
    core.enter(RETURNING)
    cfg = core.cfg
    if core.targets.rest.owed or core.pos.angle_mdeg > cfg.rest_angle_mdeg + cfg.arrive_tol_mdeg:
        core.phase = P_TO_REST
        # not homed and uncalibrated, the IMU's worst error head-up of the rest angle by
        # the count (attack18e 7: a part 4 deg low rested a true +4.03 deg head-down)
        t = reactions.rest_goal(core)
        if t == cfg.rest_angle_mdeg:
            _return_to(core, t)
        else:
            _aim_back(core, t)
    else:
        _to_loading(core)


def _aim_back(core, target_mdeg):
    """A return to a rest head-up of the rest angle: unclamped (while the rest is owed
    the clamp holds every target at the rest angle), inside the travel (-5.4 deg)."""
    tg = core.targets
    if core.reduced:
        tg.aim(target_mdeg, tg.v_jog, tg.a_jog)
    else:
        tg.aim(target_mdeg, tg.v_normal, tg.a_normal)


def _to_loading(core):
    """The return's last leg. Not homed, the count is the IMU's (after a power cut): an
    uncalibrated part 3 deg off put the counted loading angle past the frame stop, 1 deg
    beyond it (attack18d 4). So the leg ends the IMU's worst error short of the switch,
    and homing's approach, which stops on the switch, goes the rest of the way."""
    cfg = core.cfg
    core.phase = P_TO_LOADING
    if core.pos.homed:
        _return_to(core, cfg.loading_angle_mdeg)
        return
    t = unhomed_loading_mdeg(cfg)
    if core.pos.angle_mdeg <= t + cfg.arrive_tol_mdeg:
        start_homing(core)  # already there (a stop on the way up)
    else:
        _return_to(core, t)


def _return_to(core, target_mdeg):
    # jog's speed when the drive is reduced. Written out here and in _aim_back, not as a
    # helper returning (speed, acceleration): a tuple is 32 heap bytes on MicroPython and
    # these run inside a tick (tests/host/test_bench.py measures a transition's bytes)
    tg = core.targets
    if core.reduced:
        tg.go_back(target_mdeg, tg.v_jog, tg.a_jog)
    else:
        tg.go_back(target_mdeg, tg.v_normal, tg.a_normal)


def start_homing(core):
    core.runner.stop()
    core.enter(HOMING)
    core.homing.start()
    core.phase = core.homing.phase


def settle(core):
    """Stand still after a stop or a latch: READY at the loading switch, else HOLDING
    (for the hold cap of the angle where it stands)."""
    if core.switches.at_loading:
        core.enter(states.READY)
    else:
        core.enter(HOLDING)
        core.timer_ms = programs.hold_cap_ms(core.pos.angle_mdeg, core.profile, core.cfg)
    core.phase = states.P_NONE
