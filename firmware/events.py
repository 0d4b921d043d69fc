"""Event codes for the event log, and how a session ended.

Events are (t_ms, code, a, b) integer records in firmware/eventlog.py; the meaning of
a and b is given per code below. Codes are stable: the fault history persists them.
"""

from micropython import const

E_BOOT = const(1)  # a: reset cause (machine.*_RESET numbering)
E_STATE = const(2)  # a: from state, b: to state
E_FAULT = const(3)  # a: fault code, b: state it was raised in
E_COMMAND = const(4)  # a: command, b: result (0 = accepted, else refusal reason)
E_ESTOP = const(5)  # a: 1 = circuit open, 2 = IRQ edge, 3 = console estop
E_ACK = const(6)  # a: state acknowledged
E_SESSION_START = const(7)  # a: program id (-1 = manual: goto, jog, recovery)
E_SESSION_END = const(8)  # a: outcome (profiles.COMPLETED...FAULT), b: deepest mdeg
E_CLAMPED = const(9)  # a: requested target mdeg, b: clamped target mdeg
E_CAP = const(10)  # a: 1 = hold time cap, 2 = session head-down cap
E_CONSENT = const(11)  # contraindications acknowledged
E_HOMED = const(12)  # a: step count at the switch
E_STUCK_BUTTON = const(13)  # a: button bits
E_CALIBRATED = const(14)  # a: new IMU zero offset mdeg
E_RECOVERY = const(15)  # a: angle at boot, mdeg
E_DISCOMFORT = const(16)
E_SEGMENT = const(17)  # a: program segment index, b: target mdeg
E_OVERRUN = const(18)  # a: consecutive overruns

EVENT_NAMES = {
    E_BOOT: "boot",
    E_STATE: "state",
    E_FAULT: "fault",
    E_COMMAND: "command",
    E_ESTOP: "estop",
    E_ACK: "ack",
    E_SESSION_START: "session_start",
    E_SESSION_END: "session_end",
    E_CLAMPED: "clamped",
    E_CAP: "cap",
    E_CONSENT: "consent",
    E_HOMED: "homed",
    E_STUCK_BUTTON: "stuck_button",
    E_CALIBRATED: "calibrated",
    E_RECOVERY: "recovery",
    E_DISCOMFORT: "discomfort",
    E_SEGMENT: "segment",
    E_OVERRUN: "overrun",
}
