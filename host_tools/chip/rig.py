"""A bench rig: one chip, the board's step gate, an IMU on the bus, the switches at rest,
and the real firmware loaded on top. The shared set-up of the chip tests.

Owns the world a test stands in for (until phase 2 drives the chip from
host_tools/physics.py): switch contacts (normally-closed safety switches closed,
buttons released), a still IMU, and events at given times (`at`).
"""

import random

import pins

from host_tools import imu_model, params
from host_tools.chip.board import FirmwareOnChip, StepGate
from host_tools.chip.core import _NEVER, Chip, ChipReset
from host_tools.chip.i2cbus import Mpu6500

_BUTTONS = {"UP": pins.UP, "DOWN": pins.DOWN, "START": pins.START}


class Events:
    """The world as a list of (t_us, fn(chip)) run when the chip's clock reaches t_us."""

    def __init__(self):
        self._due = []

    def at(self, t_us, fn):
        self._due.append((t_us, fn))
        self._due.sort(key=lambda e: e[0])

    def next_event_us(self, now_us):
        return self._due[0][0] if self._due else _NEVER

    def chip_advance(self, chip, t0_us, t1_us):
        while self._due and self._due[0][0] <= t1_us:
            self._due.pop(0)[1](chip)


class StopRun(Exception):
    """Raised by the world to end a run of firmware that never returns (main.py)."""


class Rig:
    def __init__(self, cause=1, imu="mpu6050", hold_us=None):
        self.chip = Chip(cause)
        self.gate = StepGate(self.chip) if hold_us is None else StepGate(self.chip, hold_us)
        self.events = Events()
        self.chip.world = self.events
        self.params = params.load()
        self.imu = None
        if imu == "mpu6050":
            self.imu = imu_model.Mpu6050Model(self.params, random.Random(1))
        elif imu == "mpu6500":
            self.imu = Mpu6500(self.params, random.Random(1))
        if self.imu is not None:
            self.chip.bus.attach(self.imu)
        for gpio, active in ((pins.ESTOP, pins.ESTOP_ACTIVE), (pins.OVERTRAVEL,
                             pins.OVERTRAVEL_ACTIVE), (pins.HOME, pins.HOME_ACTIVE)):
            self.chip.set_input(gpio, 1 - active)  # closed contacts
        self.fw = FirmwareOnChip(self.chip)

    def close(self):
        self.fw.close()

    def board(self):
        return self.fw.board()

    # ------------------------------------------------------------ the world's actions
    # Between ticks the firmware sleeps in wait_until(): a callback an action schedules
    # runs at once (mp_hal_delay_ms wakes on the ISR and handles the pending queue).
    # Actions at a given time inside a C call or a stall: events.at().

    def estop(self, pressed):
        self.chip.set_input(pins.ESTOP, pins.ESTOP_ACTIVE if pressed else 1 - pins.ESTOP_ACTIVE)
        self.chip.pending()

    def overtravel(self, open_):
        self.chip.set_input(pins.OVERTRAVEL,
                            pins.OVERTRAVEL_ACTIVE if open_ else 1 - pins.OVERTRAVEL_ACTIVE)

    def press(self, name, down=True):
        gpio = _BUTTONS[name]
        active = getattr(pins, name + "_ACTIVE")
        self.chip.set_input(gpio, active if down else None)

    def stop_at(self, t_us):
        def stop(chip):
            raise StopRun(t_us)

        self.events.at(t_us, stop)


__all__ = ("Rig", "Events", "StopRun", "ChipReset")
