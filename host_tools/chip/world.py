"""The simulator's world under the chip model (issue #19 phase 2, a prototype): the
table's physics (host_tools/physics.py), the switches (host_tools/switches_model.py) and
the IMU (host_tools/imu_model.py) driven by the pulses the chip's step gate delivers.

Owns the glue between a Chip and the physical model, as SimBoard (host_tools/simboard.py)
glues that model to the board twin. What differs: the drive's pulses are the chip's
(LEDC through the step gate, board.StepGate.pulses), not physics.StepGenerator's
accumulator; the firmware sees the contacts through GPIO levels.

Lazy like SimBoard's fast path: the world is stepped millisecond by millisecond (at
each ms boundary, with the pulses delivered in that ms) only while it can change - pulses
pass the gate, the table is not at rest (TablePhysics.at_rest), or a contact bounces
(Switches.settled_for); otherwise time passes without it and the physics coasts over the
skipped milliseconds when it is next needed. The IMU gets the truth at each bus read.
Not yet: the wires, e-stop, buttons, power and IMU faults SimBoard's actions drive.
"""

import random

import pins
from signals import SW_ESTOP, SW_HOME, SW_OVERTRAVEL

from host_tools import imu_model, physics, switches_model
from host_tools.chip.rig import Events

_INPUTS = ((SW_HOME, pins.HOME, pins.HOME_ACTIVE),
           (SW_OVERTRAVEL, pins.OVERTRAVEL, pins.OVERTRAVEL_ACTIVE),
           (SW_ESTOP, pins.ESTOP, pins.ESTOP_ACTIVE))


class _GateFeed:
    """What TablePhysics reads of its drive (physics.StepGenerator's fields), from the
    chip: energised from the ENABLE pin, the pulses the gate delivered since the last ms."""

    def __init__(self, chip, gate):
        self._chip = chip
        self._gate = gate
        self._taken = 0
        self.limit_lo = self.limit_hi = 0
        self.block_head_down = False  # the chip's gate applies the over-travel itself
        self._acc = 0

    @property
    def enabled(self):
        return self._chip.pin(pins.ENABLE).level() == pins.ENABLE_ACTIVE

    @property
    def rate_sps(self):
        """Non-zero while pulses may come this ms (physics only asks whether)."""
        return 1 if self.pulsing() or self._gate.pulses != self._taken else 0

    @property
    def count(self):
        return self._gate.pulses

    def pulsing(self):
        ch = self._chip.ledc.get(pins.STEP)
        return ch is not None and ch.period_ns() is not None and \
            self._gate.gate_open(self._chip.now_us)

    def tick(self):
        n = self._gate.pulses - self._taken
        self._taken = self._gate.pulses
        return n


class PhysicsTable(Events):
    def __init__(self, chip, gate, prm, rng=None, angle_mdeg=None, bias_scale=0.1):
        Events.__init__(self)
        rng = rng if rng is not None else random.Random(0)
        if angle_mdeg is None:
            angle_mdeg = prm.frame.loading_angle_mdeg
        self.physics = physics.TablePhysics(prm, None, None, None, angle_mdeg)
        self.feed = self.physics.stepgen = _GateFeed(chip, gate)
        self.switches = switches_model.Switches(prm, random.Random(rng.getrandbits(64)),
                                                switches_model.DEFAULT_BOUNCE_MAX_MS)
        self.imu = imu_model.Mpu6050Model(prm, random.Random(rng.getrandbits(64)),
                                          bias_scale, 0.0)
        chip.bus.attach(self.imu)
        self._chip = chip
        self._ms = 0
        self._bits = None
        self.switches.settle(self.physics.true_angle_mdeg)
        self._pins(chip)

    def _angle(self):
        return self.physics.theta * physics.RAD_TO_MDEG

    def _busy(self):
        """The world must be stepped at each ms boundary: pulses pass the gate (they are
        handed to the physics in the ms they came in), or a contact bounces (each ms
        draws from the rng and may flip a level the firmware reads)."""
        return (self.feed.pulsing() or self.feed.rate_sps
                or not self.switches.settled_for(self._angle()))

    def next_event_us(self, now_us):
        t = Events.next_event_us(self, now_us)
        if self._busy():
            nxt = (now_us // 1000 + 1) * 1000
            return nxt if nxt < t else t
        return t

    def chip_advance(self, chip, t0_us, t1_us):
        Events.chip_advance(self, chip, t0_us, t1_us)
        ms = t1_us // 1000
        d = ms - self._ms
        if d <= 0:
            return
        self._ms = ms
        ph = self.physics
        sw = self.switches
        tried = False
        while d > 0:
            # No pulse came in the milliseconds the chip stepped over (_busy), so the
            # table moves by itself there (a drive coming to rest, a settling load) and no
            # one looks: stepped at once, up to a contact change (advance() stops after
            # the ms that crosses), as SimBoard's fast path does.
            if not self.feed.rate_sps and sw.settled_for(self._angle()):
                if ph.at_rest():
                    ph.coast(d)
                    break
                if not tried and ph.might_rest():
                    tried = True
                    ph.step_settled()
                    n = 1
                else:
                    n, _crossed = ph.advance(d, sw.home_switch_mdeg, sw.overtravel_mdeg,
                                             not tried)
                    if n == 0:  # still: try for rest
                        tried = True
                        ph.step_settled()
                        n = 1
            else:
                ph.step()
                n = 1
            sw.tick(self._angle())
            d -= n
        self._pins(chip)

    def _pins(self, chip):
        bits = self.switches.bits
        if bits == self._bits:
            return
        self._bits = bits
        for bit, gpio, active in _INPUTS:
            chip.set_input(gpio, active if bits & bit else 1 - active)

    def sync(self, chip):
        ph = self.physics
        self.imu.update(chip.now_us // 1000, ph.theta * physics.RAD_TO_MDEG,
                        ph.omega * physics.RAD_TO_MDEG, ph.motor_turning)

    @property
    def true_angle_mdeg(self):
        return self.physics.true_angle_mdeg

