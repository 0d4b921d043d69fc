"""The `machine` module of MicroPython on the ESP32, on the chip model (core.current).

Owns the Python API the firmware calls: Pin, Timer, PWM, Counter, I2C, WDT, freq(),
reset(), reset_cause(). Every call is a point where the VM would have made pending
checks, so each one lets queued soft callbacks run first (core.py says why).
"""

from host_tools.chip import core
from host_tools.chip.core import (  # noqa: F401  (machine's reset-cause constants)
    DEEPSLEEP_RESET,
    HARD_RESET,
    PWRON_RESET,
    SOFT_RESET,
    WDT_RESET,
)
from host_tools.chip.periph import PCNT_RANGE, Ledc, Pcnt, SoftTimer

_FREQS_MHZ = (20, 40, 80, 160, 240)  # ports/esp32/modmachine.c mp_machine_set_freq (ESP32)
_INPUT_ONLY = (34, 35, 36, 37, 38, 39)  # ESP32 GPIO34-39: input only, no pull resistors


def _chip():
    c = core.current
    if c._queue or c.kbd_pending:  # what pending() would act on (it is called 15x a tick)
        c.pending()
    return c


def freq(hz=None):
    c = _chip()
    if hz is None:
        return c.cpu_hz
    if hz // 1000000 not in _FREQS_MHZ:
        raise ValueError("frequency must be 20MHz, 40MHz, 80Mhz, 160MHz or 240MHz")
    c.cpu_hz = hz // 1000000 * 1000000
    return None


def reset():
    core.current.reset(HARD_RESET, "machine.reset()")


def soft_reset():
    core.current.reset(SOFT_RESET, "machine.soft_reset()")


def reset_cause():
    return _chip().cause


class Pin:
    IN = 1
    OUT = 3
    PULL_UP = 1
    PULL_DOWN = 2
    IRQ_FALLING = 1
    IRQ_RISING = 2

    def __init__(self, gpio, mode=-1, pull=-1, value=None):
        self._gpio = gpio
        self._s = _chip().pin(gpio)
        self._s.obj = self
        if mode != -1 or pull != -1 or value is not None:
            self.init(mode, pull, value=value)

    def init(self, mode=-1, pull=-1, value=None):
        c = core.current
        s = self._s
        old = s.level()
        if value is not None:
            s.out = 1 if value else 0  # machine_pin.c: the level is set before the mode
        if mode != -1:
            if mode == Pin.OUT and self._gpio in _INPUT_ONLY:
                raise ValueError("pin can only be input")
            s.mode = mode
        if pull != -1:
            s.pull = None if self._gpio in _INPUT_ONLY else pull
        c.output_changed(s, old)

    def value(self, v=None):
        c = _chip()
        s = self._s
        if v is None:
            return s.level()
        old = s.level()
        s.out = 1 if v else 0
        c.output_changed(s, old)
        return None

    def irq(self, handler=None, trigger=3):
        """Soft only (the ESP32 has no hard Pin IRQ); handler None disables it."""
        s = _chip().pin(self._gpio)
        s.handler = handler
        s.trigger = trigger if handler is not None else 0


class Timer:
    ONE_SHOT = 0
    PERIODIC = 1

    def __init__(self, tid, **kw):
        self._id = tid
        self._t = None
        if kw:
            self.init(**kw)

    def init(self, mode=1, period=-1, callback=None, freq=-1, hard=False):
        if hard:
            raise ValueError("hard Timer callbacks are not supported")  # since 1.27
        c = _chip()
        self.deinit()
        us = period * 1000 if period >= 0 else 1000000 // freq
        self._t = SoftTimer(self, us, callback, mode == Timer.PERIODIC, c.now_us)
        c.timers.append(self._t)

    def deinit(self):
        c = core.current
        if self._t is not None and self._t in c.timers:
            c.timers.remove(self._t)
        self._t = None


class PWM:
    """LEDC on a pin. Frequency and duty changes land at the period's end
    (periph.Ledc); duty is 16-bit at most (machine_pwm.c UI_RES_16_BIT)."""

    def __init__(self, pin, freq=-1, duty_u16=-1, invert=False):
        c = _chip()
        if freq < 1 or freq > 40000000:
            raise ValueError("frequency must be from 1Hz to 40MHz")
        self._gpio = pin._gpio
        self.invert = invert
        self._ch = c.ledc[self._gpio] = Ledc(self._gpio, freq, max(duty_u16, 0), c.now_us)

    def freq(self, f=None):
        c = _chip()
        if f is None:
            return self._ch.freq
        if f < 1 or f > 40000000:
            raise ValueError("frequency must be from 1Hz to 40MHz")
        self._ch.set(c.now_us, freq_hz=f)
        return None

    def duty_u16(self, d=None):
        c = _chip()
        if d is None:
            return self._ch.duty
        if d < 0 or d > 65535:
            raise ValueError("duty_u16 must be from 0 to 65535")
        self._ch.set(c.now_us, duty_u16=d)
        return None

    def deinit(self):
        c = core.current
        c.ledc.pop(self._gpio, None)


