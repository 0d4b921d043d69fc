"""`machine` at the virtual device's REPL: the unix port's module plus reset().

MicroPython code. host_tools/mpy_board/vdev_main.py puts this module in
sys.modules["machine"] when the firmware leaves its loop for the REPL, so that what
works on an ESP32's REPL works here: `machine.reset()` (mpremote's `reset`, deploy's
final reset) restarts the virtual device's firmware, `machine.reset_cause()` reports
the cause of the current boot.
"""

import board_vdev
from machine import *  # noqa: F403  (the unix port's machine module)

PWRON_RESET = 1
HARD_RESET = 2
WDT_RESET = 3
DEEPSLEEP_RESET = 4
SOFT_RESET = 5


def reset():
    board_vdev.current.reset()


def reset_cause():
    return board_vdev.current.reset_cause()
