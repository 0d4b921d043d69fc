"""The tick's contract: what a board hands the core (Inputs) and what it gets back (Outputs).

Both are allocated once and filled in place every tick, so a tick allocates nothing.
A board (firmware/board_esp32.py on the ESP32, host_tools/simboard.py in the
simulator) fills Inputs from its hardware and applies Outputs to it.

Switch bits are *logical*: 1 means "active" (button pressed, e-stop circuit open,
limit switch actuated, ankle lock not engaged). The e-stop, the limit switches and the
ankle lock are normally closed, so an open circuit - including a cut wire - reads as
active; the buttons are normally open,
so a cut button wire can never command motion (hardware/pinout.csv).
"""

from micropython import const

# Bits of Inputs.switches
SW_UP = const(1)  # UP button (hold-to-run, head-up)
SW_DOWN = const(2)  # DOWN button (hold-to-run, head-down)
SW_START = const(4)  # START/MODE button
SW_ESTOP = const(8)  # emergency-return circuit open (pressed or wire cut)
SW_HOME = const(16)  # loading/home switch actuated (table at the loading stop)
SW_OVERTRAVEL = const(32)  # over-travel switch actuated (table past the soft max)
SW_ANKLE_LOCK = const(64)  # ankle lock not engaged (its NC contact open or wire cut)

SW_BUTTONS = const(7)  # UP | DOWN | START

# Indicator patterns (Outputs.led, Outputs.buzzer); the board turns them into blinks/beeps.
IND_OFF = const(0)
IND_STEADY = const(1)  # ready / holding
IND_SLOW = const(2)  # moving, 1 Hz
IND_FAST = const(3)  # returning / recovery waiting for a press, 4 Hz
IND_ALARM = const(4)  # emergency return or fault: continuous alternating


class Inputs:
    """Everything the core reads in one tick. Filled by the board, in place."""

    def __init__(self):
        self.switches = 0  # SW_* bits, logical (1 = active)
        self.estop_edges = 0  # running count of e-stop IRQ edges seen by the ISR
        self.step_count = 0  # pulses actually emitted (PCNT, signed by DIR), since boot
        self.imu_error = 0  # 0 = sample valid, else an errno (19 ENODEV, 110 ETIMEDOUT, ...)
        self.acc_x_mg = 0  # accelerometer, milli-g, sensor axes
        self.acc_y_mg = 0
        self.acc_z_mg = 1000
        self.gyro_x_mdps = 0  # gyro, milli-degrees per second, sensor axes
        self.gyro_y_mdps = 0
        self.gyro_z_mdps = 0
        # 1 if the previous loop pass overran its tick: filled by the application's
        # loop (App.step), which times the passes, not by the board
        self.overrun = 0
        self.stepgen_fault = 0  # non-zero: the step generator's own check failed (stepgen.py)


class Outputs:
    """Everything the core commands in one tick. Read by the board, in place."""

    def __init__(self):
        self.rate_sps = 0  # signed step rate for the coming tick (steps/s, + = head-down)
        # Dead-man window: the step generator must not go past these step counts before
        # the core refreshes them; they allow at most two ticks of motion ahead.
        self.limit_lo = 0
        self.limit_hi = 0
        self.enable = False  # stepper driver enabled (energised)
        self.led = IND_OFF
        self.buzzer = IND_OFF
        self.feed_ok = False  # the tick completed and its checks passed: feed the watchdog
        # Re-arm the e-stop IRQ (it counts at most one edge per arming): set for one tick
        # when the emergency latch was acknowledged or the table came to READY.
        self.estop_rearm = False


def safe_outputs(out, count):
    """Put the drive in its safe state: no pulses, the dead-man window closed at the
    emitted count, the driver de-energised (the self-locking worm holds the table;
    hardware/safety_wiring.md). The core's de-energised states and a crashed tick both
    end here; the indicators and the watchdog feed are the caller's."""
    out.rate_sps = 0
    out.limit_lo = count
    out.limit_hi = count
    out.enable = False
