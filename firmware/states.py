"""States, commands, refusal reasons, and the explicit transition and permission tables.

Owns the vocabulary of the state machine. firmware/control.py moves between states only
through `NEXT` (a state change not in the table is an internal error that faults), and
accepts a command only if `ALLOWED[state]` has its bit; otherwise the command is refused
with a reason and nothing changes.
"""

import names
from micropython import const

# --- states ---
BOOT = const(0)  # power-on self-test; nothing moves
RECOVERY = const(1)  # booted away from the loading position: wait for one deliberate command
HOMING = const(2)  # finding the loading switch to set the step reference
READY = const(3)  # at the loading position, driver off
MOVING = const(4)  # normal-speed move to a clamped target
JOGGING = const(5)  # hold-to-run UP/DOWN at reduced speed
HOLDING = const(6)  # standing still away from the loading position (hold timer runs head-down)
RETURNING = const(7)  # normal return: to rest angle, pause, then to the loading position
EMERGENCY_RETURN = const(8)  # latched: to the rest angle at emergency speed, hold there
FAULT = const(9)  # latched with a fault code; only the safe return may move

STATE_NAMES = (
    "BOOT",
    "RECOVERY",
    "HOMING",
    "READY",
    "MOVING",
    "JOGGING",
    "HOLDING",
    "RETURNING",
    "EMERGENCY_RETURN",
    "FAULT",
)

# --- sub-phases (Core.phase) of the states that have them, and their names ---
P_NONE = const(0)
P_TO_REST = const(1)  # RETURNING / EMERGENCY_RETURN / FAULT: moving to the rest angle
P_RESTING = const(2)  # RETURNING, MOVING (a goto head-up of it): the pause at horizontal
P_TO_LOADING = const(3)  # RETURNING: on to the loading position
P_LATCHED = const(4)  # EMERGENCY_RETURN / FAULT: standing still, latched
P_STOPPING = const(5)  # JOGGING: button released, decelerating
P_REREF = const(6)  # FAULT: steps untrusted - stop, re-reference on the IMU, then return
P_LIFT_CHECK = const(7)  # MOVING / JOGGING: can the drive lift this load? (liftcheck.py)
H_APPROACH = const(10)  # HOMING: toward the loading stop until the switch
H_BRAKE = const(11)  # HOMING: decelerate after the switch
H_RETRACT = const(12)  # HOMING: back off the switch
H_SLOW = const(13)  # HOMING: slow second approach; the reference is set on the switch
H_PARK = const(14)  # HOMING: to the loading position
H_SEEK = const(15)  # HOMING: not there yet: on slowly, head-up, up to homing_travel_mdeg
H_DWELL = const(16)  # HOMING: stopped on the switch: it must stay closed, the IMU agree

# The names of the sub-phases above, for status and logs (names.py text).
_PHASES = (
    "\n0 none"
    "\n1 to_rest"
    "\n2 resting"
    "\n3 to_loading"
    "\n4 latched"
    "\n5 stopping"
    "\n6 re_reference"
    "\n7 lift_check"
    "\n10 approach"
    "\n11 brake"
    "\n12 retract"
    "\n13 slow_approach"
    "\n14 park"
    "\n15 seek"
    "\n16 dwell"
    "\n"
)

# --- commands (from buttons, console, programs) ---
C_GOTO = const(1)  # a: target angle mdeg (clamped)
C_HOLD = const(2)  # a: hold time ms (capped)
C_STOP = const(3)  # decelerate and hold here
C_RETURN = const(4)  # normal return (rest at horizontal, then loading)
C_ESTOP = const(5)  # emergency return (the console's estop; the circuit is the other path)
C_ACK = const(6)  # acknowledge the emergency latch or a fault
C_START = const(7)  # start the selected program (a, b: custom angle mdeg, hold ms)
C_PROGRAM = const(8)  # a: select program id
C_JOG_UP = const(9)  # hold-to-run head-up
C_JOG_DOWN = const(10)  # hold-to-run head-down
C_JOG_RELEASE = const(11)  # hold-to-run button released
C_HOME = const(12)  # find the loading switch
C_CONSENT = const(13)  # contraindications acknowledged for this profile
C_DISCOMFORT = const(14)  # user reports discomfort: return at once
C_RECOVER = const(15)  # the deliberate command RECOVERY waits for
C_CALIBRATE = const(16)  # IMU calibration at a known angle (a: mdeg; b: 1 if given)
C_CHILD_LOCK = const(17)  # a: 1 lock the buttons' motion commands, 0 unlock (PIN: console)
C_PROFILE = const(18)  # a: select the profile (patient) at this index (PIN: console)
C_JOG_KEEP = const(19)  # the console jog's keep-alive (service mode; commands.py)
C_DRIVE_HOLD = const(20)  # a: 1 energise the driver in READY without motion, 0 off (bring-up)
C_LAST = const(20)  # the highest command number

