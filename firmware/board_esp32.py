"""The ESP32 board: the one place (with stepgen.py) that touches hardware.

Owns the pins (firmware/pins.py), the e-stop interrupt, the IMU on I2C, the step
generator, the indicators, the USB console, the watchdog, the reset cause and the
maintenance boot. It implements the board interface firmware/app.py uses; its
simulated twin is host_tools/simboard.py, and it runs itself, unmodified, on the chip
model host_tools/chip (tests/host/test_board_esp32*.py).

At boot, before anything else: the CPU to 240 MHz (the stock image runs at 160) and
the ESP-IDF log off (chip_setup()).

E-stop, two channels: Pin.irq on the circuit-opening edge runs a (soft, scheduled)
callback that counts the edge, sets a flag and disables itself, so contact bounce cannot
flood the 8-entry scheduler queue while the loop sleeps (edges during a C call each
queue a call before the first can disarm it: it counts one per arming); the core also
polls the pin every tick. From the
edge on, no more head-down motion is queued: apply_outputs never lets the head-down
step rate rise above what was already running. The pulses are deliberately not cut
dead - a step change of speed would jolt the person and leave the core's braking plan
ahead of the counter - the core latches EMERGENCY_RETURN on the next tick and brakes
on a ramp. The IRQ is re-armed when the latch is acknowledged.

Wireless: this module never imports `network` or `bluetooth`; Wi-Fi and Bluetooth stay
off, and the USB cable is the only way in. The USB console never reaches the REPL in
normal operation: MicroPython's keyboard interrupt is off (kbd_intr(-1), set first in
boot.py and main.py), so Ctrl-C, raw-REPL and raw-paste bytes are just bytes the
console refuses; only the service mode (firmware/powerup.py) turns it back on.

NVS (`nvs`): the chip's non-volatile storage outside the filesystem, namespace "itc",
where firmware/setupmarks.py keeps what tells a new table from a damaged one.
"""

import sys
import time

import esp32
import machine
import micropython
import pins
from micropython import const
from signals import (
    IND_ALARM,
    IND_FAST,
    IND_SLOW,
    IND_STEADY,
    SW_ANKLE_LOCK,
    SW_DOWN,
    SW_ESTOP,
    SW_HOME,
    SW_OVERTRAVEL,
    SW_START,
    SW_UP,
)
from stepgen import StepGen

MAINTENANCE_FLAG = "maintenance"  # a file: the next boot is the service mode
SERVICE_BANNER = ("inversion table: SERVICE MODE active (maintenance boot) - control loop, "
                  "watchdog and driver off, the table does not move; REPL, files and deploy "
                  "open until the next reset")
_NVS_NOT_FOUND = (2, 0x1102, -0x1102)  # ENOENT, ESP_ERR_NVS_NOT_FOUND as MicroPython raises it
_I2C_FREQ = const(400000)  # MPU-6050 fast mode
_I2C_TIMEOUT_US = const(5000)  # a stuck bus costs at most 5 ms of a 10 ms tick
_PCNT_UNIT = const(0)
_TIMER_ID = const(0)
# The stock ESP32_GENERIC image boots at 160 MHz; 240 is the chip's fastest
# (ports/esp32/modmachine.c mp_machine_set_freq accepts 20/40/80/160/240 MHz).
_CPU_HZ = const(240000000)
_ENODEV = const(19)
_EIO = const(5)


def chip_setup():
    """CPU at full speed and the ESP-IDF log off, before anything else runs.

    esp.osdebug(None) only sets the IDF log back to its boot level ESP_LOG_ERROR
    (ports/esp32/modesp.c esp_osdebug), which still prints errors: on 1.29 with ESP-IDF
    >= 5.5.2 every I2C NACK is logged (3 lines, ~20 ms of a blocked UART per tick while
    the IMU is missing). esp.osdebug(0, esp.LOG_NONE) silences every IDF component
    (esp_log_level_set("*", ESP_LOG_NONE); the first argument is unused there)."""
    import esp

    machine.freq(_CPU_HZ)
    esp.osdebug(0, esp.LOG_NONE)  # pyright: ignore[reportArgumentType]


def imu_driver(i2c, imu):
    """The IMU driver hardware/table_params.json imu.part names: mpu6050 (the MPU-6050
    family: MPU-6050/6000/6500/9250 dies, firmware/mpu6050.py) or icm42688. None for an
    unknown part or settings the part lacks: then no IMU reads (imu_error ENODEV every
    tick) and config.load_hardware reports the bad part at start-up."""
    part = imu["part"][0] if "part" in imu else "mpu6050"
    try:
        if part == "mpu6050":
            from mpu6050 import from_params
        elif part == "icm42688":
            from icm42688 import from_params
        else:
            return None
        return from_params(i2c, imu)
    except (ValueError, KeyError, IndexError, TypeError):
        return None


