"""The core's safe reactions: what it does when something goes wrong.

Owns the emergency return (to the rest angle at emergency speed, then latched), raising
a fault (logged once; the same fault again during its own safe return is a retry - a few
of them, then the table stands still, latched), the fault's safe return (toward the rest
angle, never faster than jog speed, on a trustworthy angle source: with the steps in
doubt the drive stops and the step reference is taken again from the IMU first), and
the latched states' per-tick step.

Lost steps (faults.RUNAWAY). Going head-down, the descent stops at once and the return
turns back at jog speed. On the way up - or again during the return - the return goes on
at the slowest speed (the most torque), re-referenced on the IMU before each try, for as
long as each try makes progress toward horizontal by the IMU; a try without progress at
the slowest speed gives up: latched, driver off (the self-locking worm holds), the alarm,
events.E_GAVE_UP logged and the hand-crank instructions on the console (lift.py). A try
that arrives by its steps while the IMU shows the table still clearly head-down (steps
lost under the runaway tolerance, _short_of_rest) counts as one that lost steps again;
one arriving with the IMU 0.5-1 deg head-down of rest (inside the IMU's own error, where
that check cannot call it short) gets one further bounded try, then gives up with the
alarm (_end_at_rest).

No IMU to witness the drive (lost or frozen: fix18g), the return runs at the slowest
speed and its end by the steps alone is not called arrived: latched, announced
(E_UNCONFIRMED, lift.unconfirmed: the console asks for the angle to be checked), as is
any latch short of the goal with no trusted angle, or head-down (latch_unknown). Not
homed with an uncalibrated IMU the return aims the IMU's worst error head-up of rest
(rest_goal).

A fault on the way to the loading position, the person feet-down, returns to the
loading position, not back up to the rest angle (fault_goal): a lying home switch, the
IMU lost (then at the slowest speed, unconfirmed); the drive's own faults stand there.

Functions of the core (control.Core): the state, phase and fault are the state
machine's; these decide the reaction. Allocation-free.
"""

import faults
from commissioning import IMU_CAL_ERR_MDEG, unhomed_loading_mdeg, unhomed_max_mdeg
from events import E_ESTOP, E_FAULT, E_GAVE_UP, E_SHORT_END, E_UNCONFIRMED
from lift import PROGRESS_MIN_MDEG
from micropython import const
from states import (
    BOOT,
    EMERGENCY_RETURN,
    FAULT,
    HOMING,
    P_LATCHED,
    P_REREF,
    P_TO_LOADING,
    P_TO_REST,
    RETURNING,
)

_SAFE_RETURN_TRIES = const(3)  # automatic safe-return attempts before standing still


def emergency(core, source, goal_mdeg):
    """The e-stop (source: 1 circuit opened, 2 ISR edge, 3 console, 4 the ankle lock):
    return to goal_mdeg - the rest angle, or horizontal for the ankle lock (anklelock.py:
    a rest angle below horizontal would tip the unheld person feet-down)."""
    core.log.add(core.now_ms, E_ESTOP, source)
    if goal_mdeg == core.cfg.rest_angle_mdeg:
        goal_mdeg = rest_goal(core)
    lift = core.lift
    lift.tried_end = False  # a new return: its own further try (_end_at_rest)
    lift.blind = False  # ... and its own witness (return_to_rest)
    lift.unconfirmed = False
    core.runner.stop()
    if core.session.active:
        core.session.emergency = True
    core.pending_cmd = 0
    core.enter(EMERGENCY_RETURN)
    core.phase = P_TO_REST
    tg = core.targets
    tg.return_mdeg = goal_mdeg
    return_to_rest(core, tg.v_emergency, tg.a_emergency)


def raise_fault(core, code):
    st = core.state
    returning = st == FAULT or st == EMERGENCY_RETURN
    lift = core.lift
    if code == faults.RUNAWAY and returning and lift.active:
        _lost_steps_again(core)
        return
    if code == core.fault and returning:
        # The same fault again: not a new fault to log. Standing latched (a fault
        # latched at boot, or after its tries), it starts nothing: a latched fault
        # never moves the table by itself, only a deliberate command does.
        if core.phase == P_LATCHED:
            return
        # During its own safe return (e.g. the load is too heavy to lift and runaway
        # trips at every try): a few tries, then stand still latched; a deliberate
        # return may retry.
        core.retries += 1
        if core.retries >= _SAFE_RETURN_TRIES or not can_move(core):
            latch_unknown(core)
        else:
            fault_return(core)
        return
    core.log.add(core.now_ms, E_FAULT, code, st)
    if core.fault == faults.NONE:
        core.fault = code
    if not returning:
        lift.reset()  # a new fault episode
        core.targets.return_mdeg = fault_goal(core)  # (its return's goal)
    if code == faults.RUNAWAY:
        lift.active = True
        # lost on the way up: the load is heavy; the return goes on at the slowest speed
        lift.slow = lift.slow or core.plan.vel_sps < 0
    core.runner.stop()
    core.pending_cmd = 0
    if core.session.active:
        core.session.fault = True
    if st == EMERGENCY_RETURN:
        # the return goes on, degraded like a fault's: on the trustworthy source, at
        # jog speed (re-referenced on the IMU first if the steps are in doubt)
        fault_return(core)
        return
    core.enter(FAULT)
    if st == BOOT or (core.fault_at_boot and core.phase == P_LATCHED):
        latch(core)  # standing since boot: the press that starts the return is awaited
    elif core.fault_at_boot:
        latch_unknown(core)  # a new fault stopped the return a press started: announced
    else:
        fault_return(core)


