"""Which command each table-button event gives in each state, as tables.

Owns the buttons' side of the state machine: one entry per state, BOOT..FAULT (0: the
event gives no command; refused commands are still given, so that the refusal is
logged). Jogging's own rule (letting go of the held button releases the jog) is in
Core._buttons; the chord (UP and DOWN held) is the consent in every state.
"""

from states import (
    C_ACK,
    C_JOG_DOWN,
    C_JOG_RELEASE,
    C_JOG_UP,
    C_PROGRAM,
    C_RECOVER,
    C_RETURN,
    C_START,
    C_STOP,
)

# UP pressed, DOWN not held: jog head-up; RECOVERY's deliberate command; nothing at the
# loading stop (READY), where there is nowhere further up to go.
#                BOOT      RECOVERY   HOMING    READY MOVING    JOGGING HOLDING
#                RETURNING EMERGENCY_RETURN FAULT
UP_PRESS = bytes((C_JOG_UP, C_RECOVER, C_JOG_UP, 0, C_JOG_UP, 0, C_JOG_UP,
                  C_JOG_UP, C_JOG_UP, C_JOG_UP))
# DOWN pressed, UP not held: jog head-down (RECOVERY waits for UP or START).
DOWN_PRESS = bytes((C_JOG_DOWN, 0, C_JOG_DOWN, C_JOG_DOWN, C_JOG_DOWN, 0, C_JOG_DOWN,
                    C_JOG_DOWN, C_JOG_DOWN, C_JOG_DOWN))
# START released before the long-press time.
START_SHORT = bytes((0, C_RECOVER, C_STOP, C_START, C_RETURN, C_RETURN, C_RETURN,
                     0, 0, C_RETURN))
# START held for the long-press time: acknowledge a latch; in READY the next program.
START_LONG = bytes((0, 0, 0, C_PROGRAM, 0, 0, 0, 0, C_ACK, C_ACK))

# Commands the child lock never refuses: the way back (recover, return, stop,
# acknowledge, let go of a jog).
NEVER_LOCKED = ((1 << C_RECOVER) | (1 << C_RETURN) | (1 << C_STOP) | (1 << C_ACK)
                | (1 << C_JOG_RELEASE))
