"""The child lock's rule for commands from any source: what may still be asked for.

While the child lock is on, nothing may start motion - from the buttons, the console or
anything else - except toward safety: stop, the normal return, the emergency return,
discomfort, the recovery return, acknowledging a latch, letting go of a jog, and the
lock itself (turning it off needs the therapist PIN; the console checks that first).
Everything else is refused with states.R_LOCKED, whatever the state.

Core.command (firmware/control.py) applies it to every source: buttons, console,
programs. Pure logic: no state, no allocation.
"""

from states import (
    C_ACK,
    C_CHILD_LOCK,
    C_DISCOMFORT,
    C_ESTOP,
    C_JOG_RELEASE,
    C_RECOVER,
    C_RETURN,
    C_STOP,
)

ALLOWED_WHILE_LOCKED = ((1 << C_STOP) | (1 << C_RETURN) | (1 << C_ESTOP)
                        | (1 << C_DISCOMFORT) | (1 << C_RECOVER) | (1 << C_ACK)
                        | (1 << C_JOG_RELEASE) | (1 << C_CHILD_LOCK))


def allowed(cmd):
    """True if cmd (states.C_*) may run while the child lock is on."""
    return type(cmd) is int and 0 < cmd < 31 and bool(ALLOWED_WHILE_LOCKED & (1 << cmd))
