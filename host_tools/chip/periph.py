"""The peripherals' hardware: LEDC PWM channels, PCNT units and the soft timers' alarms.

Owns what runs without the CPU. The Python API on top is host_tools/chip/machine.py.
"""

from host_tools.chip.core import _NEVER

_APB_HZ = 80000000  # LEDC source clock for the rates the step generator uses
PCNT_RANGE = 32000  # ports/esp32/modules/machine.py _PCNT_RANGE: min=-32000, max=32000


def duty_resolution(freq_hz):
    """LEDC duty bits at freq_hz: the most the clock allows, capped at 16
    (ports/esp32/machine_pwm.c find_suitable_duty_resolution, UI_RES_16_BIT)."""
    bits = 0
    while bits < 16 and (_APB_HZ // freq_hz) >> (bits + 1):
        bits += 1
    return bits


class Ledc:
    """One LEDC channel on a pin: a pulse starts every period while the duty is not 0.

    A new frequency or duty takes effect at the end of the running period (the LEDC
    latches timer and duty updates at the period boundary), so a write never cuts or
    stretches a pulse in flight. Boundaries are kept in ns; pulses are counted once."""

    def __init__(self, gpio, freq_hz, duty_u16, now_us):
        self.gpio = gpio
        self.freq = freq_hz
        self.duty = duty_u16
        self._origin_ns = now_us * 1000
        self._period_ns = 1000000000 // freq_hz
        self._counted_ns = now_us * 1000  # boundaries before this are counted
        self._pend_ns = None  # boundary at which the pending values apply
        self._pend_freq = freq_hz
        self._pend_duty = duty_u16
        self._on = self._pulsing(freq_hz, duty_u16)  # cached: pulses() runs every step
        self.first_ns = 0
        self.emitted = 0

    def _boundary(self, t_ns):
        """The first period boundary at or after t_ns."""
        k = -((self._origin_ns - t_ns) // self._period_ns)  # ceil
        return self._origin_ns + k * self._period_ns

    def running(self):
        """A pulse can start (now, or at the pending boundary)."""
        return self._on or (
            self._pend_ns is not None and self._pulsing(self._pend_freq, self._pend_duty))

    @staticmethod
    def _pulsing(freq, duty):
        return freq > 0 and (duty >> (16 - duty_resolution(freq))) > 0

    def set(self, now_us, freq_hz=None, duty_u16=None):
        if self._pend_ns is None:
            # the period running now (one may start at this very instant) ends first
            self._pend_ns = self._boundary(max(now_us * 1000 + 1, self._counted_ns))
            self._pend_freq = self.freq
            self._pend_duty = self.duty
        if freq_hz is not None:
            self._pend_freq = freq_hz
        if duty_u16 is not None:
            self._pend_duty = duty_u16

    def next_change_us(self, now_us):
        if self._pend_ns is None:
            return _NEVER
        return -(-self._pend_ns // 1000)

    def pulses(self, t0_us, t1_us):
        """Pulses starting before t1_us not counted yet (none across a pending change)."""
        hi = t1_us * 1000
        if self._pend_ns is not None and self._pend_ns < hi:
            hi = self._pend_ns
        lo = self._counted_ns
        if hi <= lo:
            return 0
        self._counted_ns = hi
        if not self._on:
            return 0
        first = self._boundary(lo)
        n = (self._boundary(hi) - first) // self._period_ns
        self.first_ns = first  # the n pulses start at first + i * period (a world bins them)
        self.emitted += n
        return n

    def latch(self, t_us):
        """Apply the pending values once their boundary has come."""
        if self._pend_ns is not None and self._pend_ns <= t_us * 1000:
            b = self._pend_ns
            self._pend_ns = None
            self._origin_ns = b
            self._counted_ns = b
            self.freq = self._pend_freq
            self.duty = self._pend_duty
            self._period_ns = 1000000000 // self.freq
            self._on = self._pulsing(self.freq, self.duty)

    def period_ns(self):
        """The running period while pulses start, else None (for a world's forecast)."""
        return self._period_ns if self._on else None


class Pcnt:
    """One PCNT unit counting edges of `src`: +-32000, then back to 0 with an interrupt.

    The ISR is in IRAM (ports/esp32/esp32_pcnt.c esp32_pcnt_intr_handler, IRAM_ATTR)
    but calls mp_irq_handler(), which is not: during a flash write (cache off) that is
    a crash, modelled as chip.panic()."""

    def __init__(self, unit, src, edge, up):
        self.unit = unit
        self.src = src
        self.per_pulse = 2 if edge == 3 else 1  # RISING 1, FALLING 2: once per pulse
        self.step = 1 if up else -1
        self.value = 0
        self.handler = None  # soft: machine.Counter._overflow, through the scheduler
        self.obj = None
        self.flags = 0
        self.overflow_events = 0

    def count(self, chip, pulses):
        n = pulses * self.per_pulse * self.step
        while n:
            room = PCNT_RANGE - self.value if n > 0 else -PCNT_RANGE - self.value
            if (n > 0 and n < room) or (n < 0 and n > room):
                self.value += n
                return
            n -= room
            self.value = 0
            self.flags = 2 if room > 0 else 1  # IRQ_MAX / IRQ_MIN
            self.overflow_events += 1
            if chip.masked:
                chip.panic("PCNT overflow interrupt during a flash write (cache off)")
            if self.handler is not None:
                chip.schedule(self.handler, self.obj)


class SoftTimer:
    """A machine.Timer alarm: the ISR schedules the callback (machine_timer.c
    machine_timer_isr_virtual -> mp_sched_schedule); alarms missed while masked
    or blocked come as one event."""

    def __init__(self, obj, period_us, callback, periodic, now_us):
        self.obj = obj
        self.period_us = period_us
        self.callback = callback
        self.periodic = periodic
        self.next_us = now_us + period_us
        self._latched = False

    def due(self, chip, t_us):
        if t_us < self.next_us:
            return
        if chip.masked:
            self._latched = True
        elif self.callback is not None:
            chip.schedule(self.callback, self.obj)
        if self.periodic:
            while self.next_us <= t_us:
                self.next_us += self.period_us
        else:
            self.next_us = _NEVER

    def unmask(self, chip):
        if self._latched:
            self._latched = False
            if self.callback is not None:
                chip.schedule(self.callback, self.obj)