def _lost_steps_again(core):
    """RUNAWAY again during a runaway's return: on slowly while it makes progress."""
    lift = core.lift
    if lift.gave_up or core.phase == P_LATCHED:
        return  # standing latched: a latched fault never moves the table by itself
    if lift.slow and not (core.est.valid and lift.progressed(core.est.angle_mdeg)):
        lift.gave_up = True
        core.log.add(core.now_ms, E_GAVE_UP, faults.RUNAWAY, core.est.angle_mdeg)
        latch(core)
        return
    lift.slow = True
    fault_return(core)


def fault_return(core):
    """The only motion a fault allows: toward the rest angle, at reduced speed."""
    pos = core.pos
    tg = core.targets
    if not core.drive_ok:
        latch(core)
    elif pos.steps_trusted:
        core.phase = P_TO_REST
        return_to_rest(core, tg.v_jog, tg.a_jog)
    elif pos.imu_trusted and core.est.valid:
        # stop first; step_latch takes the reference from the IMU once stopped
        core.phase = P_REREF
        core.plan.set_limits(tg.v_jog, tg.a_jog)
        core.plan.stop()
    else:
        latch_unknown(core)


def regoal(core, goal_mdeg):
    """The safe return under way (EMERGENCY_RETURN or FAULT) goes to goal_mdeg from now
    on, at its own speed, and is judged there: the ankle lock opened during it
    (anklelock.watch), horizontal instead of a rest angle below it. Head-up of the new
    goal already, it stops where it is; re-referencing first (P_REREF), it aims there
    once moving; latched, it stands (the latch never moves the table by itself)."""
    tg = core.targets
    tg.return_mdeg = goal_mdeg
    if core.phase != P_TO_REST:
        return
    angle = core.pos.angle_mdeg
    if angle > goal_mdeg:
        tg.retarget(goal_mdeg)  # unclamped, as the ankle lock's own return (aim)
    else:
        core.plan.stop()
        tg.target_mdeg = angle


def return_to_rest(core, vmax, amax):
    """Head-down of the return's goal (Targets.return_mdeg: the rest angle, or horizontal
    for the ankle lock's): go there. Head-up of it: stop where we are."""
    tg = core.targets
    if core.fault != faults.NONE and vmax > tg.v_jog:
        vmax = tg.v_jog  # degraded: never faster than jog speed
        amax = tg.a_jog
    if not can_move(core):
        latch_unknown(core)
        return
    angle = core.pos.angle_mdeg
    goal = tg.return_mdeg
    witnessed = imu_witness(core)
    if not witnessed and vmax > tg.v_home:
        # no IMU: steps lost under load cannot be seen, so the return runs at the speed
        # with the most torque (the lift path's, lift.py), which lifts every liftable load
        vmax = tg.v_home
    if angle <= goal:
        tg.stay(angle, vmax, amax)
        return
    if not witnessed:
        core.lift.blind = True  # its end cannot be called arrived (_end_at_rest)
    if goal == core.cfg.rest_angle_mdeg:
        tg.go_back(goal, vmax, amax)
    else:
        # horizontal over a rest angle below it: with the lock open the clamp would hold
        # every target at the rest angle
        tg.aim(goal, vmax, amax)


