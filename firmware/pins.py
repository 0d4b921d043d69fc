"""The board's pin map: which ESP32 GPIO does what, and which level means "active".

Owns: the GPIO number of every signal and its active level. hardware/pinout.csv is
the same table with the wiring notes; tests/host/test_pinout.py keeps the two equal.
Only the board layer (the code that imports machine) uses these numbers.

Levels: *_ACTIVE is the pin level (0 or 1) at which the signal is asserted.
Switches: E-stop, home and over-travel are normally-closed contacts to GND with
pull-ups, so "active" (open: pressed, actuated or wire cut) reads 1. The buttons are
normally-open contacts to GND, so pressed reads 0 and a cut wire reads "not pressed".
"""

from micropython import const

# --- stepper driver (through the over-travel gate U3, see hardware/safety_wiring.md) ---
STEP = const(25)
STEP_ACTIVE = const(1)  # a step is a high pulse; idles low (pull-down)
DIR = const(26)
DIR_ACTIVE = const(1)  # DIR high = head-down; pulled low (head-up) during reset
ENABLE = const(27)
ENABLE_ACTIVE = const(0)  # driver energised only while driven low; pull-up = disabled

# --- PCNT feedback: counts the pulses the gate delivered (the sign is the DIR set) ---
STEP_SENSE = const(18)
STEP_SENSE_ACTIVE = const(0)  # the gated pulse is low here: either edge counts it once

# --- IMU on I2C0 ---
SDA = const(21)
SCL = const(22)

# --- buttons (normally open, to GND) ---
UP = const(4)
UP_ACTIVE = const(0)
DOWN = const(13)
DOWN_ACTIVE = const(0)
START = const(23)
START_ACTIVE = const(0)

# --- safety switches (normally closed, to GND; input-only pins, external pull-ups) ---
ESTOP = const(34)
ESTOP_ACTIVE = const(1)  # open circuit = emergency (pressed or wire cut)
OVERTRAVEL = const(35)
OVERTRAVEL_ACTIVE = const(1)  # open = past the over-travel switch (or wire cut)
HOME = const(36)
HOME_ACTIVE = const(1)  # open = at the loading stop (or wire cut); poll only, no IRQ
ANKLE_LOCK = const(39)
ANKLE_LOCK_ACTIVE = const(1)  # open = ankle lock not engaged (or wire cut); poll only, no IRQ

# --- hardware heartbeat: toggled every tick; the step gate passes pulses only while it toggles ---
HEARTBEAT = const(19)
HEARTBEAT_ACTIVE = const(1)

# --- indicators ---
LED = const(32)
LED_ACTIVE = const(1)
BUZZER = const(33)
BUZZER_ACTIVE = const(1)
