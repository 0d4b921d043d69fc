"""ESP32 step generator (board layer): STEP pulses from LEDC PWM, the truth from PCNT.

Owns: the STEP/DIR/ENABLE outputs of one stepper driver, the hardware count of the
pulses actually emitted, the driver's timing (table below), and the generator's own
dead-man. The core (motion.MotionPlan) says which rate to run at and which step counts
not to pass; this module makes the pulses and reports the count.

Why PWM and not RMT: esp32.RMT.write_pulses() waits for a running transmission to
finish (queue depth 1), so feeding it tick by tick either blocks the loop - and with
it the e-stop callback, which is only a scheduled (soft) callback on the ESP32 - or
leaves gaps between trains; a finite loop_count() is not supported on the original
ESP32, and stopping trains longer than 300 ms could panic older IDF builds. LEDC PWM
is a continuous train with no per-tick gaps that is retuned without blocking. Its
frequency changes are not glitch-free and its rate is quantised, so nothing trusts
the requested rate: the PCNT count is the position, and the core closes the loop on
it (MotionPlan.rate_for()).

Direction and counting: on the ESP32, machine.Counter counts one pin UP or DOWN
(a direction *pin* is a MIMXRT-only option; checked against the 1.27/1.28 docs and
ports/esp32/modules/machine.py). So the counter always counts UP and this module
applies the sign of the DIR line in software, changing it only while no pulse can be
in flight: stop, wait for the last period to end, fold the count into a base, set
DIR, wait the driver's DIR setup time, restart.

Counting pin: the PCNT driver configures its pin as an input (esp-idf issue 12465),
and whether LEDC leaves the input path of its own output pin enabled depends on the
IDF version. So the board counts a separate input, sense_pin = pins.STEP_SENSE, wired
to the STEP line after the hardware over-travel gate: the count is what the driver
received (hardware/safety_wiring.md). With sense_pin=None the STEP pin itself is
counted; self_test() at boot tells whether that works on the board at hand.

Safety: the ENABLE output is set to EN_SAFE (de-energised) before anything else; the
worm gear is self-locking, so a de-energised motor holds the table. A periodic soft
Timer stops the pulses when the count reaches limit_lo/limit_hi, when apply() has not
been called for two ticks, or when the count stays frozen while pulses run (latched
in `fault` for that direction, see FAULT_*). Being a soft callback it runs between
bytecodes: it covers a stalled or crashed Python loop, not one stuck inside a C call
(a flash write, a long I2C timeout, a full UART FIFO), during which LEDC pulses on.
That is the hardware heartbeat's job: apply() toggles heartbeat_pin (pins.HEARTBEAT)
every tick, and the step gate's retriggerable monostable passes STEP only while it
toggles, so the pulses stop by themselves within its hold time (37 ms after the last
rising edge, hardware/safety_wiring.md "Heartbeat gate"). `trips` counts the dead-man
stops for the supervisor.
"""

import time

import pins
from micropython import const

# Signal levels come from the pin map (firmware/pins.py), the one place they are
# declared. EN_SAFE is the ENABLE level that de-energises the driver, set before any
# other output at construction: all supported classes disable on a high EN line
# (TMC2209 ENN, DRV8825 nENBL, A4988 ENABLE are active-low; a DM-class ENA opto, on
# while ENABLE is high through the board's inverting buffer, disables), and the
# board's pull-up keeps it there while the ESP32 resets (hardware/safety_wiring.md).
EN_SAFE = 1 - pins.ENABLE_ACTIVE
_EN_ON = pins.ENABLE_ACTIVE
# DIR level for positive (head-down) steps; a reversed motor is fixed at commissioning
# by swapping one coil pair, never here, so that MotionPlan step counts grow head-down.
_DIR_POSITIVE = pins.DIR_ACTIVE

