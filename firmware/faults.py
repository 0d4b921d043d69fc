"""Fault codes: one table, shared by the core, the console, the log and the tests.

A fault is latched in the FAULT state with one of these codes. Codes are stable
numbers (they are persisted in the fault history), grouped by subsystem. A fault's
name is its constant's name in lower case (names.py).
"""

import names
from micropython import const

NONE = const(0)
# boot self-test
SELFTEST_ESTOP = const(1)  # e-stop circuit open at power-up
SELFTEST_IMU = const(2)  # IMU absent or not reading about 1 g
SELFTEST_SWITCHES = const(3)  # switches disagree with the measured angle
CONFIG = const(4)  # stored configuration invalid (fell back to safe defaults)
# angle measurement
IMU_BUS = const(10)  # consecutive I2C errors (ENODEV, ETIMEDOUT)
IMU_GRAVITY = const(11)  # |acceleration| outside the gravity window
IMU_RATE = const(12)  # angle changing faster than the drive can turn the table
IMU_FROZEN = const(13)  # identical raw readings: sensor stuck
# motion
RUNAWAY = const(20)  # angle from steps and measured angle disagree over a window
OVERTRAVEL = const(21)  # over-travel switch actuated
HOMING = const(22)  # home switch not found within the travel, stuck, or never steady (homing.WHY_*)
STEPGEN = const(23)  # emitted step count far from the plan (generator glitch)
HOME_SWITCH = const(24)  # home switch reads "at the loading stop" where steps and IMU say not
OVERTRAVEL_SWITCH = const(25)  # over-travel switch contradicts both steps and IMU
# loop and inputs
OVERRUN = const(30)  # run of main-loop overruns
STUCK_BUTTON = const(31)  # a button held longer than any real use
# storage
STORAGE = const(40)  # a stored file missing, truncated or corrupt
# firmware
INTERNAL = const(50)  # a state change the transition table forbids, or a crashed tick
MANIFEST = const(51)  # deployed files differ from deploy's manifest (firmware/manifest.py)


def name(code):
    """The fault's name: its constant's name in lower case (IMU_BUS -> "imu_bus")."""
    n = names.constant(globals(), code)
    return n if n is not None else "fault_%d" % code


def __getattr__(attr):
    # faults.NAMES ({code: name}) for the host tools; the board looks up one at a time.
    if attr == "NAMES":
        return names.constants(globals())
    raise AttributeError(attr)
