"""The ankle lock (issue #22): the only thing that holds the person head-down.

Owns the two rules about it. Its switch is a normally-closed contact to GND, closed while
the lock is engaged (pins.ANKLE_LOCK); open - not engaged, or its wire cut - reads
signals.SW_ANKLE_LOCK, filtered in switches.py (Switches.ankle_open, ANKLE_SAMPLES).

1. check(): no motion head-down of the rest angle (horizontal) unless the lock reads
   closed. goto past the rest angle, start (a program goes head-down) and jog DOWN at or
   past the rest angle are refused with states.R_ANKLE_LOCK ("ankle lock not engaged"),
   from every source: Core.command applies it to the buttons, the console and programs
   alike. The clamp (motion.Targets.clamp) also keeps every target at or head-up of the
   rest angle while it is open: a jog DOWN from the loading side stops at horizontal, and
   a program's next segment (which no command starts) goes no further.
2. watch(): the lock is watched the whole time. Opening while the table is head-down of
   horizontal (beyond HORIZONTAL_MARGIN_MDEG, not cfg.head_down_mdeg: an unheld person
   is not to be left tipped at all), on its way there (moving head-down toward a target
   past the rest angle), or while a program runs, starts the emergency return at once
   (reactions.emergency, E_ESTOP source ESTOP_ANKLE, after E_ANKLE_LOCK): to horizontal
   (0 deg, whatever the rest angle: a rest angle below horizontal would tip the person
   feet-down), at emergency speed, then latched there with the alarm. Not to the
   loading position: tipping an unheld person head-up, feet down, lets them slide down
   the bed onto the footplate unguided; flat they lie still. Opening during a motion
   toward the loading position at or head-up of horizontal (a return, its rest pause at
   horizontal, any head-up motion; nobody asked for it with the lock open) stops the
   table where it is, latched the same way. The latch never moves the table by itself;
   after `ack` (which leaves it standing) only a deliberate head-up command (UP, return,
   a goto head-up) takes the person to the loading position to get off, and head-down
   motion again needs the lock closed.
   After a reset (RECOVERY) nothing moves until a deliberate command; its return,
   head-down with the lock open, becomes the emergency return to horizontal. A safe
   return already under way while the lock is open (the e-stop's, a fault's: they go to
   the rest angle) takes horizontal as its goal instead of a rest angle below it, at its
   own speed (reactions.regoal); head-up of horizontal already, it stops where it is.
   Nothing in BOOT, READY or HOMING (at or near the loading stop, where the lock is
   opened to get off), nor once latched (the latch never moves the table by itself).
3. signal(): the panel shows the lock. In RECOVERY head-down with the lock open the LED
   and the buzzer give the alarm (nothing moves by itself, as after every reset; the
   alarm calls someone); a command refused for the open lock (a START or DOWN press)
   gives a short refusal signal, REFUSED_SIGNAL_MS, fast LED and beeps.

Functions of the core (control.Core). Pure logic, allocation-free.
"""

import reactions
from events import E_ANKLE_LOCK
from micropython import const
from signals import IND_ALARM, IND_FAST
from states import (
    C_GOTO,
    C_JOG_DOWN,
    C_START,
    EMERGENCY_RETURN,
    FAULT,
    HOLDING,
    JOGGING,
    MOVING,
    OK,
    P_LATCHED,
    R_ANKLE_LOCK,
    RECOVERY,
    RETURNING,
)

ESTOP_ANKLE = const(4)  # events.E_ESTOP source: the ankle lock opened
HORIZONTAL_MDEG = const(0)  # where the reaction takes the person, whatever the rest angle
# Head-down of horizontal by more than this counts as head-down: the return's stop at
# horizontal may land a step or two off (a step is a few mdeg), and 0.1 deg is a fifth of
# the calibrated IMU's 0.5 deg tolerance: nobody is left unheld measurably head-down.
HORIZONTAL_MARGIN_MDEG = const(100)
# The refusal signal's length: long enough to be seen and heard at the table, short
# enough not to be taken for the alarm.
REFUSED_SIGNAL_MS = const(600)


def check(core, cmd, a):
    """OK, or R_ANKLE_LOCK if cmd (argument a) would move head-down of the rest angle
    while the ankle lock is not engaged (then the panel gives the refusal signal)."""
    if not core.switches.ankle_open:
        return OK
    rest = core.cfg.rest_angle_mdeg
    if (cmd == C_START or (cmd == C_GOTO and a > rest)
            or (cmd == C_JOG_DOWN and core.pos.angle_mdeg >= rest)):
        core.ankle_refused_ms = REFUSED_SIGNAL_MS
        return R_ANKLE_LOCK
    return OK


def watch(core):
    """One tick with the lock open (the core calls it only then): the emergency return if
    the person is, or is being taken, head-down, or the stop if the lock opened on the
    way to the loading position (see the module doc). True if it started."""
    st = core.state
    if st == EMERGENCY_RETURN or st == FAULT:
        # a safe return already under way (the e-stop's, a fault's) keeps its speed but
        # not a goal head-up of horizontal: a rest angle below it tips the person
        # feet-down unheld (with -10 deg, the e-stop's return went on to -10 deg)
        if core.targets.return_mdeg < HORIZONTAL_MDEG and core.phase != P_LATCHED:
            core.log.add(core.now_ms, E_ANKLE_LOCK, st, core.pos.angle_mdeg)
            reactions.regoal(core, HORIZONTAL_MDEG)
            return True
        return False
    if st != MOVING and st != JOGGING and st != HOLDING and st != RETURNING:
        return False
    angle = core.pos.angle_mdeg
    vel = core.plan.vel_sps
    going = vel > 0 and core.targets.target_mdeg > core.cfg.rest_angle_mdeg
    # opened just now on the way to loading (a motion begun with the lock already open
    # is a deliberate head-up command: it goes on)
    leaving = core.switches.ankle_opened and st != HOLDING and (vel < 0 or st == RETURNING)
    if angle > HORIZONTAL_MARGIN_MDEG or going or core.runner.active or leaving:
        core.log.add(core.now_ms, E_ANKLE_LOCK, st, angle)
        # to horizontal, not the rest angle; head-up of it already, it stops there
        reactions.emergency(core, ESTOP_ANKLE, HORIZONTAL_MDEG)
        return True
    return False


def signal(core, out):
    """The panel's part (the core calls it while the lock is open or a refusal signal
    runs): the alarm in RECOVERY head-down, else the refusal signal."""
    if (core.state == RECOVERY and core.switches.ankle_open
            and core.pos.angle_mdeg > HORIZONTAL_MARGIN_MDEG):
        out.led = IND_ALARM
        out.buzzer = IND_ALARM
    elif core.ankle_refused_ms > 0:
        out.led = IND_FAST
        out.buzzer = IND_FAST
        t = core.ankle_refused_ms - core.dt_ms
        core.ankle_refused_ms = t if t > 0 else 0