# Driver timing: (min STEP high ns, min STEP low ns, DIR setup before STEP ns, max sps).
_DRIVERS = {
    # TMC2209 datasheet rev 1.09, STEP/DIR interface timing: tSH, tSL >= max(tFILTSD,
    # tCLK + 20 ns), typ. 100 ns; tDSU (DIR to STEP setup) 20 ns; fSTEP <= fCLK/2.
    "tmc2209": (100, 100, 20, 6000000),
    # TI DRV8825 (SLVSA73F) 7.6 Timing Requirements: tWH(STEP) and tWL(STEP) >= 1.9 us;
    # tSU(STEP) (command before STEP rising) >= 650 ns; fSTEP <= 250 kHz.
    "drv8825": (1900, 1900, 650, 250000),
    # Allegro A4988 datasheet, Figure 1 logic interface timing: STEP high >= 1 us (A),
    # STEP low >= 1 us (B), setup of an input change before STEP >= 200 ns (C).
    "a4988": (1000, 1000, 200, 500000),
    # Leadshine DM542 datasheet, control signal sequence chart: pulse width >= 2.5 us
    # (t3), low level width >= 2.5 us (t4), DIR ahead of the active PUL edge >= 5 us
    # (t2; ENA ahead of DIR >= 5 us, t1); pulse input frequency <= 200 kHz. Opto input.
    "dm542": (2500, 2500, 5000, 200000),
}
DRIVER_NAMES = ("tmc2209", "drv8825", "a4988", "dm542")

# STEP high time is twice the datasheet minimum (slow edges through level shifters and
# optocouplers), and at least 2 us: at 1 Hz the 20-bit LEDC timer ticks about every
# 0.95 us, so a shorter pulse could round to no pulse at all.
_MIN_HIGH_NS = const(2000)
# Largest rate this generator runs; the profile never plans faster (motion.MAX_SPS).
_MAX_SPS = const(30000)
# The dead-man timer period: half a 10 ms tick, so a window is overrun by at most 5 ms
# of pulses (plus the soft-callback delay) before the pulses stop.
_DEADMAN_MS = const(5)
# Frozen-counter check: pulses at >= 500 sps for 6 timer periods (30 ms) must move the
# count by about 15; no movement at all means the counter does not see the pulses.
_FROZEN_MIN_SPS = const(500)
_FROZEN_PERIODS = const(6)
# A direction change waits for the last period of the old rate to end; up to 1 ms is
# spun in place, longer waits are left to the next apply() so the loop never blocks.
_SPIN_MAX_US = const(1000)
# Keep the running frequency if the new rate is within 1/64 (1.6 %) of it: LEDC
# retunes are not glitch-free, and the closed loop on the count absorbs the difference.
_RETUNE_SHIFT = const(6)
# self_test(): 1000 sps for 20 ms each way, with the driver de-energised.
_TEST_SPS = const(1000)
_TEST_MS = const(20)
_TEST_POLL_US = const(100)  # poll the count 10x per 1 ms period: stop before the next edge

# StepGen.fault bits: the direction in which pulses ran but the count did not move.
# That direction is refused until clear_fault(); the other stays available, because
# the over-travel gate legitimately swallows head-down pulses (the way back must stay
# open), while a dead counter soon freezes both ways and then nothing moves blind.
FAULT_NONE = const(0)
FAULT_FROZEN_POS = const(1)  # head-down (positive) pulses not counted
FAULT_FROZEN_NEG = const(2)  # head-up (negative) pulses not counted
FAULT_COUNTER = const(3)  # both: the count is not the truth (also a failed self_test)


# ------------------------------------------------------------ pure helpers (host-tested)


def timing(driver):
    """(min high ns, min low ns, DIR setup ns, max sps) of a driver class; ValueError."""
    t = _DRIVERS.get(driver)
    if t is None:
        raise ValueError("unknown stepper driver '%s'" % driver)
    return t


def pulse_high_ns(driver):
    """STEP high time this generator uses for the driver: 2x the minimum, >= 2 us."""
    h = 2 * timing(driver)[0]
    return h if h > _MIN_HIGH_NS else _MIN_HIGH_NS