class Nvs:
    """esp32.NVS as firmware/setupmarks.py uses it: get(key) -> int or None, set(key, v)."""

    def __init__(self, namespace="itc"):
        self._nvs = esp32.NVS(namespace)

    def get(self, key):
        try:
            return self._nvs.get_i32(key)
        except OSError as e:
            if e.args and e.args[0] in _NVS_NOT_FOUND:
                return None
            raise

    def set(self, key, value):
        self._nvs.set_i32(key, value)
        self._nvs.commit()


class Esp32Board:
    hw_params_path = "table_params.json"
    fs_root = ""
    code_root = ""  # deploy's files and its manifest, checked at boot (firmware/manifest.py)
    # stdin's ring (ports/esp32/mphalport.c stdin_ringbuf_array[260], one slot kept
    # free): the UART ISR drops bytes while it is full (firmware/console_lines.py)
    CONSOLE_RX_RING = 259

    def __init__(self):
        import json

        chip_setup()
        self.nvs = Nvs()
        # the wall clock of the records (firmware/wallclock.py): kept across resets while
        # powered, lost at a power cut (no battery input); set by the client's `clock set`
        self.rtc = machine.RTC()

        # Outputs first, at their safe values (the step generator de-energises the driver).
        with open(self.hw_params_path) as f:
            params = json.load(f)
        self.stepgen = StepGen(pins.STEP, pins.DIR, pins.ENABLE, _PCNT_UNIT,
                               params["drive"]["driver"][0], timer_id=_TIMER_ID,
                               sense_pin=pins.STEP_SENSE, heartbeat_pin=pins.HEARTBEAT)
        # the counter must see the pulses before anything moves (driver still disabled)
        self.stepgen.self_test()  # a failure latches stepgen.fault (read every tick)
        self.led = machine.Pin(pins.LED, machine.Pin.OUT, value=1 - pins.LED_ACTIVE)
        self.buzzer = machine.Pin(pins.BUZZER, machine.Pin.OUT, value=1 - pins.BUZZER_ACTIVE)
        # Inputs. The safety switches are on input-only pins with external pull-ups.
        self.p_up = machine.Pin(pins.UP, machine.Pin.IN, machine.Pin.PULL_UP)
        self.p_down = machine.Pin(pins.DOWN, machine.Pin.IN, machine.Pin.PULL_UP)
        self.p_start = machine.Pin(pins.START, machine.Pin.IN, machine.Pin.PULL_UP)
        self.p_estop = machine.Pin(pins.ESTOP, machine.Pin.IN)
        self.p_over = machine.Pin(pins.OVERTRAVEL, machine.Pin.IN)
        self.p_home = machine.Pin(pins.HOME, machine.Pin.IN)
        self.p_ankle = machine.Pin(pins.ANKLE_LOCK, machine.Pin.IN)  # polled (anklelock.py)
        self.estop_edges = 0
        self._estop_seen = False  # an edge since the last re-arm: no faster head-down
        self._last_rate = 0
        self._estop_cb = self._estop_isr  # bound once: no allocation when re-arming
        self.estop_rearm()
        # IMU; a missing sensor is reported through Inputs.imu_error, never raised here.
        self.i2c = machine.I2C(0, scl=machine.Pin(pins.SCL), sda=machine.Pin(pins.SDA),
                               freq=_I2C_FREQ, timeout=_I2C_TIMEOUT_US)
        self.imu = imu_driver(self.i2c, params["imu"])
        self._imu_ok = False
        # Console: Ctrl-C arrives as a byte (firmware/console.py turns it into
        # KeyboardInterrupt between ticks), never as an exception in the middle of one.
        micropython.kbd_intr(-1)
        import select

        self._poll = select.poll()
        self._poll.register(sys.stdin, select.POLLIN)
        self._stdin = sys.stdin.buffer
        self._one = bytearray(1)
        self._wdt = None
        self._blink_ms = 0

    # ---------------------------------------------------------------- time

    def ticks_ms(self):
        return time.ticks_ms()  # pyright: ignore[reportAttributeAccessIssue]

    def wait_until(self, t_ms):
        """Sleep until t_ms; scheduled callbacks (the e-stop IRQ) run meanwhile."""
        d = time.ticks_diff(t_ms, time.ticks_ms())  # pyright: ignore[reportAttributeAccessIssue]
        if d > 0:
            time.sleep_ms(d)  # pyright: ignore[reportAttributeAccessIssue]

    # -------------------------------------------------------------- inputs

    def _estop_isr(self, pin):
        # Scheduled (soft) callback: record, flag, disarm. No allocation. Edges during a
        # C call each queue a call before the first can disarm the IRQ: one per arming.
        if self._estop_seen:
            return
        self.estop_edges += 1
        self._estop_seen = True
        pin.irq(handler=None)

    def estop_rearm(self):
        """Re-enable the e-stop IRQ (after the latch was acknowledged)."""
        self._estop_seen = False
        trig = machine.Pin.IRQ_RISING if pins.ESTOP_ACTIVE else machine.Pin.IRQ_FALLING
        self.p_estop.irq(handler=self._estop_cb, trigger=trig)

    def read_inputs(self, inp):
        sw = 0
        if self.p_up.value() == pins.UP_ACTIVE:
            sw |= SW_UP
        if self.p_down.value() == pins.DOWN_ACTIVE:
            sw |= SW_DOWN
        if self.p_start.value() == pins.START_ACTIVE:
            sw |= SW_START
        if self.p_estop.value() == pins.ESTOP_ACTIVE:
            sw |= SW_ESTOP
        if self.p_home.value() == pins.HOME_ACTIVE:
            sw |= SW_HOME
        if self.p_over.value() == pins.OVERTRAVEL_ACTIVE:
            sw |= SW_OVERTRAVEL
        if self.p_ankle.value() == pins.ANKLE_LOCK_ACTIVE:
            sw |= SW_ANKLE_LOCK
        inp.switches = sw
        inp.estop_edges = self.estop_edges
        inp.step_count = self.stepgen.count()
        inp.stepgen_fault = self.stepgen.fault
        imu = self.imu
        if not self._imu_ok:
            try:
                if imu is None:
                    raise ValueError
                imu.init()
                self._imu_ok = True
            except (OSError, ValueError):
                inp.imu_error = _ENODEV  # absent or wrong part: the estimator counts it
                return
        imu.read_into(inp)  # pyright: ignore[reportOptionalMemberAccess]
        if inp.imu_error:
            self._imu_ok = inp.imu_error not in (_ENODEV, _EIO)  # re-initialise a vanished sensor

    # ------------------------------------------------------------- outputs

    def apply_outputs(self, out):
        rate = out.rate_sps
        if self._estop_seen and rate > 0 and rate > self._last_rate:
            rate = self._last_rate if self._last_rate > 0 else 0
        self._last_rate = rate
        self.stepgen.apply(rate, out.limit_lo, out.limit_hi, out.enable)
        self._blink_ms = (self._blink_ms + 10) % 1000
        self.led.value(self._level(out.led) ^ (1 - pins.LED_ACTIVE))
        self.buzzer.value(self._level(out.buzzer) ^ (1 - pins.BUZZER_ACTIVE))
        if out.estop_rearm:
            self.estop_rearm()

    def _level(self, pattern):
        t = self._blink_ms
        if pattern == IND_STEADY:
            return 1
        if pattern == IND_SLOW:
            return 1 if t < 500 else 0
        if pattern == IND_FAST:
            return 1 if t % 250 < 125 else 0
        if pattern == IND_ALARM:
            return 1 if t % 500 < 350 else 0
        return 0

    # ------------------------------------------------------------- console

    def console_read_into(self, buf):
        """Non-blocking: the bytes waiting on USB, at most len(buf). Allocation-free:
        ipoll() yields without building a list, readinto() fills a preallocated byte."""
        n = 0
        one = self._one
        while n < len(buf):
            ready = False
            for _ in self._poll.ipoll(0):
                ready = True
            if not ready or not self._stdin.readinto(one):
                break
            buf[n] = one[0]
            n += 1
            if one[0] == 3:
                break  # Ctrl-C: hand it to the console before reading on
        return n

    def console_write(self, data):
        sys.stdout.write(data)

    # ------------------------------------------------- watchdog and resets

    def wdt_arm(self, timeout_ms):
        self._wdt = machine.WDT(timeout=timeout_ms)

    def wdt_feed(self):
        if self._wdt is not None:
            self._wdt.feed()

    def reset_cause(self):
        return machine.reset_cause()

    def reset(self):
        machine.reset()

    def maintenance_requested(self):
        """The flag file the console's `maintenance <pin>` left: consumed (one service
        boot per request). The buttons held at power-up are read by firmware/powerup.py."""
        try:
            import os

            os.remove(MAINTENANCE_FLAG)
            return True
        except OSError:
            return False

    def maintenance_banner(self):
        """The service mode: driver off, the REPL's keyboard interrupt back on."""
        self.stepgen.deinit()
        micropython.kbd_intr(3)
        print(SERVICE_BANNER)

    def enter_maintenance(self):
        with open(MAINTENANCE_FLAG, "w") as f:
            f.write("pin")
        machine.reset()
