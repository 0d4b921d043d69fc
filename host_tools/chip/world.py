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


# While head-down pulses pass this close to the over-travel contact, the world is stepped
# at every ms boundary: the contact gates those pulses (U3), so it must change in the ms
# it is crossed. Elsewhere a span between chip events (at most the dead-man timer's 5 ms)
# moves the table well under a degree (30000 sps at most).
_OVER_MARGIN_MDEG = 5000


class _GateFeed:
    """What TablePhysics reads of its drive (physics.StepGenerator's fields), from the
    chip: energised from the ENABLE pin; tick() gives the pulses the gate delivered in
    the ms being stepped, binned by their start time (LEDC's period boundaries, as the
    gate reports each train: StepGate.listener)."""

    def __init__(self, chip, gate):
        self._chip = chip
        self._gate = gate
        self._bins = {}  # ms index (start ms) -> signed pulses that started in it
        self.next_ms = 0  # the ms the next tick() steps
        self.limit_lo = self.limit_hi = 0
        self.block_head_down = False  # the chip's gate applies the over-travel itself
        self._acc = 0
        gate.listener = self._train

    def _train(self, first_ns, period_ns, n):
        """n pulses (signed) starting at first_ns + i * period_ns: binned by ms."""
        sign = 1 if n > 0 else -1
        k = n * sign
        i = 0
        bins = self._bins
        while i < k:
            m = (first_ns + i * period_ns) // 1000000
            end_ns = (m + 1) * 1000000
            j = -((first_ns - end_ns) // period_ns)  # pulses starting before end_ns
            if j > k:
                j = k
            bins[m] = bins.get(m, 0) + sign * (j - i)
            i = j

    @property
    def enabled(self):
        return self._chip.pin(pins.ENABLE).level() == pins.ENABLE_ACTIVE

    @property
    def rate_sps(self):
        """Non-zero while pulses may come in the ms stepped (physics only asks whether)."""
        return 1 if self._bins or self.pulsing() else 0

    @property
    def count(self):
        return self._gate.pulses

    def pulsing(self):
        ch = self._chip.ledc.get(pins.STEP)
        return ch is not None and ch.period_ns() is not None and \
            self._gate.gate_open(self._chip.now_us)

    def forget_before(self, m):
        """Pulses of milliseconds stepped without a tick (a de-energised driver: physics
        ignores them, as physics.StepGenerator gives none) are gone."""
        bins = self._bins
        if bins:
            for k in [k for k in bins if k < m]:
                del bins[k]

    def tick(self):
        m = self.next_ms
        self.next_ms = m + 1
        return self._bins.pop(m, 0) if self._bins else 0


class PhysicsTable(Events):
    """The world; every_ms=True steps it at every ms boundary (the reference the lazy
    stepping must equal: tests/host/test_chip_world.py)."""

    def __init__(self, chip, gate, prm, rng=None, angle_mdeg=None, bias_scale=0.1,
                 every_ms=False):
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
        self.every_ms = every_ms
        self._chip = chip
        self._ms = 0
        self._bits = None
        self.switches.settle(self.physics.true_angle_mdeg)
        self._pins(chip)
        self._stepped()

    def _angle(self):
        return self.physics.theta * physics.RAD_TO_MDEG

    def _busy(self):
        """The world must be stepped at each ms boundary: a contact bounces (each ms
        draws from the rng and may flip a level the firmware reads), or head-down pulses
        pass near the over-travel contact that gates them. (_settled and _near_over only
        change where the world is stepped: kept from the last step.)"""
        if self.every_ms or not self._settled:
            return True
        chip = self._chip
        return (self._near_over and chip.pin(pins.DIR).level() == pins.DIR_ACTIVE
                and self.feed.pulsing())

    def _stepped(self):
        a = self._angle()
        sw = self.switches
        self._settled = sw.settled_for(a)
        self._near_over = a >= sw.overtravel_mdeg - _OVER_MARGIN_MDEG

    def next_event_us(self, now_us):
        t = Events.next_event_us(self, now_us)
        if self._busy():
            nxt = (now_us // 1000 + 1) * 1000
            return nxt if nxt < t else t
        return t

    def chip_advance(self, chip, t0_us, t1_us):
        """The world up to the last ms boundary at or before t1_us. The milliseconds the
        chip stepped over saw no observer (no firmware ran, no contact gates a pulse
        there: _busy), so they are stepped now, in order, with the pulses of each."""
        if self._due:
            Events.chip_advance(self, chip, t0_us, t1_us)
        ms = t1_us // 1000
        d = ms - self._ms
        if d <= 0:
            return
        self._ms = ms
        ph = self.physics
        sw = self.switches
        feed = self.feed
        tried = False
        while d > 0:
            feed.next_ms = ms - d  # physics ticks the feed only while pulses may come
            if not sw.settled_for(self._angle()):
                ph.step()  # a contact bounces: every ms samples it
                n = 1
            elif not feed.rate_sps:
                if ph.at_rest():
                    ph.coast(d)
                    break
                if not tried and ph.might_rest():
                    tried = True
                    ph.step_settled()
                    n = 1
                else:
                    n = ph.advance(d, sw.home_switch_mdeg, sw.overtravel_mdeg, not tried)[0]
                    if n == 0:  # a still table: try for rest
                        tried = True
                        ph.step_settled()
                        n = 1
            else:
                n = ph.advance(d, sw.home_switch_mdeg, sw.overtravel_mdeg, False)[0]
            sw.tick(self._angle())
            d -= n
        feed.forget_before(ms)
        self._pins(chip)
        self._stepped()

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

