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
2. watch(): the lock is watched the whole time. Opening while the table is head-down
   (beyond cfg.head_down_mdeg), on its way there (moving head-down toward a target past
   the rest angle), or while a program runs, starts the emergency return at once
   (reactions.emergency, E_ESTOP source ESTOP_ANKLE, after E_ANKLE_LOCK): to horizontal,
   at emergency speed, then latched there with the alarm. Not to the loading position:
   tipping an unheld person head-up, feet down, lets them slide down the bed onto the
   footplate unguided; flat they lie still. The latch never moves the table by itself;
   after `ack` (which leaves it standing at horizontal) only a deliberate head-up command
   (UP, return, a goto head-up) takes the person to the loading position to get off, and
   head-down motion again needs the lock closed.
   Not in RECOVERY: after a reset nothing moves until a deliberate command (its return is
   head-up only); not in the latched states (already going to horizontal), BOOT, READY or
   HOMING (at or near the loading stop, where the lock is opened to get off).

Functions of the core (control.Core). Pure logic, allocation-free.
"""

import reactions
from events import E_ANKLE_LOCK
from micropython import const
from states import (
    C_GOTO,
    C_JOG_DOWN,
    C_START,
    HOLDING,
    JOGGING,
    MOVING,
    OK,
    R_ANKLE_LOCK,
    RETURNING,
)

ESTOP_ANKLE = const(4)  # events.E_ESTOP source: the ankle lock opened


def check(core, cmd, a):
    """OK, or R_ANKLE_LOCK if cmd (argument a) would move head-down of the rest angle
    while the ankle lock is not engaged."""
    if not core.switches.ankle_open:
        return OK
    rest = core.cfg.rest_angle_mdeg
    if cmd == C_START or (cmd == C_GOTO and a > rest):
        return R_ANKLE_LOCK
    if cmd == C_JOG_DOWN and core.pos.angle_mdeg >= rest:
        return R_ANKLE_LOCK
    return OK


def watch(core):
    """One tick with the lock open (the core calls it only then): the emergency return if
    the person is, or is being taken, head-down (see the module doc). True if it started."""
    st = core.state
    if st != MOVING and st != JOGGING and st != HOLDING and st != RETURNING:
        return False
    cfg = core.cfg
    angle = core.pos.angle_mdeg
    going = core.plan.vel_sps > 0 and core.targets.target_mdeg > cfg.rest_angle_mdeg
    if angle > cfg.head_down_mdeg or going or core.runner.active:
        core.log.add(core.now_ms, E_ANKLE_LOCK, st, angle)
        reactions.emergency(core, ESTOP_ANKLE)
        return True
    return False