COMMAND_NAMES = (
    "none",
    "goto",
    "hold",
    "stop",
    "return",
    "estop",
    "ack",
    "start",
    "program",
    "jog_up",
    "jog_down",
    "jog_release",
    "home",
    "consent",
    "discomfort",
    "recover",
    "calibrate",
    "child_lock",
    "profile",
    "jog_keep",
    "drive_hold",
)

# --- refusal reasons (0 = accepted) ---
OK = const(0)
R_STATE = const(1)  # not allowed in the current state
R_LATCHED = const(2)  # emergency latch set: acknowledge first
R_FAULT = const(3)  # a fault is latched
R_CONSENT = const(4)  # contraindications not acknowledged for this profile
R_ARG = const(5)  # argument out of range or malformed
R_UNTRUSTED = const(6)  # no trustworthy angle source
R_CAP = const(7)  # session head-down time used up
R_ESTOP_OPEN = const(8)  # e-stop circuit still open: release it first
R_IN_PROGRESS = const(9)  # emergency return still under way
R_CAUSE = const(10)  # the fault's cause is still present
R_LOCKED = const(11)  # buttons locked (child lock)
R_UNCALIBRATED = const(12)  # head-down refused: the IMU is not calibrated (commissioning.py)
R_ANKLE_LOCK = const(13)  # head-down refused: the ankle lock is not engaged (anklelock.py)

# What each refusal reason means (names.py text).
_REASONS = (
    "\n0 ok"
    "\n1 not allowed in this state"
    "\n2 emergency latch set: acknowledge first"
    "\n3 fault latched"
    "\n4 contraindications not acknowledged"
    "\n5 bad argument"
    "\n6 no trustworthy angle"
    "\n7 session head-down time used up"
    "\n8 e-stop circuit open: release it first"
    "\n9 emergency return still under way"
    "\n10 fault cause still present"
    "\n11 buttons locked"
    "\n12 the IMU is not calibrated: calibrate at the loading stop and at horizontal,"
    " README 'Calibrating the IMU'"
    "\n13 ankle lock not engaged: close it before going head-down"
    "\n"
)


def phase_name(phase):
    """A sub-phase's name, or its number as text."""
    n = names.text(_PHASES, phase)
    return n if n is not None else str(phase)


def reason_name(reason):
    """What a refusal reason means, or its number as text."""
    n = names.text(_REASONS, reason)
    return n if n is not None else str(reason)


def _bits(*items):
    m = 0
    for i in items:
        m |= 1 << i
    return m


# Allowed state changes: NEXT[from] is a bitmask of destination states.
# EMERGENCY_RETURN and FAULT are reachable from everywhere (they are the safe reactions).
_SAFE = _bits(EMERGENCY_RETURN, FAULT)
NEXT = (
    _bits(RECOVERY, READY) | _SAFE,  # BOOT: self-test decides
    _bits(RETURNING) | _SAFE,  # RECOVERY: one deliberate command, then a slow return
    _bits(READY) | _SAFE,  # HOMING
    _bits(HOMING, MOVING, JOGGING) | _SAFE,  # READY
    _bits(HOLDING, MOVING, RETURNING, JOGGING, READY) | _SAFE,  # MOVING
    _bits(HOLDING, RETURNING, JOGGING, READY) | _SAFE,  # JOGGING
    _bits(MOVING, JOGGING, RETURNING) | _SAFE,  # HOLDING
    _bits(HOLDING, HOMING, READY) | _SAFE,  # RETURNING
    _bits(HOLDING, READY, FAULT),  # EMERGENCY_RETURN: ack -> stand still, or the fault
    _bits(HOLDING, READY, RECOVERY, EMERGENCY_RETURN),  # FAULT: ack when the cause is gone
)

