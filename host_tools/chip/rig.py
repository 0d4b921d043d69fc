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
from host_tools.chip.imu import Mpu6500

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


class RigidTable(Events):
    """A table that follows the drive's pulses exactly (no load, lash or slip: phase 2
    puts host_tools/physics.py here): its angle feeds the IMU every millisecond and
    opens the home and over-travel contacts where hardware/table_params.json puts them."""

    def __init__(self, chip, gate, imu, prm):
        Events.__init__(self)
        from config import Config, load_hardware
        from kinematics import make_kinematics

        cfg = Config()
        load_hardware(cfg, "table_params.json")
        self._kin = make_kinematics(cfg)
        self._chip = chip
        self._gate = gate
        self._imu = imu
        self._home_mdeg = prm.frame.home_switch_mdeg
        self._over_mdeg = prm.frame.overtravel_mdeg
        self._steps0 = self._kin.steps_from_mdeg(prm.frame.loading_angle_mdeg)
        self._ms = -1
        self.angle_mdeg = prm.frame.loading_angle_mdeg

    def next_event_us(self, now_us):
        t = Events.next_event_us(self, now_us)
        nxt = (now_us // 1000 + 1) * 1000  # every millisecond
        return nxt if nxt < t else t

    def chip_advance(self, chip, t0_us, t1_us):
        Events.chip_advance(self, chip, t0_us, t1_us)
        ms = t1_us // 1000
        if ms == self._ms:
            return
        self._ms = ms
        a = self._kin.mdeg_from_steps(self._steps0 + self._gate.pulses)
        self.angle_mdeg = a
        if self._imu is not None:
            self._imu.update(ms, float(a), 0.0, False)
        chip.set_input(pins.HOME, pins.HOME_ACTIVE if a <= self._home_mdeg
                       else 1 - pins.HOME_ACTIVE)
        chip.set_input(pins.OVERTRAVEL, pins.OVERTRAVEL_ACTIVE if a >= self._over_mdeg
                       else 1 - pins.OVERTRAVEL_ACTIVE)


class StopRun(Exception):
    """Raised by the world to end a run of firmware that never returns (main.py)."""


class Rig:
    def __init__(self, cause=1, imu="mpu6050", hold_us=None, table=False):
        self.chip = Chip(cause)
        self.gate = StepGate(self.chip) if hold_us is None else StepGate(self.chip, hold_us)
        self.params = params.load()
        self.imu = None
        if imu == "mpu6050":
            self.imu = imu_model.Mpu6050Model(self.params, random.Random(1))
        elif imu == "mpu6500":
            self.imu = Mpu6500(self.params, random.Random(1))
        if self.imu is not None:
            self.chip.bus.attach(self.imu)
        if table:
            self.events = RigidTable(self.chip, self.gate, self.imu, self.params)
        else:
            self.events = Events()
        self.chip.world = self.events
        for gpio, active in ((pins.ESTOP, pins.ESTOP_ACTIVE), (pins.OVERTRAVEL,
                             pins.OVERTRAVEL_ACTIVE), (pins.HOME, pins.HOME_ACTIVE),
                             (pins.ANKLE_LOCK, pins.ANKLE_LOCK_ACTIVE)):
            self.chip.set_input(gpio, 1 - active)  # closed contacts (the ankle lock engaged)
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

    def ankle_lock(self, open_):
        """The ankle lock's normally-closed contact: open (not engaged, or its wire cut)
        reads ANKLE_LOCK_ACTIVE through the board's 2k2 pull-up (GPIO39 is input-only)."""
        self.chip.set_input(pins.ANKLE_LOCK,
                            pins.ANKLE_LOCK_ACTIVE if open_ else 1 - pins.ANKLE_LOCK_ACTIVE)

    def press(self, name, down=True):
        gpio = _BUTTONS[name]
        active = getattr(pins, name + "_ACTIVE")
        self.chip.set_input(gpio, active if down else None)

    def stop_at(self, t_us):
        def stop(chip):
            raise StopRun(t_us)

        self.events.at(t_us, stop)


__all__ = ("Rig", "Events", "StopRun", "ChipReset")