def fault_goal(core):
    """The goal of a new fault episode's return. On the way to the loading position
    (the return's last leg, or homing) head-up of the rest angle, the loading position:
    the person is feet-down, on the way off the table (attack18f 1: the IMU lost at
    -20 deg latched them there, the rest angle's goal being behind them; a home switch
    that lies on the way, fix18h). Homed, the loading angle by the count; not homed, the
    IMU's worst error short of the switch (commissioning.unhomed_loading_mdeg: homing,
    which would stop on the switch, is not tried in a fault). Only with the steps
    trusted: the drive's own faults stand there. Never head-down of rest_goal, which it
    is otherwise."""
    goal = rest_goal(core)
    st = core.state
    if not (st == HOMING or (st == RETURNING and core.phase == P_TO_LOADING)):
        return goal  # not on the way to the loading position
    cfg = core.cfg
    if core.pos.angle_mdeg >= cfg.rest_angle_mdeg:
        return goal  # head-down still: the rest at horizontal comes first
    if not core.pos.steps_trusted:
        # the drive in doubt (lost steps, a jam: the lift check's refusal): the person is
        # feet-down, not at risk; it stands, latched, rather than try on toward the stop
        return goal
    t = cfg.loading_angle_mdeg if core.pos.homed else unhomed_loading_mdeg(cfg)
    return t if t < goal else goal


def to_loading_goal(core):
    """True if the return under way goes to the loading position (fault_goal)."""
    return core.targets.return_mdeg < rest_goal(core)


def rest_goal(core):
    """The goal of a fault's or the e-stop's return: the rest angle; not homed with an
    uncalibrated IMU, the IMU's worst error head-up of it (commissioning.unhomed_max_mdeg):
    the count is then the IMU's, up to 5.4 deg off (attack18e 6: a fault's return that
    ended at 0 by such a count latched the person 3.1 deg head-down). A calibrated IMU's
    0.5 deg is the hold tolerance: its goal stays the rest angle."""
    cfg = core.cfg
    if core.pos.homed or cfg.imu_calibrated:
        return cfg.rest_angle_mdeg
    return unhomed_max_mdeg(cfg)


def latch(core):
    """Stand still, latched: the drive is de-energised once the plan has stopped."""
    core.plan.stop()
    core.phase = P_LATCHED


def latch_unknown(core):
    """Latch a return before its goal: with no trusted angle source (where the table
    stands is unknown), after a move no IMU witnessed, or head-down (a fault's retries
    used up) the latch is announced (_unconfirmed), never silent."""
    latch(core)
    pos = core.pos
    if not pos.angle_ok or core.lift.blind or pos.angle_mdeg > core.cfg.head_down_mdeg:
        _unconfirmed(core)


def imu_witness(core):
    """True if the IMU can witness the drive (confirm its moves, see lost steps)."""
    return core.pos.imu_trusted and core.est.valid


def _unconfirmed(core):
    """Nothing confirms the table is at horizontal: logged once (E_UNCONFIRMED); the
    console asks for the angle to be checked and gives the crank instructions (app.py);
    the FAULT state's alarm stays on."""
    lift = core.lift
    if not lift.unconfirmed:
        lift.unconfirmed = True
        core.log.add(core.now_ms, E_UNCONFIRMED, core.fault, core.pos.angle_mdeg)


def can_move(core):
    """True if a trustworthy angle source can guide a move (re-referencing if stopped)."""
    if not core.drive_ok:
        return False
    pos = core.pos
    if pos.steps_trusted:
        return True
    if pos.imu_trusted and core.est.valid and core.plan.done():
        reference_from_imu(core)
        return True
    return False


def reference_from_imu(core):
    pos = core.pos
    runaway = core.sup.runaway
    # never onto a drifted IMU angle, nor onto one that hides lost steps
    off = runaway.safe_offset_mdeg()
    pos.reference_from_imu(core.est, off)
    core.plan.reset(pos.count + pos.offset)
    runaway.rebase(off)  # a new reference: the old error history no longer applies


def step_latch(core, st):
    """One tick of EMERGENCY_RETURN or FAULT (st): the return's progress, then the latch."""
    ph = core.phase
    if ph == P_REREF:
        if not (core.pos.imu_trusted and core.est.valid):
            latch_unknown(core)
        elif core.plan.done():
            reference_from_imu(core)
            core.phase = P_TO_REST
            tg = core.targets
            lift = core.lift
            lift.start_try(core.est.angle_mdeg)
            return_to_rest(core, tg.v_home if lift.slow else tg.v_jog, tg.a_jog)
    elif ph == P_TO_REST:
        if st == FAULT and not can_move(core):
            latch_unknown(core)
        elif core.plan.done():
            if short_of_rest(core, core.targets.return_mdeg):
                # the return lost steps too few for the runaway check to see (under its
                # tolerance), a heavy load at the e-stop's or a fault's speed: take the
                # steps from the IMU again and try on, or give up
                core.pos.steps_trusted = False
                if core.lift.active:
                    _lost_steps_again(core)
                else:
                    raise_fault(core, faults.RUNAWAY)
            else:
                _end_at_rest(core)