def max_rate_sps(driver):
    """Fastest rate: the datasheet maximum, a low time of at least twice the minimum
    after our high time, and the profile's MAX_SPS."""
    t = timing(driver)
    f = 1000000000 // (pulse_high_ns(driver) + 2 * t[1])
    if f > t[3]:
        f = t[3]
    return f if f < _MAX_SPS else _MAX_SPS


def setup_us(driver):
    """DIR (and ENABLE) setup wait in whole microseconds: 2x the datasheet figure."""
    us = (2 * timing(driver)[2] + 999) // 1000
    return us if us > 0 else 1


def duty_u16_for(freq_hz, high_ns):
    """duty_u16 giving at least high_ns of high time at freq_hz; 0 below 1 Hz.

    ceil(high_ns * freq * 65536 / 1e9) = ceil(x * 128 / 1953125), split so every
    product stays a small int (x = high_ns * freq < 1e9 because high < period)."""
    if freq_hz < 1:
        return 0
    x = high_ns * freq_hz
    q = x // 1953125
    r = x - q * 1953125
    d = q * 128 + (r * 128 + 1953124) // 1953125
    if d < 1:
        return 1
    return d if d < 65535 else 65535


# ------------------------------------------------------------ the generator


class StepGen:
    """One stepper driver on LEDC PWM + PCNT.

    step_pin, dir_pin, en_pin, sense_pin: GPIO numbers (pins.STEP, DIR, ENABLE,
    STEP_SENSE); counter_id: PCNT unit; driver: a DRIVER_NAMES entry (hardware
    drive.driver); tick_ms: the control loop's tick (the heartbeat); timer_id: the
    hardware Timer for the dead-man; heartbeat_pin: the step gate's monostable input
    (pins.HEARTBEAT; None: no hardware heartbeat). apply(rate_sps, limit_lo, limit_hi, enable)
    every tick; count() is the emitted position in steps, + = head-down.
    """

    def __init__(self, step_pin, dir_pin, en_pin, counter_id, driver, tick_ms=10,
                 timer_id=0, sense_pin=None, heartbeat_pin=None):
        import machine

        t = timing(driver)  # refuses an unknown driver before touching any pin
        # MicroPython-only timing, bound here (not at import, so the pure helpers above
        # import on CPython). The project's pyright resolves `time` to CPython's typeshed;
        # with typeshedPath = the venv's site-packages these ignores become unnecessary.
        self._ticks_us = time.ticks_us  # pyright: ignore[reportAttributeAccessIssue]
        self._ticks_ms = time.ticks_ms  # pyright: ignore[reportAttributeAccessIssue]
        self._ticks_diff = time.ticks_diff  # pyright: ignore[reportAttributeAccessIssue]
        self._ticks_add = time.ticks_add  # pyright: ignore[reportAttributeAccessIssue]
        self._sleep_us = time.sleep_us  # pyright: ignore[reportAttributeAccessIssue]
        self.driver = driver
        self._high_ns = pulse_high_ns(driver)
        self._max_sps = max_rate_sps(driver)
        self._setup_us = setup_us(driver)
        # Outputs first, each at its safe value: driver off, no pulses.
        self._en = machine.Pin(en_pin, machine.Pin.OUT, value=EN_SAFE)
        # DIR starts head-up, the level the board pulls it to during reset.
        self._dir = machine.Pin(dir_pin, machine.Pin.OUT, value=1 - _DIR_POSITIVE)
        idle = 1 - pins.STEP_ACTIVE
        step = machine.Pin(step_pin, machine.Pin.OUT, value=idle)
        self._pwm = machine.PWM(step, freq=_TEST_SPS, duty_u16=0, invert=idle == 1)
        self._beat_pin = None  # the step gate's heartbeat: still until the first tick
        if heartbeat_pin is not None:
            self._beat_pin = machine.Pin(heartbeat_pin, machine.Pin.OUT, value=0)
        self._beat_level = 0
        # The counter after the PWM: if claiming the pin as a PCNT input were to cut
        # the output, the failure is "no pulses" (safe), never "uncounted pulses".
        # Each pulse is counted once, on its leading edge.
        if sense_pin is None:
            src = step
            active = pins.STEP_ACTIVE
        else:
            src = machine.Pin(sense_pin, machine.Pin.IN)
            active = pins.STEP_SENSE_ACTIVE
        edge = machine.Counter.RISING if active else machine.Counter.FALLING
        self._ctr = machine.Counter(counter_id, src, edge=edge,
                                    direction=machine.Counter.UP, filter_ns=t[0])
        self._ctr.value(0)
        self._base = 0  # count at the last direction change
        self._dir_sign = -1
        self._hz = 0  # running PWM frequency, 0 = stopped
        self._last_hz = 0  # frequency before the last stop (for the settle wait)
        self._stop_us = self._ticks_us()
        self._settle_us = 0
        self._enabled = False
        self._busy = False  # a direction change is folding the count: timer keeps off
        self._lo = 0
        self._hi = 0
        self._hb = 0  # timer periods since the last apply()
        self._hb_max = 2 * tick_ms // _DEADMAN_MS  # two ticks without apply() stops
        self._last_count = 0
        self._frozen = 0
        self.fault = FAULT_NONE
        self.trips = 0  # dead-man stops (window reached or heartbeat lost), for the log
        self._timer = machine.Timer(timer_id)
        self._timer.init(mode=machine.Timer.PERIODIC, period=_DEADMAN_MS,
                         callback=self._deadman)

    # -------------------------------------------------------- called every tick

    def count(self):
        """Pulses emitted since boot, signed by direction (steps). Allocation-free."""
        return self._base + self._dir_sign * self._ctr.value()

    def apply(self, rate_sps, limit_lo, limit_hi, enable):
        """Run at rate_sps (signed) without passing limit_lo/limit_hi; enable energises
        the driver. Also the heartbeat of the dead-man and of the step gate's
        monostable (a C call that stalls the loop stops the pulses in hardware: the
        soft dead-man cannot run then). Allocation-free."""
        self._hb = 0
        self._beat()
        self._lo = limit_lo
        self._hi = limit_hi
        if not enable:
            self._stop()
            if self._enabled:
                self._en.value(EN_SAFE)
                self._enabled = False
            return
        if not self._enabled:
            self._en.value(_EN_ON)
            self._enabled = True
            self._sleep_us(self._setup_us)  # ENABLE ahead of DIR/STEP (DM542 t1: 5 us)
        r = rate_sps
        if r > 0 and self.fault & FAULT_FROZEN_POS:
            r = 0
        elif r < 0 and self.fault & FAULT_FROZEN_NEG:
            r = 0
        if r > self._max_sps:
            r = self._max_sps
        elif r < -self._max_sps:
            r = -self._max_sps
        c = self.count()
        if (r > 0 and c >= limit_hi) or (r < 0 and c <= limit_lo):
            r = 0
        if r == 0:
            self._stop()
            return
        sign = 1 if r > 0 else -1
        if sign != self._dir_sign and not self._reverse(sign):
            return  # the last pulse of the old direction may still be in flight
        self._run(r if r > 0 else -r)

    def _beat(self):
        if self._beat_pin is not None:
            self._beat_level ^= 1
            self._beat_pin.value(self._beat_level)

    def clear_fault(self):
        self.fault = FAULT_NONE
        self._frozen = 0

    # -------------------------------------------------------- internals

    def _stop(self):
        if self._hz:
            self._pwm.duty_u16(0)
            self._last_hz = self._hz
            self._hz = 0
            self._stop_us = self._ticks_us()
            # the current period (at most) may still be running; its edge is counted
            self._settle_us = 1000000 // self._last_hz + self._high_ns // 1000 + 2

    def _reverse(self, sign):
        """Change direction once no pulse can be in flight; False = not yet."""
        self._stop()
        wait = self._settle_us - self._ticks_diff(self._ticks_us(), self._stop_us)
        if wait > 0:
            if wait > _SPIN_MAX_US:
                return False
            self._sleep_us(wait)
        self._busy = True
        n = self._ctr.value(0)
        self._base += self._dir_sign * n
        self._dir_sign = sign
        self._busy = False
        self._dir.value(_DIR_POSITIVE if sign > 0 else 1 - _DIR_POSITIVE)
        self._sleep_us(self._setup_us)  # DIR setup before the first STEP edge
        return True

    def _run(self, f):
        old = self._hz
        if old:
            diff = f - old if f > old else old - f
            if (diff << _RETUNE_SHIFT) < old:
                return
        d = duty_u16_for(f, self._high_ns)
        self._hz = f  # before the write: a dead-man callback in between sees "running"
        if old and f > old:
            self._pwm.duty_u16(d)  # high time only grows while the two writes land
            self._pwm.freq(f)
        else:
            self._pwm.freq(f)
            self._pwm.duty_u16(d)

    def _trip(self):
        self._stop()
        self.trips += 1

    def _deadman(self, _timer):
        """Soft Timer callback, every _DEADMAN_MS. Allocation-free."""
        self._hb += 1
        if not self._hz:
            self._frozen = 0
            return
        if self._hb > self._hb_max:
            self._trip()  # the loop stopped calling apply()
            return
        if self._busy:
            return
        c = self.count()
        if (self._dir_sign > 0 and c >= self._hi) or (self._dir_sign < 0 and c <= self._lo):
            self._trip()
            return
        if self._hz >= _FROZEN_MIN_SPS and c == self._last_count:
            self._frozen += 1
            if self._frozen >= _FROZEN_PERIODS:
                self._stop()
                self.fault |= FAULT_FROZEN_POS if self._dir_sign > 0 else FAULT_FROZEN_NEG
                self._frozen = 0
        else:
            self._frozen = 0
        self._last_count = c

    # -------------------------------------------------------- boot and shutdown

    def self_test(self):
        """Boot check, driver de-energised: pulse _TEST_SPS * _TEST_MS / 1000 steps
        head-up, then back head-down to the starting count, and check the counter
        followed both ways. The driver's translator sees a net zero move (A4988:
        STEP/DIR stay active while disabled). Blocks about 50 ms.

        The head-up leg runs first: it is the way back, and the over-travel gate
        swallows head-down pulses legitimately (a table powered up past the switch).
        A counted head-up leg with an uncounted head-down leg latches FAULT_FROZEN_POS
        only, so the slow return toward horizontal stays possible; a head-up leg that
        is not counted latches FAULT_COUNTER. True if both legs were counted."""
        if self._enabled:
            return False
        start = self.count()
        n = _TEST_SPS * _TEST_MS // 1000
        self._lo = start - 2 * n  # the dead-man window for the test's own pulses
        self._hi = start + 2 * n
        if not self._test_run(-1, start - n):
            self.fault = FAULT_COUNTER
        elif not (self._test_run(1, start) and self.count() == start):
            self.fault = FAULT_FROZEN_POS
        self._lo = self._hi = self.count()
        return self.fault == FAULT_NONE

    def _test_run(self, sign, until):
        """Pulse toward `until` (count) at _TEST_SPS; False if it is not reached in time."""
        if sign != self._dir_sign and not self._reverse(sign):
            return False
        deadline = self._ticks_add(self._ticks_ms(), 4 * _TEST_MS)
        self._run(_TEST_SPS)
        reached = False
        while self._ticks_diff(deadline, self._ticks_ms()) > 0:
            self._hb = 0  # this loop is the heartbeat while it runs
            self._beat()
            if (self.count() - until) * sign >= 0:
                reached = True
                break
            self._sleep_us(_TEST_POLL_US)
        self._stop()
        self._sleep_us(self._settle_us)
        return reached

    def deinit(self):
        """Pulses off, driver de-energised, timer released (soft reset, tests)."""
        self._timer.deinit()
        self._stop()
        self._en.value(EN_SAFE)
        self._enabled = False
