"""The lift check: before a person goes head-down, can the drive lift them back?

Owns the one judgement "this load can be lifted at the slowest speed", made near
horizontal before the first head-down move of each person, and its books: whether the
lift is proven, the stage of the check, the move it interrupted, the IMU angle it
started from, and the refusals (the console tells the person, firmware/app.py).

Why an active check (issue #18). The worst load for the drive is a user whose centre of
mass lies toward the head: the gravity moment is largest at horizontal (it goes with
the cosine of the tilt), and it helps every head-down move. Through the self-locking
worm, lowering that load needs about (1/eff - 2) / (1/eff), a third, of the torque that
lifting it needs (host_tools/physics.py), so the way down never loses a step that the
way up would: nothing the firmware can measure on the way down (step count against the
IMU, the backlash's side) tells how heavy the load is. And the firmware has no torque or
current sensing. So the check lifts: once per person, when a move that goes head-down
reaches CHECK_BEFORE_MDEG head-up of the rest angle (horizontal), the descent stops,
the table is raised PROBE_MDEG at the slowest speed (cfg.homing_slow_mdeg_s: the
stepper's pull-out torque is highest there), and after _SETTLE_MS the IMU must show it
rose at least lift.PROGRESS_MIN_MDEG (the return's own test of progress: above the IMU's
noise and the 0.1 deg backlash taken up when the drive turns). At a degree or two from
horizontal the gravity moment is within 0.1 % of its maximum, so a load lifted here is
lifted everywhere at the slowest speed (a later slide on the bed is the return's to
handle: lift.py). Passed: the interrupted move goes on, and the lift stays proven until
the table is next READY at the loading position (where a different person may get on).
Failed: the move is refused; the table returns to the loading position (the return
keeps trying at the slowest speed, reactions.py), events.E_LIFT_CHECK is logged and the
console says why. The person was never head-down: the check ends before horizontal at
the default speeds (a stop from normal speed takes 1.5 deg).

Functions of the core (control.Core) like reactions.py; the core's phase is
states.P_LIFT_CHECK while a check runs, and any command that re-plans (stop, goto,
return, a jog release, an e-stop, a fault) ends it unfinished: the next head-down move
starts it again. Allocation-free.
"""

import events
import lift
from micropython import const
from states import JOGGING, P_LIFT_CHECK, P_NONE

# Where the check starts: this far head-up of the rest angle, so that the stop from
# normal speed (3.5 deg/s at 4 deg/s^2: 1.5 deg) ends before horizontal.
CHECK_BEFORE_MDEG = const(2000)
# The lift: twice the progress it must show, so the 0.1 deg backlash and the IMU's noise
# cannot fail a table that moved, nor pass one that stood (2 s at 0.5 deg/s).
PROBE_MDEG = const(1000)
# After the lift, the estimator's angle settles (its gyro follows at once, the
# accelerometer's noise averages out) before the rise is read.
_SETTLE_MS = const(300)

_IDLE = const(0)
_STOPPING = const(1)  # the descent decelerates
_LIFTING = const(2)  # the probe: head-up by PROBE_MDEG at the slowest speed
_SETTLING = const(3)  # standing, the IMU settles

# step()'s answers to the state's step (steps.step)
NOT_MINE = const(0)  # no check under way: the state's own step runs
BUSY = const(1)  # the check owns this tick
REFUSED = const(2)  # failed: the caller starts the return to the loading position


class LiftCheck:
    def __init__(self):
        self.proven = False  # this person's load was lifted at the slowest speed
        self.stage = _IDLE
        self.then_mdeg = 0  # the interrupted move's target, to go on to once proven
        self.from_mdeg = 0  # the IMU angle where the lift started
        self.timer_ms = 0
        self.rise_mdeg = 0  # the IMU's rise during the last lift
        self.refusals = 0  # checks failed since boot (the console tells each one)


def step(core, st, dt):
    """One tick of MOVING or JOGGING while the lift is not proven (see the module doc)."""
    lc = core.liftcheck
    if core.phase != P_LIFT_CHECK:
        lc.stage = _IDLE  # a command re-planned: any check under way is over
        if not _due(core):
            return NOT_MINE
        lc.then_mdeg = core.targets.target_mdeg
        lc.stage = _STOPPING
        core.phase = P_LIFT_CHECK
        core.plan.stop()
        return BUSY
    if not core.plan.done():
        return BUSY
    est = core.est
    if not (core.pos.imu_trusted and est.valid):
        return BUSY  # no judge yet: standing still (a lost IMU is the supervisor's fault)
    s = lc.stage
    if s == _STOPPING:
        lc.from_mdeg = est.angle_mdeg
        lc.stage = _LIFTING
        tg = core.targets
        # as given, not clamped: a short way head-up, the safe direction
        tg.aim(core.pos.steps_mdeg - PROBE_MDEG, tg.v_home, tg.a_jog)
    elif s == _LIFTING:
        lc.stage = _SETTLING
        lc.timer_ms = _SETTLE_MS
    else:
        lc.timer_ms -= dt
        if lc.timer_ms > 0:
            return BUSY
        return _verdict(core, st, lc, lc.from_mdeg - est.angle_mdeg)
    return BUSY


def _due(core):
    """A move under way head-down, to a head-down target, now near horizontal."""
    if core.phase != P_NONE or core.plan.vel_sps <= 0:
        return False
    cfg = core.cfg
    if core.targets.target_mdeg <= cfg.head_down_mdeg:
        return False
    pos = core.pos
    a = pos.steps_mdeg if pos.steps_trusted else pos.angle_mdeg
    return a >= cfg.rest_angle_mdeg - CHECK_BEFORE_MDEG


def _verdict(core, st, lc, rise):
    lc.rise_mdeg = rise
    lc.stage = _IDLE
    core.phase = P_NONE
    if rise >= lift.PROGRESS_MIN_MDEG:
        lc.proven = True
        core.log.add(core.now_ms, events.E_LIFT_CHECK, 1, rise)
        tg = core.targets
        if st == JOGGING:
            tg.go(lc.then_mdeg, tg.v_jog, tg.a_jog)
        else:
            tg.go(lc.then_mdeg, tg.v_normal, tg.a_normal)
        return BUSY
    lc.refusals += 1
    core.log.add(core.now_ms, events.E_LIFT_CHECK, 0, rise)
    # the probe's steps were lost (the table did not rise): the count is up to
    # PROBE_MDEG head-up of the table from here on, under the runaway tolerance. The
    # way back homes again at the loading end, so the next goto's check starts from a
    # true count (fix18c: else it ended 0.52 deg head-down, past the 0.5 deg threshold)
    core.pos.homed = False
    return REFUSED