def short_of_rest(core, goal_mdeg):
    """A return arrived by its steps, but the IMU (with the offset it took at rest,
    RunawayCheck.safe_offset_mdeg) puts the table clearly head-down of the steps and of
    the return's goal_mdeg (the rest angle; horizontal for the ankle lock's): the return
    lost steps, and the person is still head-down. Then it
    goes the lift path (a try at the slowest speed, give up with the alarm if none moves
    it), never a plain latch.

    'Clearly' is a margin over the IMU's own error, never the head-down threshold
    (attack18d: a threshold of 0 made IMU noise a RUNAWAY at horizontal): the offset was
    taken at the anchor and the IMU reads here, each within IMU_CAL_ERR_MDEG of the
    truth (head-down sessions need the calibration), so their difference may be twice
    that from the goal; and lift.PROGRESS_MIN_MDEG from the steps, the progress a
    further try must show."""
    est = core.est
    if not (core.pos.imu_trusted and est.valid):
        return False
    a = est.angle_mdeg + _imu_offset(core)
    return (a - core.pos.steps_mdeg > PROGRESS_MIN_MDEG
            and a - goal_mdeg > 2 * IMU_CAL_ERR_MDEG)


def _end_at_rest(core):
    """A fault's or the e-stop's return arrived at its goal (the rest angle, or
    horizontal for the ankle lock's), not short by short_of_rest's margins - yet the IMU
    may put the table 0.5-1 deg head-down of it. The evidence
    cannot tell a table stuck there from the two IMU readings' own error, so it earns
    one further try (logged): head-up by what the IMU says is missing, at most 1 deg, at
    the slowest speed (the most torque). Wrong, it leaves the table that much head-up of
    the goal, harmless; still short after it, the return gives up: latched with the alarm,
    the reason logged (E_GAVE_UP), the crank instructions - never a silent latch."""
    lift = core.lift
    if lift.blind and not imu_witness(core):
        _unconfirmed(core)  # arrived by its steps alone: nothing saw steps lost on the way
        core.phase = P_LATCHED
        return
    if to_loading_goal(core):
        # at the loading position (feet-down): short of it is harmless, and a further
        # try past it would push toward the frame's stop
        core.phase = P_LATCHED
        return
    d = _imu_head_down_of_rest(core)
    if d > IMU_CAL_ERR_MDEG:
        if not lift.tried_end:
            lift.tried_end = True
            core.log.add(core.now_ms, E_SHORT_END, core.fault, d)
            if d > 2 * IMU_CAL_ERR_MDEG:
                d = 2 * IMU_CAL_ERR_MDEG
            tg = core.targets
            # unclamped: the rest owed would clamp it to the rest angle; at most 1 deg
            # head-up of rest is inside the travel whatever the rest angle
            tg.aim(tg.return_mdeg - d, tg.v_home, tg.a_jog)
            return  # P_TO_REST: judged again on arrival
        if not lift.gave_up:
            lift.gave_up = True
            core.log.add(core.now_ms, E_GAVE_UP, core.fault, core.est.angle_mdeg)
    core.phase = P_LATCHED


def _imu_head_down_of_rest(core):
    """How far the IMU (with the offset it took at rest) puts the table head-down of the
    return's goal; 0 without a trusted IMU."""
    est = core.est
    if not (core.pos.imu_trusted and est.valid):
        return 0
    return est.angle_mdeg + _imu_offset(core) - core.targets.return_mdeg


def _imu_offset(core):
    """The IMU's offset from the steps to judge an arrival with. Calibrated, the part of
    it seen at rest (RunawayCheck.safe_offset_mdeg: the part followed during a move may
    hold steps lost). Uncalibrated, the whole of it (base_mdeg): the offset's error then
    changes with the angle by up to 0.094 deg per degree (commissioning.py), 2 deg along a
    40 deg return, which the runaway check's base follows as the evidence rule of issue
    #18 allows (smooth and angle-dependent: the IMU's; faster: lost steps, judged);
    leaving it out read that change as lost steps (attack18e 6: a false RUNAWAY whose
    return latched 3 deg head-down). What that gives up: steps lost at under 0.1 deg per
    degree travelled look like the offset there - a stepper that loses sync stalls, far
    faster, and the runaway check trips."""
    rw = core.sup.runaway
    if core.cfg.imu_calibrated:
        return rw.safe_offset_mdeg()
    return rw.base_mdeg


def arrived_short(core):
    """The normal return's arrival at the rest angle (steps.py): short of it by the IMU,
    the steps are taken as lost and the fault's return takes over (the lift path)."""
    if not short_of_rest(core, core.cfg.rest_angle_mdeg):
        return False
    core.pos.steps_trusted = False
    raise_fault(core, faults.RUNAWAY)
    return True