class Counter:
    """machine.Counter as ports/esp32/modules/machine.py builds it on esp32.PCNT: the
    hardware counts +-32000, a soft overflow callback adds the laps; value(v) returns
    the count and rebases it. The laps come through the 8-deep scheduler queue."""

    RISING = 1
    FALLING = 2
    UP = 1
    DOWN = 2

    def __init__(self, unit, src, edge=1, direction=1, filter_ns=0):
        c = _chip()
        self.filter_ns = filter_ns
        self._u = Pcnt(unit, src._gpio, edge, direction == Counter.UP)
        self._u.handler = self._overflow
        self._u.obj = self._u
        c.pcnt.append(self._u)
        self._overflows = 0
        self._offset = 0

    def _overflow(self, unit):
        if unit.flags & 1:
            self._overflows -= 1
        elif unit.flags & 2:
            self._overflows += 1

    def value(self, value=None):
        _chip()
        overflows = self._overflows
        current = self._u.value
        result = overflows * PCNT_RANGE + current + self._offset
        if value is not None:
            self._overflows -= overflows
            self._offset = value - current
        return result


class I2C:
    """machine.I2C(0, scl=, sda=, freq=, timeout=): the bus model (i2cbus.Bus)."""

    def __init__(self, bus_id, scl=None, sda=None, freq=400000, timeout=50000):
        self._bus = _chip().bus
        self._bus.configure(freq, timeout)

    def readfrom_mem_into(self, addr, reg, buf, addrsize=8):
        _chip()
        self._bus.read(addr, reg, buf)

    def readfrom_mem(self, addr, reg, n, addrsize=8):
        buf = bytearray(n)
        self.readfrom_mem_into(addr, reg, buf)
        return bytes(buf)

    def writeto_mem(self, addr, reg, buf, addrsize=8):
        _chip()
        self._bus.write(addr, reg, buf)

    def scan(self):
        return self._bus.scan()



def _civil(days):
    """(year, month, day) of a day count from 2000-01-01 (H. Hinnant's days_from_civil
    inverse; integer-only, as MicroPython's shared/timeutils does it)."""
    z = days + 10957 + 719468  # from 0000-03-01
    era = (z if z >= 0 else z - 146096) // 146097
    doe = z - era * 146097
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    d = doy - (153 * mp + 2) // 5 + 1
    m = mp + 3 if mp < 10 else mp - 9
    return yoe + era * 400 + (1 if m <= 2 else 0), m, d


def _days(y, m, d):
    y -= 1 if m <= 2 else 0
    era = (y if y >= 0 else y - 399) // 400
    yoe = y - era * 400
    doy = (153 * (m + (-3 if m > 2 else 9)) + 2) // 5 + d - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468 - 10957


class RTC:
    """machine.RTC (ports/esp32/machine_rtc.c): datetime() reads the system time as
    (year, month, day, weekday 0=Monday, hour, minute, second, microsecond);
    datetime(tuple) sets it (settimeofday; the weekday given is ignored). The ESP32's
    time starts at 2000-01-01 00:00:00 at power-on (the port's epoch) and is kept across
    soft and hard resets while powered; a power cut loses it. Here it lives on the Chip
    (`rtc_base_s` at `rtc_base_us`), so a new Chip, a power-on, starts from 2000."""

    def __init__(self):
        _chip()

    def datetime(self, dt=None):
        c = _chip()
        base_s = getattr(c, "rtc_base_s", 0)
        base_us = getattr(c, "rtc_base_us", 0)
        if dt is not None:
            y, mo, d, _wd, h, mi, sec = dt[:7]
            c.rtc_base_s = _days(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec
            c.rtc_base_us = c.now_us
            return None
        us = c.now_us - base_us
        t = base_s + us // 1000000
        days, s = divmod(t, 86400)
        y, mo, d = _civil(days)
        wd = (days + 5) % 7  # 2000-01-01 was a Saturday (5 with Monday = 0)
        return (y, mo, d, wd, s // 3600, s // 60 % 60, s % 60, us % 1000000)

class WDT:
    """The task watchdog: cannot be stopped; it resets the chip (machine_wdt.c,
    trigger_panic = true)."""

    def __init__(self, wdt_id=0, timeout=5000):
        c = _chip()
        if timeout <= 0:
            raise ValueError("WDT timeout too short")
        c.wdt_timeout_us = timeout * 1000
        c.wdt_fed_us = c.now_us

    def feed(self):
        c = _chip()
        c.wdt_fed_us = c.now_us
