"""The small modules of the chip: `esp32` (NVS), `esp` (osdebug), `micropython`, `time`, `gc`.

Owns their behaviour on the chip model (core.current). Each is a class whose instance
is put in sys.modules under the MicroPython name while the firmware is loaded
(board.load_firmware).
"""

from host_tools.chip import core

_ESP_ERR_NVS_NOT_FOUND = 0x1102


class _Nvs:
    """esp32.NVS(namespace): i32 values, written on commit() (ports/esp32/esp32_nvs.c);
    a missing key raises OSError(-ESP_ERR_NVS_NOT_FOUND) (mphalport.c check_esp_err_)."""

    def __init__(self, namespace):
        self._ns = namespace
        self._pending = {}

    def get_i32(self, key):
        c = core.current
        c.pending()
        full = (self._ns, key)
        if full not in c.nvs:
            raise OSError(-_ESP_ERR_NVS_NOT_FOUND, "ESP_ERR_NVS_NOT_FOUND")
        return c.nvs[full]

    def set_i32(self, key, value):
        self._pending[(self._ns, key)] = value

    def commit(self):
        c = core.current
        c.nvs.update(self._pending)
        self._pending = {}
        c.flash.program("nvs", 32)  # an NVS commit writes the flash too


class Esp32Module:
    NVS = _Nvs


class EspModule:
    """esp.osdebug(uart, level): esp_log_level_set("*", level); osdebug(None) sets it
    back to ESP_LOG_ERROR, which still prints errors (ports/esp32/modesp.c esp_osdebug)."""

    LOG_NONE = 0
    LOG_ERROR = 1
    LOG_WARNING = 2
    LOG_INFO = 3
    LOG_DEBUG = 4
    LOG_VERBOSE = 5

    @staticmethod
    def osdebug(uart, level=5):
        c = core.current
        c.log_level = 1 if uart is None else level


class MicropythonModule:
    """const and the emitters as the host shim; kbd_intr() and schedule() on the chip."""

    @staticmethod
    def const(v):
        return v

    @staticmethod
    def native(f):
        return f

    @staticmethod
    def viper(f):
        return f

    @staticmethod
    def kbd_intr(ch):
        core.current.kbd_char = ch

    @staticmethod
    def schedule(fn, arg):
        if not core.current.schedule(fn, arg):
            raise RuntimeError("schedule queue full")


class TimeModule:
    """MicroPython's time: ticks wrap at 2**30 (py/mphal ticks, MICROPY_PY_TIME_TICKS_PERIOD);
    sleep_ms runs the pending callbacks while it waits (mp_hal_delay_ms)."""

    _PERIOD = 1 << 30

    def ticks_ms(self):
        return (core.current.now_us // 1000) & (self._PERIOD - 1)

    def ticks_us(self):
        return core.current.now_us & (self._PERIOD - 1)

    def ticks_add(self, t, d):
        return (t + d) & (self._PERIOD - 1)

    def ticks_diff(self, a, b):
        half = self._PERIOD >> 1
        return ((a - b + half) & (self._PERIOD - 1)) - half

    def sleep_ms(self, ms):
        core.current.sleep_us(ms * 1000)

    def sleep_us(self, us):
        core.current.sleep_us(us)

    def sleep(self, s):
        core.current.sleep_us(int(s * 1000000))

    def time(self):
        return core.current.now_us // 1000000


class GcModule:
    """MicroPython's gc on a chip whose heap holds heap_bytes: collect() holds the CPU for
    the collection, a C call (gc_collect: the ISRs run, no soft callback until it
    returns: core.block), us_per_block for each of its 16-byte blocks (py/gc.c
    BYTES_PER_BLOCK; the figures: host_tools/bench32.py GC_PSRAM_US_PER_BLOCK).
    threshold() as py/modgc.c (-1: off). `stalls` records each collection as (start us,
    length us) for the tests."""

    def __init__(self, heap_bytes, us_per_block):
        self.heap_bytes = heap_bytes
        self.collect_us = int(heap_bytes // 16 * us_per_block)
        self._threshold = -1
        self._enabled = True
        self.stalls = []

    def collect(self):
        c = core.current
        self.stalls.append((c.now_us, self.collect_us))
        c.block(self.collect_us)

    def threshold(self, amount=None):
        if amount is None:
            return self._threshold
        self._threshold = amount if amount >= 0 else -1
        return None

    def enable(self):
        self._enabled = True

    def disable(self):
        self._enabled = False

    def isenabled(self):
        return self._enabled
