"""A do-nothing chip: the modules board_esp32.py and stepgen.py import, doing the least
that keeps the board code on its normal path. For measuring (host_tools/chip_bench.py),
never for testing: it models nothing and checks nothing.

Owns the lower bound of issue #19 phase 2: what the board code itself costs per tick on
CPython when the chip costs (almost) nothing. Time moves only in sleeps; no callback
runs by itself (the bench calls the dead-man as the timer would); the PCNT count is the
PWM's frequency times the time it ran (one multiply per read, so the step generator's
self-test and closed loop see their pulses); the I2C registers are one still IMU's,
read once from host_tools/imu_model.py and then returned as they are.
"""

import builtins
import random

from host_tools import imu_model, params
from host_tools.chip import modules


class NullChip:
    def __init__(self):
        self.now_us = 0
        self.kbd_char = 3
        self.pwm = None
        self.imu = imu_model.Mpu6050Model(params.load(), random.Random(1))
        self.imu.update(0, 0.0, 0.0, False)
        self.regs = {}
        self.flash = _Flash()

    def install(self):
        from host_tools.chip import core

        core.current = self  # modules.MicropythonModule.kbd_intr sets kbd_char here
        return self


class _Flash:
    open = staticmethod(builtins.open)


_chip = [None]


class _Time:
    _PERIOD = 1 << 30

    def ticks_ms(self):
        return (_chip[0].now_us // 1000) & (self._PERIOD - 1)

    def ticks_us(self):
        return _chip[0].now_us & (self._PERIOD - 1)

    def ticks_add(self, t, d):
        return (t + d) & (self._PERIOD - 1)

    def ticks_diff(self, a, b):
        half = self._PERIOD >> 1
        return ((a - b + half) & (self._PERIOD - 1)) - half

    def sleep_ms(self, ms):
        _chip[0].now_us += ms * 1000

    def sleep_us(self, us):
        _chip[0].now_us += us


class _Pin:
    IN = 1
    OUT = 3
    PULL_UP = 1
    PULL_DOWN = 2
    IRQ_FALLING = 1
    IRQ_RISING = 2

    def __init__(self, gpio, mode=-1, pull=-1, value=None):
        self._v = 1 if value else 0

    def init(self, mode=-1, pull=-1, value=None):
        if value is not None:
            self._v = 1 if value else 0

    def value(self, v=None):
        if v is None:
            return self._v
        self._v = v
        return None

    def irq(self, handler=None, trigger=3):
        pass


class _PWM:
    def __init__(self, pin, freq=-1, duty_u16=-1, invert=False):
        self._f = freq
        self._d = duty_u16 if duty_u16 > 0 else 0
        self._t = _chip[0].now_us
        self._hz_us = 0  # pulses x 1e6 (no rounding lost between reads)
        _chip[0].pwm = self

    @property
    def count(self):
        return self._hz_us // 1000000

    def _fold(self):
        now = _chip[0].now_us
        if self._d:
            self._hz_us += (now - self._t) * self._f
        self._t = now

    def freq(self, f=None):
        if f is None:
            return self._f
        self._fold()
        self._f = f
        return None

    def duty_u16(self, d=None):
        if d is None:
            return self._d
        self._fold()
        self._d = d
        return None

    def deinit(self):
        self.duty_u16(0)


class _Counter:
    RISING = 1
    FALLING = 2
    UP = 1
    DOWN = 2

    def __init__(self, unit, src, edge=1, direction=1, filter_ns=0):
        self._offset = 0

    def value(self, value=None):
        pwm = _chip[0].pwm
        pwm._fold()
        v = pwm.count + self._offset
        if value is not None:
            self._offset = value - pwm.count
        return v


class _Timer:
    ONE_SHOT = 0
    PERIODIC = 1

    def __init__(self, tid, **kw):
        self.callback = None

    def init(self, mode=1, period=-1, callback=None, freq=-1, hard=False):
        self.callback = callback

    def deinit(self):
        self.callback = None


class _I2C:
    def __init__(self, bus_id, scl=None, sda=None, freq=400000, timeout=50000):
        pass

    def readfrom_mem_into(self, addr, reg, buf, addrsize=8):
        c = _chip[0]
        key = (reg, len(buf))
        data = c.regs.get(key)
        if data is None:
            data = c.regs[key] = c.imu.read(reg, len(buf))
        buf[:] = data

    def writeto_mem(self, addr, reg, buf, addrsize=8):
        _chip[0].imu.write(reg, bytes(buf))
        _chip[0].regs.clear()


class _WDT:
    def __init__(self, wdt_id=0, timeout=5000):
        pass

    def feed(self):
        pass


class _RTC:
    def datetime(self, dt=None):
        return None if dt is not None else (2000, 1, 1, 5, 0, 0, 0, 0)


class _Machine:
    Pin = _Pin
    PWM = _PWM
    Counter = _Counter
    Timer = _Timer
    I2C = _I2C
    WDT = _WDT
    RTC = _RTC

    @staticmethod
    def freq(hz=None):
        return 240000000 if hz is None else None

    @staticmethod
    def reset_cause():
        return 1


class _Poll:
    def register(self, obj, mask=1):
        pass

    def ipoll(self, timeout=-1):
        return iter(())


class _Select:
    POLLIN = 1

    @staticmethod
    def poll():
        return _Poll()


class _Buffer:
    def readinto(self, buf):
        return 0


class _Stdin:
    buffer = _Buffer()


class _Stdout:
    def write(self, data):
        return len(data)


class _Sys:
    stdin = _Stdin()
    stdout = _Stdout()


class NullRig:
    """The real board code (firmware/board_esp32.py, stepgen.py) on a NullChip."""

    def __init__(self):
        from host_tools.chip.board import FirmwareOnChip

        self.chip = NullChip()
        _chip[0] = self.chip
        mods = {"machine": _Machine(), "esp32": modules.Esp32Module(),
                "esp": modules.EspModule(), "micropython": modules.MicropythonModule(),
                "select": _Select()}
        self.fw = FirmwareOnChip(self.chip, mods, _Time(), _Sys())

    def board(self):
        return self.fw.board()

    def close(self):
        self.fw.close()