# Commands accepted in each state (the rest are refused with R_STATE / R_LATCHED / R_FAULT).
_ALWAYS = _bits(C_ESTOP, C_PROGRAM, C_CONSENT, C_CHILD_LOCK)
ALLOWED = (
    _ALWAYS,  # BOOT
    _ALWAYS | _bits(C_RECOVER, C_RETURN),  # RECOVERY
    _ALWAYS | _bits(C_STOP),  # HOMING: at the loading stop already; stop ends it
    _ALWAYS | _bits(C_GOTO, C_START, C_JOG_UP, C_JOG_DOWN, C_HOME, C_CALIBRATE,
                    C_PROFILE, C_DRIVE_HOLD),  # READY: the next person only at the loading stop
    _ALWAYS | _bits(C_GOTO, C_STOP, C_RETURN, C_DISCOMFORT, C_JOG_UP, C_JOG_DOWN, C_HOLD),
    _ALWAYS | _bits(C_JOG_RELEASE, C_STOP, C_RETURN, C_DISCOMFORT, C_JOG_UP, C_JOG_DOWN,
                    C_JOG_KEEP),
    _ALWAYS
    | _bits(C_GOTO, C_HOLD, C_STOP, C_RETURN, C_DISCOMFORT, C_JOG_UP, C_JOG_DOWN, C_START,
            C_CALIBRATE),  # HOLDING: calibrate only with the motion finished (commands.py)
    _ALWAYS | _bits(C_STOP, C_DISCOMFORT, C_RETURN),  # RETURNING
    _bits(C_ESTOP, C_ACK, C_CHILD_LOCK),  # EMERGENCY_RETURN: latched
    _bits(C_ESTOP, C_ACK, C_RETURN, C_CHILD_LOCK),  # FAULT: the safe return is the only motion
)

# Documented transitions (README table and tests): "from to what causes it", one per
# line. states.TRANSITIONS gives them as (from, to, why) tuples; the board never needs them.
_TRANSITIONS = """
BOOT READY self-test passed at the loading position
BOOT RECOVERY self-test passed away from the loading position
BOOT FAULT self-test failed
BOOT EMERGENCY_RETURN a console estop during the self-test, once it has passed
RECOVERY RETURNING one deliberate command (UP or START press, console return)
READY HOMING first motion command after boot, or home
HOMING READY switch found, step reference set, parked at loading
READY MOVING goto / start a program
READY JOGGING UP or DOWN held
MOVING HOLDING target reached, or stop
MOVING READY a goto to the loading position arrived
MOVING MOVING new target (re-planned smoothly); on from the rest at horizontal
MOVING RETURNING return, discomfort, session cap (time used + way back), lift check refused
MOVING JOGGING UP or DOWN held
JOGGING HOLDING button released, decelerated
JOGGING READY button released at the loading position
JOGGING JOGGING the other button pressed: re-planned the other way
JOGGING RETURNING return, discomfort, session cap, hold cap at the clamp, lift check refused
HOLDING MOVING goto, next program segment
HOLDING RETURNING hold time expired, program over, return, discomfort, session cap
HOLDING JOGGING UP or DOWN held
RETURNING HOLDING stop during the return
RETURNING HOMING arrived at loading without a step reference
RETURNING READY arrived at the loading position
EMERGENCY_RETURN HOLDING acknowledged at the rest angle, e-stop released: no motion
EMERGENCY_RETURN READY acknowledged at the loading position
EMERGENCY_RETURN FAULT acknowledged while a fault is still latched
FAULT HOLDING acknowledged, cause gone, away from loading: no motion
FAULT READY acknowledged, cause gone, at loading
FAULT RECOVERY boot-time fault acknowledged away from loading
FAULT EMERGENCY_RETURN e-stop
RECOVERY EMERGENCY_RETURN e-stop
HOMING EMERGENCY_RETURN e-stop
READY EMERGENCY_RETURN e-stop
MOVING EMERGENCY_RETURN e-stop, or the ankle lock opened head-down
JOGGING EMERGENCY_RETURN e-stop, or the ankle lock opened head-down
HOLDING EMERGENCY_RETURN e-stop, or the ankle lock opened head-down
RETURNING EMERGENCY_RETURN e-stop, or the ankle lock opened head-down
RECOVERY FAULT fault detected
HOMING FAULT fault detected
READY FAULT fault detected
MOVING FAULT fault detected
JOGGING FAULT fault detected
HOLDING FAULT fault detected
RETURNING FAULT fault detected
"""


def __getattr__(attr):
    if attr == "TRANSITIONS":
        out = []
        for line in _TRANSITIONS.strip().split("\n"):
            src, dst, why = line.split(" ", 2)
            out.append((STATE_NAMES.index(src), STATE_NAMES.index(dst), why))
        return tuple(out)
    raise AttributeError(attr)
