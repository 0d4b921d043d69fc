"""Event codes for the event log, and how a session ended.

Events are (t_ms, code, a, b) integer records in firmware/eventlog.py; the meaning of
a and b is given per code below. Codes are stable: the fault history persists them. An
event's name is its constant's name without E_, in lower case (names.py).
"""

import names
from micropython import const

E_BOOT = const(1)  # a: reset cause (machine.*_RESET numbering)
E_STATE = const(2)  # a: from state, b: to state
E_FAULT = const(3)  # a: fault code, b: state it was raised in
E_COMMAND = const(4)  # a: command, b: result (0 = accepted, else refusal reason)
E_ESTOP = const(5)  # a: 1 = circuit open, 2 = IRQ edge, 3 = console estop, 4 = ankle lock
E_ACK = const(6)  # a: state acknowledged
E_SESSION_START = const(7)  # a: program id (-1 = manual: goto, jog, recovery)
E_SESSION_END = const(8)  # a: outcome (profiles.COMPLETED...FAULT), b: deepest mdeg
E_CLAMPED = const(9)  # a: requested target mdeg, b: clamped target mdeg
E_CAP = const(10)  # a: 1 = hold time cap, 2 = session head-down cap
E_CONSENT = const(11)  # contraindications acknowledged
E_HOMED = const(12)  # a: step count at the switch, b: the calibrated IMU off it (0: agreed)
E_STUCK_BUTTON = const(13)  # a: button bits
E_CALIBRATED = const(14)  # a: new IMU zero offset mdeg
E_RECOVERY = const(15)  # a: angle at boot, mdeg
E_DISCOMFORT = const(16)
E_SEGMENT = const(17)  # a: program segment index, b: target mdeg
E_OVERRUN = const(18)  # a: consecutive overruns
E_GAVE_UP = const(19)  # the return cannot lift the load: a: fault code, b: IMU angle mdeg
E_LIFT_CHECK = const(20)  # liftcheck.py: a: 1 passed, 0 refused; b: the rise, mdeg
# anklelock.py: the ankle lock opened head-down (or on the way there, or in a program):
# a: the state it opened in, b: the angle mdeg; the emergency return follows (E_ESTOP 4)
E_ANKLE_LOCK = const(21)
# homing took a repeating edge the calibrated IMU put a: mdeg off (beyond its tolerance):
# one of the two moved since the commissioning, so the IMU calibration mark is cleared
# (homing.py): no head-down until `calibrate` again
E_IMU_UNCALIBRATED = const(22)
# reactions.py: a fault's or the e-stop's return arrived at rest by its steps while the IMU
# puts the table 0.5-1 deg head-down of it (inside the two readings' error: it cannot tell
# a stuck table from its own error); one further try at the slowest speed follows.
# a: fault code, b: how far head-down of rest by the IMU, mdeg
E_SHORT_END = const(23)
# reactions.py: a fault's or the e-stop's return latched with nothing to confirm the table
# is at horizontal: it moved head-up on its steps alone (the IMU lost: steps lost under
# load cannot be seen), no angle source is trusted at all, or it stopped head-down after
# its tries. The alarm stays on and the console asks for the angle to be checked (the
# crank if not horizontal). a: fault code, b: the best angle known, mdeg (unconfirmed)
E_UNCONFIRMED = const(24)



def name(code):
    """The event's name: its E_ constant's name, lower case (E_SESSION_END -> "session_end");
    None for an unknown code."""
    return names.constant(globals(), code, "E_")


def __getattr__(attr):
    # EVENT_NAMES ({code: name}) for the host tools; the board looks up one at a time.
    if attr == "EVENT_NAMES":
        return names.constants(globals(), "E_")
    raise AttributeError(attr)
