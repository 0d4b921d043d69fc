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
    puts host_tools/physics.py here): its angle feeds the IMU and opens the home and
    over-travel contacts where hardware/table_params.json puts them.

    Lazy, with what a per-millisecond world would show: the contacts are sampled at
    millisecond boundaries (a contact changes at the first boundary after the pulse that
    crosses its angle), but only at the boundaries where one can change - the forecast
    (next_event_us) is the first boundary at which the pulses, at the STEP channel's
    running period, could have reached the nearer switch. Between those, time passes
    without the world. The IMU gets the truth when the bus reads it (sync()): the angle
    of the pulses delivered by then and the rate of the pulses passing."""

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
        self._steps0 = self._kin.steps_from_mdeg(prm.frame.loading_angle_mdeg)
        # the switches' angles as step counts (the kinematics is monotonic): home reads
        # active at pulses <= _home_p, over-travel at pulses >= _over_p
        self._home_p = self._last_steps(prm.frame.home_switch_mdeg) - self._steps0
        self._over_p = self._last_steps(prm.frame.overtravel_mdeg - 1) + 1 - self._steps0
        self._ms = -1
        self._home = None
        self._over = None
        self.angle_mdeg = prm.frame.loading_angle_mdeg

    def _last_steps(self, mdeg):
        """The largest step count whose angle is <= mdeg."""
        lo, hi = -self._kin.steps_span - 1, self._kin.steps_span + 1
        while hi - lo > 1:
            mid = (lo + hi) // 2
            if self._kin.mdeg_from_steps(mid) <= mdeg:
                lo = mid
            else:
                hi = mid
        return lo

    def next_event_us(self, now_us):
        t = Events.next_event_us(self, now_us)
        if self._ms < 0:
            return now_us  # the first sample
        p = self._gate.pulses
        ch = self._chip.ledc.get(pins.STEP)
        per = ch.period_ns() if ch is not None else None
        if per is None or not self._gate.gate_open(now_us):
            return t  # no pulse passes until the next chip event changes that
        k = self._pulses_to_a_contact(p, self._chip.pin(pins.DIR).level() == pins.DIR_ACTIVE)
        if k is None:
            return t  # head-down held at the over-travel gate, or no switch that way
        # k pulses take at least (k - 1) periods; the contact is sampled at the boundary
        nxt = ((now_us * 1000 + (k - 1) * per) // 1000000 + 1) * 1000
        return nxt if nxt < t else t

    def _pulses_to_a_contact(self, p, head_down):
        """Pulses (>= 1) until a contact changes, moving from p that way; None: never."""
        if head_down:
            ks = (self._over_p - p, self._home_p + 1 - p)
        else:
            ks = (p - self._home_p, p - self._over_p + 1)
        k = None
        for n in ks:
            if n > 0 and (k is None or n < k):
                k = n
        return k

    def chip_advance(self, chip, t0_us, t1_us):
        Events.chip_advance(self, chip, t0_us, t1_us)
        ms = t1_us // 1000
        if ms == self._ms:
            return
        self._ms = ms
        p = self._gate.pulses
        home = p <= self._home_p
        over = p >= self._over_p
        if home != self._home:
            self._home = home
            chip.set_input(pins.HOME, pins.HOME_ACTIVE if home else 1 - pins.HOME_ACTIVE)
        if over != self._over:
            self._over = over
            chip.set_input(pins.OVERTRAVEL, pins.OVERTRAVEL_ACTIVE if over
                           else 1 - pins.OVERTRAVEL_ACTIVE)

    def sync(self, chip):
        """The truth now, for the IMU the bus is about to read: the angle, and the rate of
        the pulses passing the gate now (the gyro sees a rigid table turn; a still table,
        0). A stepper's table vibrates while it turns."""
        a = self._kin.mdeg_from_steps(self._steps0 + self._gate.pulses)
        self.angle_mdeg = a
        if self._imu is not None:
            rate = self._rate_mdeg_s(chip)
            self._imu.update(chip.now_us // 1000, float(a), rate, rate != 0.0)

    def _rate_mdeg_s(self, chip):
        ch = chip.ledc.get(pins.STEP)
        per = ch.period_ns() if ch is not None else None
        if per is None or not self._gate.gate_open(chip.now_us):
            return 0.0
        head_down = chip.pin(pins.DIR).level() == pins.DIR_ACTIVE
        if head_down and chip.pin(pins.OVERTRAVEL).level() == pins.OVERTRAVEL_ACTIVE:
            return 0.0
        sps = 1e9 / per
        return (sps if head_down else -sps) * self._kin.den / self._kin.num


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
